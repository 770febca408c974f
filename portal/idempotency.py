"""Idempotency-Key for every authenticated POST (docs/API.md): a change and its answer commit
together.

The key row is inserted first, as IN_FLIGHT, in its own transaction: a concurrent request with the
same key hits the unique constraint and gets a replay (DONE), 422 (other body) or 409 (in flight).
The request then runs inside one outer transaction on a connection of its own: the services'
commits only release savepoints in it, and the answer is written to the key row (IN_FLIGHT →
DONE) in that same transaction before it commits. So either the change and its stored answer are
both durable, or neither is, and a retry replays the answer or runs the request afresh; a change
is never applied twice, however late the retry. The answer is stored inside the app's dispatch,
where its error handlers see every failure: a lost database connection is a 503
``database_unavailable``, and the key is released for the retry.
"""
import hashlib
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import Response, current_app, g, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.auth.principal import optional_principal
from portal.database import id_column, new_id, utcnow
from portal.errors import BadRequest, Conflict, ValidationFailed
from portal.events import enqueue
from portal.extensions import db
from portal.routes import marked

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"


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


class _Claim:
    """A claimed key and the request's outer transaction (its own connection and session)."""

    def __init__(self, row_id):
        self.row_id = row_id
        self.connection = db.engine.connect()
        self.transaction = self.connection.begin()
        # Held until the outer transaction ends, however it ends (a lost connection included:
        # the server then rolls back and lets go). A retry that finds the key IN_FLIGHT and can
        # lock the row knows its request is gone (on SQLite the outer transaction holds the
        # whole database, so a retry only ever sees the key after it ended).
        self.connection.execute(sa.select(IdempotencyKey.id).where(
            IdempotencyKey.id == row_id).with_for_update())
        self.session = Session(bind=self.connection, join_transaction_mode="create_savepoint")
        enqueue.hold(self.session)  # the deliveries are sent once the outer transaction commits

    def store_and_commit(self, response) -> bool:
        """Write the answer on the key row and commit everything; False if the key was taken
        over meanwhile (then nothing is committed)."""
        self.session.flush()
        updated = self.session.execute(sa.update(IdempotencyKey).where(
            IdempotencyKey.id == self.row_id, IdempotencyKey.state == "IN_FLIGHT").values(
            state="DONE", response_status=response.status_code,
            response_body=response.get_data(as_text=True), response_mimetype=response.mimetype,
            completed_at=utcnow()))
        if updated.rowcount != 1:
            return False
        self.session.commit()
        self.transaction.commit()
        enqueue.release(self.session)
        return True

    def close(self) -> None:
        """Roll back whatever was not committed and give the connection back (never raises)."""
        try:
            self.session.close()
            if self.transaction.is_active:
                self.transaction.rollback()
        except Exception:  # a connection that is gone has nothing left to undo
            pass
        finally:
            try:
                self.connection.close()
            except Exception:
                pass


def _valid_key(key: str) -> bool:
    return 1 <= len(key) <= 255 and all(32 <= ord(ch) <= 126 for ch in key)


def _request_hash() -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.get_data(cache=True)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _claim(user_id: str, key: str, request_hash: str):
    """Insert the key as IN_FLIGHT; return (row id, None) when claimed, else (None, the row).

    The row is None when it went between our insert and our read (taken over or released).
    """
    row_id = new_id("idk")
    db.session.add(IdempotencyKey(id=row_id, user_id=user_id, key=key, method=request.method,
                                  path=request.path, request_hash=request_hash))
    try:
        db.session.commit()
        return row_id, None
    except IntegrityError:
        db.session.rollback()
    existing = db.session.execute(db.select(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)).scalar_one_or_none()
    if existing is not None:
        db.session.expunge(existing)  # keeps what was read through the rollback below
    db.session.rollback()  # end the read: on SQLite it holds the write lock
    return None, existing


