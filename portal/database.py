"""The database layer's helpers: prefixed ids, UTC timestamps, transactions, SQLite and
Alembic setup. Money is portal/money.py; how values look in JSON is portal/fields.py."""
import secrets
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import sqlalchemy as sa

from portal.extensions import db


def new_id(prefix: str) -> str:
    """An opaque id with a type prefix, e.g. ``tkt_5f1c…`` (128 random bits)."""
    return f"{prefix}_{secrets.token_hex(12)}"


def one_of(column: str, values) -> str:
    """The text of a CHECK constraint keeping ``column`` to ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def id_column(prefix: str):
    """A string primary key filled with a fresh prefixed id."""
    return sa.Column(sa.String(40), primary_key=True, default=lambda: new_id(prefix))


def utcnow() -> datetime:
    """The current time, UTC, without tzinfo (stored as naive UTC everywhere)."""
    now = datetime.now(timezone.utc)
    # Millisecond precision: what the API prints is exactly what is stored (cursors compare it).
    return now.replace(tzinfo=None, microsecond=now.microsecond // 1000 * 1000)


def _same_as_created(context):
    # A new row's updated_at is exactly its created_at, not a clock read a moment later.
    return context.get_current_parameters().get("created_at") or utcnow()


class TimestampMixin:
    """created_at / updated_at columns in naive UTC."""

    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=_same_as_created, onupdate=utcnow)


@contextmanager
def atomic(keep_loaded=False):
    """Run the block as one transaction: commit at its end; on any error roll back and re-raise
    (no half-written change, and no row lock kept while the error travels up).

    ``keep_loaded``: the objects keep the state this transaction wrote instead of expiring at
    the commit, so an answer built from them shows this change, never reloading one that
    another request committed in between.
    """
    session = db.session()
    try:
        yield
        session.expire_on_commit = not keep_loaded
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.expire_on_commit = True


@contextmanager
def read_only():
    """Run reads, then end the transaction. On SQLite every transaction holds the write lock from
    its BEGIN (configure_sqlite), so a read must not keep one open across slow work that follows
    (a password hash, a Redis call, an enqueue)."""
    try:
        yield
    finally:
        db.session.rollback()


def insert_for(table):
    """An INSERT with ``on_conflict_do_nothing`` for the session's database (PostgreSQL or SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def alembic_render_item(type_, obj, autogen_context):
    """Render the Money type as plain Numeric(12, 2) in migration scripts."""
    from portal.money import Money
    if type_ == "type" and isinstance(obj, Money):
        return "sa.Numeric(precision=12, scale=2)"
    return False


def ping_idle_connections(engine, idle_s: float):
    """Ping a pooled connection at checkout only when it sat idle for more than ``idle_s``.

    ``pool_pre_ping`` pings at every checkout: one more round trip per request (a twentieth of a
    read's CPU). A connection in steady use is known to work; one that sat idle may have lost
    its backend (a restart, a failover, an idle timeout) and is pinged with the dialect's own
    ping; a dead one raises DisconnectionError, on which the pool discards it and connects
    again (SQLAlchemy's "custom pessimistic" pattern). A backend lost while its connection is
    in use fails that request (503, portal/errors.py) and SQLAlchemy refreshes the whole pool.
    """
    @sa.event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record):
        record.info["portal.idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):
        since = record.info.get("portal.idle_since")
        if since is not None and time.monotonic() - since <= idle_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise sa.exc.DisconnectionError()


def configure_sqlite(engine, wait_s=30.0):
    """SQLite as a safe default: WAL, foreign keys, and BEGIN IMMEDIATE so writers queue.

    pysqlite's deferred BEGIN lets two transactions read and then both try to write, and one
    fails at once with "database is locked"; taking the write lock at BEGIN makes concurrent
    writers wait their turn instead, which gives counters and compare-and-set the same meaning
    they have on PostgreSQL. The wait is a Python loop with time.sleep, not SQLite's busy
    timeout: SQLite waits inside C, which under gevent stops every greenlet of the process,
    including the one holding the lock (the web worker then hangs until gunicorn kills it).
    """
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Only BEGIN contends for the lock; any other wait stays short so it cannot stall gevent.
        cursor.execute("PRAGMA busy_timeout=200")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection):
        deadline = time.monotonic() + wait_s
        pause = 0.001
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)  # cooperative under gevent; lets the lock holder finish
            pause = min(pause * 2, 0.02)
