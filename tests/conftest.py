"""Fixtures: a real Redis (our own redis-server on a free port) and a real database per run.

The database is SQLite in a temporary folder, or a fresh PostgreSQL database when
TEST_DATABASE_URL points at a server (CI). Each test starts from the seeded demo data.
"""
import os
import shutil
import time
import uuid

import pytest
import redis
import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from portal.seed import seed_demo_data
from tests.helpers import config_for, login_as, start_redis

SEEDED_TABLES = ("landlords", "properties", "tenancies", "contractors", "users")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server of this test run's own: (process, url)."""
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield proc, url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url(redis_server):
    return redis_server[1]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh, empty database for this run (dropped at the end on PostgreSQL)."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgres"):
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "portal.db")
        return
    base = base.replace("postgres://", "postgresql://", 1).replace(
        "postgresql://", "postgresql+psycopg://", 1)
    name = "portal_test_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def app(database_url, redis_url, tmp_path_factory):
    """The app under test, migrated to head and seeded once (uploads in a folder of its own)."""
    import flask_migrate

    app = create_app("testing", config_for(database_url, redis_url,
                                          UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads"))))
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        seed_demo_data()
        app.config["SEEDED_IDS"] = {
            table: {row[0] for row in db.session.execute(sa.text(f"SELECT id FROM {table}"))}
            for table in SEEDED_TABLES}
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def clean(request, redis_url):
    """After each test: every row but the seeded ones goes, the upload folder and Redis are
    emptied."""
    yield
    if "app" not in request.fixturenames:
        redis.Redis.from_url(redis_url).flushall()
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        _delete_unseeded_rows(app.config["SEEDED_IDS"])
    shutil.rmtree(app.config["UPLOAD_DIR"], ignore_errors=True)
    redis.Redis.from_url(redis_url).flushall()


def _delete_unseeded_rows(seeded, attempts=5):
    """Delete every row but the seeded ones, in one transaction. A module's own worker may still
    be delivering the test's last events: PostgreSQL can then pick this transaction as a
    deadlock's victim, and it is run again once the worker's transactions have ended."""
    for attempt in range(attempts):
        try:
            with db.engine.begin() as conn:
                for table in reversed(db.metadata.sorted_tables):
                    if table.name in seeded:
                        conn.execute(table.delete().where(table.c.id.not_in(seeded[table.name])))
                    else:
                        conn.execute(table.delete())
            return
        except sa.exc.OperationalError as exc:
            deadlock = getattr(exc.orig, "sqlstate", None) == "40P01"
            if not deadlock or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def demo(app):
    """Ids of the seeded demo records, by a short name."""
    from portal.auth.models import User

    with app.app_context():
        users = {u.email.split("@")[0]: u for u in db.session.execute(db.select(User)).scalars()}
        ids = {
            "users": {name: u.id for name, u in users.items()},
            "ll1": users["landlord"].landlord_id, "ll2": users["landlord2"].landlord_id,
            "ten1": users["tenant"].tenant_id, "ten2": users["tenant2"].tenant_id,
            "ctr": users["contractor"].contractor_id,
        }
        from portal.directory.models import Tenancy
        ids["prop1"] = db.session.get(Tenancy, ids["ten1"]).property_id
        ids["prop2"] = db.session.get(Tenancy, ids["ten2"]).property_id
    return ids


@pytest.fixture
def auth(client):
    """``auth("tenant")`` → headers for that demo user (cached per test)."""
    cache = {}

    def _auth(name):
        if name not in cache:
            cache[name] = login_as(client, name)
        return cache[name]
    return _auth


@pytest.fixture
def celery_worker(app):
    """A real Celery worker (in a thread) on this run's Redis broker, for the test's duration."""
    from celery.contrib.testing.worker import start_worker


    celery = app.extensions["celery"]
    celery.loader.import_default_modules()  # the task modules of CELERY["include"]
    # The consumer blocks in BRPOP for polling_interval (1 s by default), and stopping the worker
    # waits for that: a short poll keeps each test's teardown short.
    celery.conf.broker_transport_options = {**celery.conf.broker_transport_options,
                                            "polling_interval": 0.1}
    with start_worker(celery, pool="threads", concurrency=2, perform_ping_check=False,
                      shutdown_timeout=30, loglevel="WARNING") as worker_:
        yield worker_


@pytest.fixture
def revocation_lookups(monkeypatch):
    """Each session-revocation lookup in Redis, recorded (the real lookup still answers)."""
    from portal.auth import service, tokens
    from portal.events import connection
    calls = []
    real, real_many = tokens.is_session_revoked, tokens.revoked_sessions

    def recorded(session_id):
        calls.append(session_id)
        return real(session_id)

    def recorded_many(session_ids):
        calls.extend(session_ids)
        return real_many(session_ids)
    for module in (tokens, service):  # service imported the function by name
        monkeypatch.setattr(module, "is_session_revoked", recorded)
    for module in (tokens, connection):  # streams check through connection's batch
        monkeypatch.setattr(module, "revoked_sessions", recorded_many)
    return calls


