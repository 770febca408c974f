"""Idempotency-Key for every authenticated POST (docs/API.md).

The key row is inserted first, as IN_FLIGHT, in its own transaction: a concurrent request with the
same key hits the unique constraint and gets a replay (DONE), 422 (other body) or 409 (in flight).
After the view answers, the response is stored on the row so that retries replay it.
"""
import hashlib
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import Response, current_app, g, request
from sqlalchemy.exc import IntegrityError

from portal.auth.principal import optional_principal
from portal.database import id_column, new_id, utcnow
from portal.errors import BadRequest, Conflict, ValidationFailed
from portal.extensions import db
from portal.routes import marked

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
# Unauthenticated POSTs have their own protection (login throttling, webhook dedup).
# A request that died without storing its answer frees its key after this long.
STALE_IN_FLIGHT = timedelta(minutes=5)


class IdempotencyKey(db.Model):
    """One key per user: the request it was first used for and the answer it got."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)
    id = id_column("idk")
    user_id = sa.Column(sa.String(40), nullable=False)
    key = sa.Column(sa.String(255), nullable=False)
    method = sa.Column(sa.String(10), nullable=False)
    path = sa.Column(sa.String(500), nullable=False)
    request_hash = sa.Column(sa.String(64), nullable=False)
    state = sa.Column(sa.String(12), nullable=False, default="IN_FLIGHT")
    response_status = sa.Column(sa.Integer, nullable=True)
    response_body = sa.Column(sa.Text, nullable=True)
    response_mimetype = sa.Column(sa.String(100), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)
    completed_at = sa.Column(sa.DateTime, nullable=True)


def _valid_key(key: str) -> bool:
    return 1 <= len(key) <= 255 and all(32 <= ord(ch) <= 126 for ch in key)


def _request_hash() -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.get_data(cache=True)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _claim(user_id: str, key: str, request_hash: str):
    """Insert the key as IN_FLIGHT; return (True, None) when claimed, else (False, the row).

    The row is None when it went between our insert and our read (taken over or released).
    """
    row_id = new_id("idk")
    db.session.add(IdempotencyKey(id=row_id, user_id=user_id, key=key, method=request.method,
                                  path=request.path, request_hash=request_hash))
    try:
        db.session.commit()
        # The id was chosen before the commit: reading row.id now would reload the row and open
        # a transaction (on SQLite a write lock) that the view would hold across its Redis calls.
        g.idempotency_row_id = row_id
        return True, None
    except IntegrityError:
        db.session.rollback()
    return False, db.session.execute(db.select(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)).scalar_one_or_none()


def _before():
    if request.method != "POST" or marked("no_idempotency"):
        return None
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _valid_key(key):
        raise BadRequest("Idempotency-Key must be 1-255 printable ASCII characters.",
                         code="invalid_idempotency_key")
    principal = optional_principal()  # verified once: the view reuses it
    if principal is None:
        return None  # the view answers 401; nothing to remember
    user_id, request_hash = principal.user_id, _request_hash()
    for _attempt in range(3):
        claimed, existing = _claim(user_id, key, request_hash)
        if claimed:
            return None
        if existing is None:
            continue  # freed meanwhile: try to claim it again, never run unclaimed
        if existing.request_hash != request_hash:
            raise ValidationFailed("This Idempotency-Key was used with another request.",
                                   code="idempotency_key_reused")
        if existing.state == "DONE":
            response = Response(existing.response_body, status=existing.response_status,
                                mimetype=existing.response_mimetype or "application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        if utcnow() - existing.created_at < STALE_IN_FLIGHT:
            raise Conflict("A request with this Idempotency-Key is still running.",
                           code="idempotency_key_in_flight")
        # Abandoned by a crashed request: free it (only that stale row; concurrent retries may
        # all try, and the claim above lets exactly one of them have it).
        db.session.execute(sa.delete(IdempotencyKey).where(
            IdempotencyKey.id == existing.id, IdempotencyKey.state == "IN_FLIGHT"))
        db.session.commit()
    raise Conflict("A request with this Idempotency-Key is still running.",
                   code="idempotency_key_in_flight")


def _after(response):
    row_id = g.pop("idempotency_row_id", None)
    if row_id is None:
        return response
    db.session.rollback()
    row = db.session.get(IdempotencyKey, row_id)
    if row is None:
        return response
    if response.status_code >= 500 or response.status_code in (429, 503):
        db.session.delete(row)  # not an answer worth replaying: let the client retry
    else:
        row.state = "DONE"
        row.response_status = response.status_code
        row.response_body = response.get_data(as_text=True)
        row.response_mimetype = response.mimetype
        row.completed_at = utcnow()
    db.session.commit()
    return response


def _teardown(exc):
    row_id = g.pop("idempotency_row_id", None)
    if row_id is None or exc is None:
        return
    try:
        db.session.rollback()
        row = db.session.get(IdempotencyKey, row_id)
        if row is not None:
            db.session.delete(row)
            db.session.commit()
    except Exception:  # the database itself failed: the key frees itself when stale
        log.exception("could not release idempotency key %s", row_id)


def purge_expired(now=None) -> int:
    """Delete keys older than IDEMPOTENCY_TTL_H hours; return how many went."""
    cutoff = (now or utcnow()) - timedelta(hours=current_app.config["IDEMPOTENCY_TTL_H"])
    result = db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    db.session.commit()
    return result.rowcount or 0


def init_app(app):
    """Register the key check before, and the answer's storage after, every POST."""
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)
