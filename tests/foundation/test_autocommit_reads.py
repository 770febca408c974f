"""A GET or HEAD request reads without a transaction on PostgreSQL, and anything that is not a
plain read still runs in one (portal/autocommit_reads.py). What each test checks is the state
PostgreSQL itself reports for the request's backend, read from a second connection."""
import pytest
import sqlalchemy as sa

from portal import create_app
from portal.directory.models import Landlord
from portal.extensions import db
from tests.helpers import config_for


@pytest.fixture
def pg_app(app, database_url, redis_url):
    """The suite's database, through a pool of one connection (the next request reuses it)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite keeps its own transactions")
    made = create_app("testing", config_for(database_url, redis_url, DB_POOL_SIZE=1))
    yield made
    with made.app_context():
        db.engine.dispose()


@pytest.fixture
def observer(pg_app, database_url):
    """``state()``: pg_stat_activity's state of the session's backend (``idle`` after an
    autocommitted statement, ``idle in transaction`` inside one), and ``locked(id)``: whether a
    landlord row is locked."""
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")

    class Observer:
        @staticmethod
        def pid():
            return db.session.connection().connection.dbapi_connection.info.backend_pid

        def state(self):
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT state FROM pg_stat_activity WHERE pid = :pid"),
                                    {"pid": self.pid()}).scalar()

        @staticmethod
        def locked(landlord_id) -> bool:
            """Whether another connection finds the row locked (it would have to wait)."""
            with engine.connect() as conn:
                try:
                    conn.execute(sa.text(
                        "SELECT id FROM landlords WHERE id = :id FOR UPDATE NOWAIT"),
                        {"id": landlord_id})
                except sa.exc.OperationalError as exc:
                    assert "could not obtain lock" in str(exc)
                    return True
                return False
    yield Observer()
    engine.dispose()


def landlord_ids():
    return db.session.execute(sa.select(Landlord.id).order_by(Landlord.id)).scalars().all()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_reads_of_a_get_or_head_request_leave_no_transaction_open(pg_app, observer, method):
    with pg_app.test_request_context("/api/tickets", method=method):
        assert landlord_ids()
        assert observer.state() == "idle"
        db.session.remove()


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_the_reads_of_other_requests_run_in_a_transaction(pg_app, observer, method):
    with pg_app.test_request_context("/api/tickets", method=method):
        assert landlord_ids()
        assert observer.state() == "idle in transaction"
        db.session.remove()


def test_a_write_in_a_get_request_is_still_one_transaction(pg_app, observer):
    with pg_app.test_request_context("/api/tickets", method="GET"):
        before = landlord_ids()
        db.session.add(Landlord(name="Written in a GET"))
        db.session.flush()
        assert observer.state() == "idle in transaction"
        db.session.add(Landlord(id=before[0], name="A duplicate id: the flush fails"))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()
        db.session.remove()
    with pg_app.app_context():
        assert landlord_ids() == before  # the first insert went with the failed one


def test_a_locking_read_in_a_get_request_holds_its_lock_until_the_end(pg_app, observer):
    with pg_app.test_request_context("/api/tickets", method="GET"):
        first = db.session.execute(
            sa.select(Landlord).order_by(Landlord.id).limit(1).with_for_update()).scalar_one()
        assert observer.state() == "idle in transaction"
        assert observer.locked(first.id)
        db.session.remove()
    assert not observer.locked(first.id)  # released with the request's session


def test_a_savepoint_in_a_get_request_works(pg_app, observer):
    with pg_app.test_request_context("/api/tickets", method="GET"):
        before = landlord_ids()
        with db.session.begin_nested():
            db.session.add(Landlord(name="Inside a savepoint"))
        assert observer.state() == "idle in transaction"
        db.session.rollback()
        assert landlord_ids() == before
        db.session.remove()


def test_the_pool_gives_the_next_request_a_transactional_connection(pg_app, observer):
    """A connection used by a GET goes back to the pool in its usual mode."""
    with pg_app.test_request_context("/api/tickets", method="GET"):
        landlord_ids()
        pid = observer.pid()
        db.session.remove()
    with pg_app.test_request_context("/api/tickets", method="POST"):
        landlord_ids()
        assert observer.pid() == pid
        assert observer.state() == "idle in transaction"
        db.session.remove()


def test_a_lock_in_a_subquery_holds_too(pg_app, observer):
    with pg_app.test_request_context("/api/tickets", method="GET"):
        locked = sa.select(Landlord.id).order_by(Landlord.id).limit(1).with_for_update() \
            .scalar_subquery()
        first = db.session.execute(sa.select(Landlord).where(Landlord.id == locked)).scalar_one()
        assert observer.state() == "idle in transaction"
        assert observer.locked(first.id)
        db.session.remove()


def test_a_streamed_read_in_a_get_request_works(pg_app, observer):
    """A server-side cursor (yield_per) is declared inside a transaction."""
    with pg_app.test_request_context("/api/tickets", method="GET"):
        ids = [landlord.id for landlord in db.session.scalars(
            sa.select(Landlord).order_by(Landlord.id).execution_options(yield_per=1))]
        assert ids == landlord_ids()
        db.session.remove()


def test_a_get_request_that_asks_for_an_isolation_level_gets_a_transaction(pg_app, observer):
    with pg_app.test_request_context("/api/tickets", method="GET"):
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        assert landlord_ids()
        assert observer.state() == "idle in transaction"
        db.session.remove()
