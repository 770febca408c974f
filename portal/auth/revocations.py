"""Logouts kept durably in the database, with Redis as the copy every request checks.

Redis run without persistence forgets its keys on a restart (an older snapshot, a failover or
an eviction can lose some of them), and a forgotten logout would make the session's tokens valid
again. So a logout is written to ``revoked_sessions`` first and kept until its refresh token
would have expired; every refresh reads that table; and the beat re-asserts in Redis, every
REVOCATION_RESTORE_S, the logouts recent enough for an access token of theirs to be alive,
closing the streams of any session whose key Redis had lost.
"""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from portal.auth import tokens
from portal.auth.models import RevokedSession
from portal.database import read_only, utcnow
from portal.extensions import db, redis_client


def revoke(session_id: str) -> None:
    """Log a session out everywhere: the durable row, then Redis and its open streams."""
    now = utcnow()
    # Kept while a refresh token of the session could still be presented.
    kept = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"] + timedelta(seconds=60)
    try:
        if db.session.get(RevokedSession, session_id) is None:
            db.session.add(RevokedSession(session_id=session_id, revoked_at=now,
                                          expires_at=now + kept))
        db.session.commit()
    except IntegrityError:  # the same session logged out concurrently: it is recorded
        db.session.rollback()
    except SQLAlchemyError:
        # The database is down: Redis alone remembers it, as long as the table would have.
        db.session.rollback()
        tokens.revoke_session(session_id, remember=kept)
        raise
    tokens.revoke_session(session_id)


def is_recorded(session_id) -> bool:
    """Whether the database holds a live revocation of this session (for refreshes)."""
    if not session_id:
        return True
    with read_only():
        found = db.session.execute(sa.select(RevokedSession.session_id).where(
            RevokedSession.session_id == session_id, RevokedSession.expires_at > utcnow())).first()
    return found is not None


def restore() -> int:
    """Re-assert in Redis every logout an access token may still outlive; how many Redis had
    lost (their sessions' streams opened meanwhile are told to close)."""
    now = utcnow()
    window = tokens.revocation_window()
    with read_only():
        rows = db.session.execute(sa.select(RevokedSession.session_id, RevokedSession.revoked_at)
                                  .where(RevokedSession.revoked_at > now - window)).all()
    if not rows:
        return 0
    pipe = redis_client.conn.pipeline(transaction=False)
    for session_id, revoked_at in rows:
        tokens.mark_revoked(pipe, session_id, (revoked_at + window - now).total_seconds(),
                            only_if_missing=True)
    lost = [session_id for (session_id, _at), was_set in zip(rows, pipe.execute()) if was_set]
    for session_id in lost:
        tokens.close_streams_of(session_id)
    return len(lost)


def purge_expired() -> int:
    """Delete revocations whose refresh tokens have expired anyway; how many went."""
    result = db.session.execute(sa.delete(RevokedSession).where(
        RevokedSession.expires_at <= utcnow()))
    db.session.commit()
    return result.rowcount or 0