def _replay(row) -> Response:
    response = Response(row.response_body, status=row.response_status,
                        mimetype=row.response_mimetype or "application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


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
        row_id, existing = _claim(user_id, key, request_hash)
        if row_id is not None:
            db.session.close()
            g.idempotency = _Claim(row_id)
            db.session.registry.set(g.idempotency.session)  # the view runs in the outer one
            return None
        if existing is None:
            continue  # freed meanwhile: try to claim it again, never run unclaimed
        if existing.request_hash != request_hash:
            raise ValidationFailed("This Idempotency-Key was used with another request.",
                                   code="idempotency_key_reused")
        if existing.state == "DONE":
            return _replay(existing)
        if not _take_over(existing.id):
            raise Conflict("A request with this Idempotency-Key is still running.",
                           code="idempotency_key_in_flight")
    raise Conflict("A request with this Idempotency-Key is still running.",
                   code="idempotency_key_in_flight")


def _take_over(row_id) -> bool:
    """Free an IN_FLIGHT key whose request is gone (nothing of it was committed: its answer
    commits with its change); False while that request still runs and holds the row's lock.

    Safe even in the moment between a claim and its lock: the claiming request's answer is
    stored only if the row it claimed is still IN_FLIGHT, so after a takeover it rolls back.
    Concurrent retries may all try; the claim that follows lets exactly one of them have it."""
    free = db.session.execute(sa.select(IdempotencyKey.id).where(
        IdempotencyKey.id == row_id, IdempotencyKey.state == "IN_FLIGHT")
        .with_for_update(skip_locked=True)).scalar_one_or_none()
    if free is None:
        db.session.rollback()
        state = db.session.execute(sa.select(IdempotencyKey.state).where(
            IdempotencyKey.id == row_id)).scalar_one_or_none()
        db.session.rollback()
        return state != "IN_FLIGHT"  # gone or answered meanwhile: claim again
    db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
    db.session.commit()
    return True


def _release(row_id) -> None:
    """Free a key whose request committed nothing, so that a retry runs it at once (best effort:
    if the database is gone the next retry finds the row unlocked and takes it over)."""
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.delete(IdempotencyKey).where(
                IdempotencyKey.id == row_id, IdempotencyKey.state == "IN_FLIGHT"))
    except Exception as exc:
        log.warning("could not release idempotency key %s: %s", row_id, exc)


def _finish(claim: _Claim, response) -> None:
    """Commit the change with its answer, or undo it and free the key; raises what failed."""
    try:
        if response.status_code >= 500 or response.status_code == 429:
            return  # not an answer worth replaying: undone below, the client retries
        if not claim.store_and_commit(response):
            raise Conflict("A retry with this Idempotency-Key took it over; its answer stands.",
                           code="idempotency_key_in_flight")
    finally:
        _end(claim)


def _dispatch(original):
    """The app's dispatch, then the claimed key's answer stored where errors are handled."""

    def dispatch_request():
        claim = g.pop("idempotency", None)
        if claim is None:
            return original()
        try:
            try:
                rv = original()
            except Exception as exc:  # the app's own handlers make the answer that is stored
                rv = current_app.handle_user_exception(exc)
            response = current_app.make_response(rv)
        except BaseException:
            _end(claim)
            raise
        _finish(claim, response)
        return response
    return dispatch_request


def _end(claim: _Claim) -> None:
    """Close the outer transaction (undoing what it did not commit), hand what runs next an
    ordinary session, and free the key unless its answer was stored."""
    claim.close()
    db.session.registry.clear()
    _release(claim.row_id)  # deletes only a row still IN_FLIGHT: never a stored answer


def _teardown(exc):
    claim = g.pop("idempotency", None)
    if claim is not None:  # dispatch never ran (an error in a later before_request hook)
        _end(claim)


def purge_expired(now=None) -> int:
    """Delete keys older than IDEMPOTENCY_TTL_H hours; return how many went."""
    cutoff = (now or utcnow()) - timedelta(hours=current_app.config["IDEMPOTENCY_TTL_H"])
    result = db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    db.session.commit()
    return result.rowcount or 0


def init_app(app):
    """Claim keys before every POST and store answers inside the app's dispatch."""
    app.before_request(_before)
    app.dispatch_request = _dispatch(app.dispatch_request)
    app.teardown_request(_teardown)
