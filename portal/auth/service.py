"""Auth rules: check credentials, look up the caller, end a session."""
from werkzeug.security import check_password_hash, generate_password_hash

from portal.auth import revocations
from portal.auth.models import User
from portal.auth.tokens import is_session_revoked
from portal.database import read_only
from portal.errors import NotFound, TokenRevoked, Unauthorized
from portal.extensions import db

# Compared against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def authenticate(email: str, password: str) -> User:
    """Return the user for these credentials or raise Unauthorized (same answer for both faults)."""
    # The hash check is deliberately slow: hold no transaction (on SQLite, the write lock every
    # other request waits for) while it runs. The detached user keeps what was loaded.
    with read_only():
        user = db.session.execute(
            db.select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
        if user is not None:
            db.session.expunge(user)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        raise Unauthorized("Email or password is wrong.", code="invalid_credentials")
    if not user.check_password(password):
        raise Unauthorized("Email or password is wrong.", code="invalid_credentials")
    return user


def get_user(principal) -> User:
    """The caller's own user row."""
    user = db.session.get(User, principal.user_id)
    if user is None:
        raise NotFound("The token's user no longer exists.")
    return user


def user_names(user_ids) -> dict:
    """{user id: name} for these users (who did what, on a timeline the caller may see)."""
    ids = sorted({user_id for user_id in user_ids if user_id})
    if not ids:
        return {}
    return dict(db.session.execute(db.select(User.id, User.name).where(User.id.in_(ids))).all())


def logout(principal) -> None:
    """Revoke the caller's session: its access and refresh tokens, and its open streams."""
    revocations.revoke(principal.session_id)


def ensure_not_logged_out(session_id) -> None:
    """401 for a refresh of a logged-out session: in Redis (where a logout made while the
    database was down lives alone) or in the database (which outlives a Redis restart)."""
    if is_session_revoked(session_id) or revocations.is_recorded(session_id):
        raise TokenRevoked()
