"""A pooled PostgreSQL connection is pinged only after sitting idle (portal/database.py)."""
import time

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from tests.helpers import config_for


def backend_pid():
    return db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()


def terminate(database_url, pid):
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    engine.dispose()
    time.sleep(0.2)


@pytest.fixture
def pg_app(app, database_url, redis_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has no pool to ping")

    def make(idle_s):
        made = create_app("testing", config_for(database_url, redis_url, DB_POOL_SIZE=1,
                                                DB_PING_IDLE_S=idle_s))
        return made
    return make


def test_a_connection_idle_past_the_limit_is_pinged_and_replaced_when_dead(pg_app, database_url):
    app = pg_app(0.1)
    with app.app_context():
        first = backend_pid()
        db.session.remove()  # back to the pool
        terminate(database_url, first)
        time.sleep(0.2)  # idle past 0.1 s: the next checkout pings, finds it dead, reconnects
        second = backend_pid()
        assert second != first
        db.session.remove()
        db.engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(pg_app, database_url):
    app = pg_app(60.0)
    with app.app_context():
        first = backend_pid()
        db.session.remove()
        terminate(database_url, first)
        # Used a moment ago: no ping, so the dead backend shows on the first statement, and the
        # pool is refreshed for the next one.
        with pytest.raises(sa.exc.OperationalError):
            backend_pid()
        db.session.remove()
        assert backend_pid() != first
        db.session.remove()
        db.engine.dispose()
