"""The caller as a principal, built from the verified token's claims (no database query)."""
import functools
from dataclasses import dataclass
from typing import Optional

from flask import request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from portal.errors import Unauthorized
from portal.events import audience
from portal.roles import OPS, ROLES


@dataclass(frozen=True)
class Principal:
    """Who is calling: user id, role and the organisation ids the role belongs to."""

    user_id: str
    role: str
    landlord_id: Optional[str] = None
    tenant_id: Optional[str] = None
    contractor_id: Optional[str] = None
    session_id: Optional[str] = None
    expires_at: Optional[int] = None

    @classmethod
    def from_claims(cls, claims: dict) -> "Principal":
        """Build the principal from a decoded token (401 if it lacks who or what the caller is)."""
        if not claims.get("sub") or claims.get("role") not in ROLES:
            raise Unauthorized("The token does not name a user and role.", code="invalid_token")
        return cls(user_id=claims["sub"], role=claims["role"],
                   landlord_id=claims.get("landlordId"), tenant_id=claims.get("tenantId"),
                   contractor_id=claims.get("contractorId"), session_id=claims.get("sid"),
                   expires_at=claims.get("exp"))

    @classmethod
    def from_user(cls, user) -> "Principal":
        """Build the principal from a User row (tasks, the CLI, tests)."""
        return cls(user_id=user.id, role=user.role, landlord_id=user.landlord_id,
                   tenant_id=user.tenant_id, contractor_id=user.contractor_id)

    @property
    def is_ops(self) -> bool:
        return self.role == OPS

    def audience_keys(self) -> frozenset:
        """The audience keys this principal matches (portal/events/audience.py)."""
        return audience.principal_keys(self)


_KEY = "portal.principal"


def current_principal(skip_revocation_check: bool = False) -> Principal:
    """The authenticated caller of this request (raises the JWT errors when there is none).

    The token is verified once per request (signature, expiry, revocation in Redis) and the
    principal kept in the request's environ (not on ``g``, which a test's app context shares
    between requests): hooks and views that ask again reuse it. ``skip_revocation_check``
    is for a caller that checks revocation itself at a better moment (the event stream, once
    subscribed); its unchecked principal is never kept for others.
    """
    principal = request.environ.get(_KEY)
    if principal is not None:
        return principal
    if verify_jwt_in_request(skip_revocation_check=skip_revocation_check) is None:
        # flask-jwt-extended checks no token on OPTIONS; there is no caller to speak of.
        raise Unauthorized("A valid access token is required.")
    principal = Principal.from_claims(get_jwt())
    if not skip_revocation_check:
        request.environ[_KEY] = principal
    return principal


def verified_principal() -> Optional[Principal]:
    """The caller this request has already verified, or None (never checks a token itself)."""
    return request.environ.get(_KEY)


def optional_principal() -> Optional[Principal]:
    """The caller when the request carries a token (verified as above), else None."""
    principal = request.environ.get(_KEY)
    if principal is None:
        verify_jwt_in_request(optional=True)
        claims = get_jwt()
        if not claims:
            return None
        principal = request.environ[_KEY] = Principal.from_claims(claims)
    return principal


def authenticated(view=None, *, check=None):
    """Check the token (then ``check(principal)``, e.g. a role gate) before the body is read: a
    caller without one learns nothing, not even a 422. ``@authenticated`` or
    ``@authenticated(check=...)``; the view asks ``caller()`` who it is."""
    def decorate(inner):
        @functools.wraps(inner)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            if check is not None:
                check(principal)
            return inner(*args, **kwargs)
        return wrapper
    return decorate(view) if view is not None else decorate


def caller() -> Principal:
    """The principal ``authenticated`` already verified (no second token check)."""
    return current_principal()
