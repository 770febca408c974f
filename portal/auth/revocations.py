"""Logouts kept durably in the database, with Redis as the copy every request checks.

Redis run without persistence forgets its keys on a restart, and a forgotten logout would make
the session's tokens valid again (a refresh token for 30 days). So a logout is written to
``revoked_sessions`` first; refreshes, which are rare, also consult that table; and the beat
puts every live revocation back into Redis after a restart (a sentinel key tells it when).
"""
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.auth import tokens
from portal.auth.models import RevokedSession
from portal.database import utcnow
from portal.extensions import db, redis_client


def revoke(session_id: str) -> None:
    """Log a session out everywhere: the durable row, then Redis and its open streams."""
    now = utcnow()
    if db.session.get(RevokedSession, session_id) is None:
        db.session.add(RevokedSession(session_id=session_id, revoked_at=now,
                                      expires_at=now + tokens.revocation_ttl()))
    try:
        db.session.commit()
    except IntegrityError:  # the same session logged out concurrently: it is recorded
        db.session.rollback()
    tokens.revoke_session(session_id)


def is_recorded(session_id) -> bool:
    """Whether the database holds a live revocation of this session (for refreshes)."""
    if not session_id:
        return True
    found = db.session.execute(sa.select(RevokedSession.session_id).where(
        RevokedSession.session_id == session_id, RevokedSession.expires_at > utcnow())).first()
    db.session.rollback()  # a read: hold no transaction (on SQLite, the write lock)
    return found is not None


def _sentinel():
    return redis_client.key("revocations", "restored")


def restore() -> int:
    """Put every live revocation back into Redis if Redis lost them; how many were restored."""
    conn = redis_client.conn
    if conn.exists(_sentinel()):
        return 0
    now = utcnow()
    rows = db.session.execute(sa.select(RevokedSession.session_id, RevokedSession.expires_at)
                              .where(RevokedSession.expires_at > now)).all()
    db.session.rollback()
    pipe = conn.pipeline(transaction=False)
    for session_id, expires_at in rows:
        tokens.mark_revoked(pipe, session_id, (expires_at - now).total_seconds())
    pipe.set(_sentinel(), "1")
    pipe.execute()
    return len(rows)


def purge_expired() -> int:
    """Delete revocations whose refresh tokens have expired anyway; how many went."""
    result = db.session.execute(sa.delete(RevokedSession).where(
        RevokedSession.expires_at <= utcnow()))
    db.session.commit()
    return result.rowcount or 0
