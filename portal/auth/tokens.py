"""Token issue, revocation (kept in Redis) and the JWT error callbacks in the error shape."""
import secrets
from datetime import timedelta

from flask import current_app
from flask_jwt_extended import (create_access_token, create_refresh_token, set_access_cookies,
                                set_refresh_cookies)

from portal.errors import TokenRevoked, error_response
from portal.extensions import jwt, redis_client


def user_claims(user) -> dict:
    """The claims a token carries about its user: enough to authorize without a query."""
    return {"role": user.role, "landlordId": user.landlord_id, "tenantId": user.tenant_id,
            "contractorId": user.contractor_id}


def issue_tokens(user, session_id=None) -> dict:
    """A fresh access and refresh token sharing one session id (revoked together on logout)."""
    session_id = session_id or secrets.token_hex(12)
    claims = {**user_claims(user), "sid": session_id}
    return {
        "access_token": create_access_token(identity=user.id, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=user.id, additional_claims=claims),
        "sessionId": session_id,
    }


def set_session_cookies(response, tokens: dict):
    """Set the login's HttpOnly cookies (and their readable CSRF twins) on ``response``."""
    set_access_cookies(response, tokens["access_token"])
    set_refresh_cookies(response, tokens["refresh_token"])
    return response


def revoked_key(session_id):
    return redis_client.key("revoked", "sid", session_id)


def revocation_window() -> timedelta:
    """How long Redis must remember a logout: while an access token issued before it can live.

    Refresh tokens live longer, but every refresh also reads the durable record
    (portal/auth/revocations.py), so Redis needs only the access tokens' lifetime.
    """
    return current_app.config["JWT_ACCESS_TOKEN_EXPIRES"] + timedelta(seconds=60)


def mark_revoked(conn, session_id: str, ttl_s: float, only_if_missing=False) -> None:
    """Set the Redis copy every token check reads (``conn``: the client or a pipeline)."""
    conn.set(revoked_key(session_id), "1", ex=max(int(ttl_s), 1), nx=only_if_missing)


def close_streams_of(session_id: str) -> None:
    """Open event streams of this session hear it through the stream and close within seconds."""
    from portal.events import audience
    from portal.events.redis_stream import append_control
    append_control("session_revoked", audience.session(session_id))


def revoke_session(session_id: str, remember: timedelta = None) -> None:
    """Revoke every token of a login session in Redis, and close its open event streams.

    The durable record is written first, by portal/auth/revocations.py; without it (the
    database was down) the caller asks Redis to ``remember`` for the refresh tokens' lifetime.
    """
    ttl = remember or revocation_window()
    mark_revoked(redis_client.conn, session_id, ttl.total_seconds())
    close_streams_of(session_id)


def is_session_revoked(session_id) -> bool:
    """True when the session was logged out (tokens without a session are never accepted)."""
    if not session_id:
        return True
    return bool(redis_client.conn.exists(revoked_key(session_id)))


def revoked_sessions(session_ids) -> list:
    """:func:`is_session_revoked` for several sessions, in one round trip."""
    pipe = redis_client.conn.pipeline(transaction=False)
    for session_id in session_ids:
        pipe.exists(revoked_key(session_id))
    return [bool(found) for found in pipe.execute()]


def init_app(app):
    """Register the revocation check and the JWT error callbacks."""

    @jwt.token_in_blocklist_loader
    def _revoked(_header, payload):
        return is_session_revoked(payload.get("sid"))

    @jwt.unauthorized_loader
    def _missing(reason):
        return error_response(401, "unauthorized", "A valid access token is required.",
                              {"token": [reason]})

    @jwt.invalid_token_loader
    def _invalid(reason):
        if reason.startswith("Bad Authorization header"):
            return error_response(400, "malformed_header", reason)
        return error_response(401, "invalid_token", "The token is not valid.", {"token": [reason]})

    @jwt.expired_token_loader
    def _expired(_header, _payload):
        return error_response(401, "token_expired", "The token has expired.")

    @jwt.revoked_token_loader
    def _revoked_response(_header, _payload):
        return error_response(401, TokenRevoked.code, TokenRevoked.message)

    @jwt.user_lookup_error_loader
    def _lookup(_header, _payload):
        return error_response(401, "unauthorized", "The token's user no longer exists.")

    @jwt.token_verification_failed_loader
    def _failed(_header, _payload):
        return error_response(401, "invalid_token", "The token is not valid.")

    @jwt.needs_fresh_token_loader
    def _fresh(_header, _payload):
        return error_response(401, "fresh_token_required", "A fresh login is required.")
