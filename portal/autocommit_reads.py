"""The reads of a GET or HEAD request run without a transaction, on PostgreSQL.

A transaction costs a read two round trips of its own: psycopg sends ``BEGIN`` before the first
query and the session's end sends ``ROLLBACK``. For a detail read that is about a tenth of its
CPU (docs/PERFORMANCE.md). It buys a read nothing here: under PostgreSQL's READ COMMITTED
every statement sees its own snapshot, inside a transaction or not.

So the connection of a GET or HEAD request is put in autocommit mode when its transaction begins,
unless the database's default level is not READ COMMITTED or the request asked for a level of its
own. The mode ends at the first statement that is not a plain read: a write, a locking read (``FOR
UPDATE`` anywhere in it), a CTE, a text statement, a streamed read or a savepoint. psycopg then
sends ``BEGIN`` before that statement. From there on the request works exactly as any other: its
writes commit together or roll back together, and its locks are held until the end. The connection
goes back to the pool in its usual mode.

SQLite is left as it is. Its transactions are begun explicitly (``configure_sqlite``).
"""
import re

import sqlalchemy as sa
from flask import has_request_context, request
from psycopg.pq import TransactionStatus

READ_METHODS = frozenset(("GET", "HEAD"))
_MARK = "portal.autocommit_read"


# A row lock anywhere in the statement (a subquery's too) must last until the end.
_LOCKING = re.compile(r"\bFOR\s+(UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b", re.IGNORECASE)


def is_plain_read(context) -> bool:
    """Whether the statement about to run is a SELECT that takes no lock and writes nothing:
    compiled from a select (not text, not a CTE, which may hold a write), with no locking
    clause, and read at once (a server-side cursor needs a transaction). A function with effects
    that last until the transaction's end (``pg_advisory_xact_lock``) is called in a text
    statement, which always begins one."""
    compiled = context.compiled
    if compiled is None or context.is_text \
            or context.execution_options.get("stream_results"):
        return False
    if not isinstance(compiled.statement, (sa.Select, sa.CompoundSelect)):
        return False
    sql = compiled.string
    return sql.startswith("SELECT") and _LOCKING.search(sql) is None


def install(engine) -> None:
    """Run the reads of GET and HEAD requests on ``engine`` (PostgreSQL) in autocommit mode."""

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        if not has_request_context() or request.method not in READ_METHODS:
            return
        if conn.dialect.default_isolation_level != "READ COMMITTED" \
                or "isolation_level" in conn.get_execution_options():
            return  # reads that share a snapshot, or a level asked for: a real transaction
        dbapi_connection = conn.connection.dbapi_connection
        if not dbapi_connection.autocommit and not _in_transaction(dbapi_connection):
            dbapi_connection.autocommit = True
            conn.info[_MARK] = True

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before_cursor_execute(conn, _cursor, _statement, _parameters, context, _many):
        if conn.info.get(_MARK) and not is_plain_read(context):
            # Idle in autocommit mode, so the switch is allowed; psycopg sends BEGIN first.
            conn.connection.dbapi_connection.autocommit = False
            del conn.info[_MARK]

    @sa.event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, record):
        if record.info.pop(_MARK, None) and dbapi_connection is not None \
                and not dbapi_connection.closed:
            try:
                dbapi_connection.autocommit = False
            except Exception as exc:  # not idle after all: never hand it out in autocommit
                record.invalidate(exc)


def _in_transaction(dbapi_connection) -> bool:
    return dbapi_connection.info.transaction_status != TransactionStatus.IDLE
