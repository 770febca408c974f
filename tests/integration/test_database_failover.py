"""Every PostgreSQL backend terminated, over and over, under POSTs with Idempotency-Keys: real
gunicorn (gevent), real PostgreSQL. No 500; every acknowledged key replays its first answer;
every retried key completes; no change is applied twice."""
import threading
import time

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.tickets.models import Ticket
from tests.helpers import free_port
from tests.integration import processes as proc

CLIENTS, KEYS_PER_CLIENT, ATTEMPTS = 4, 25, 200
TERMINATE = ("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t")


class Killer(threading.Thread):
    """Terminates every other backend of the test database every ``interval`` seconds."""

    def __init__(self, database_url, interval=0.25):
        super().__init__(name="pg-killer", daemon=True)
        self.engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
        self.interval, self.terminated, self.stopping = interval, 0, threading.Event()

    def run(self):
        with self.engine.connect() as conn:
            while not self.stopping.wait(self.interval):
                self.terminated += conn.exec_driver_sql(TERMINATE).scalar()

    def stop(self):
        self.stopping.set()
        self.join(10)
        self.engine.dispose()


def _ticket(demo, key) -> dict:
    return {"propertyId": demo["prop1"], "title": key, "priority": "LOW",
            "description": "Filed while the database fails over"}


def _file_tickets(base, token, demo, client_no, results):
    """File KEYS_PER_CLIENT tickets, each under its own key, retrying each until it answers."""
    headers = {"Authorization": "Bearer " + token}
    for n in range(KEYS_PER_CLIENT):
        key = f"failover-{client_no}-{n}"
        body = _ticket(demo, key)
        seen = results[key] = []
        for _attempt in range(ATTEMPTS):
            try:
                status, answer = proc.request(base, "POST", "/api/tickets", body,
                                              {**headers, "Idempotency-Key": key}, timeout=15)
            except (OSError, ValueError) as exc:  # no answer (or not JSON): retry
                status, answer = None, repr(exc)
            seen.append((status, answer))
            if status == 201:
                break
            time.sleep(0.05)


def _replay(base, token, demo, key, attempts=20):
    """POST the key's ticket again, as a client does: retried while it answers 503."""
    for _attempt in range(attempts):
        status, answer = proc.request(base, "POST", "/api/tickets", _ticket(demo, key),
                                      {"Authorization": "Bearer " + token, "Idempotency-Key": key})
        if status != 503:
            break
        time.sleep(0.1)
    return status, answer


def test_terminated_backends_give_503s_and_no_key_is_stranded_or_applied_twice(
        app, demo, database_url, redis_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has no backends to terminate")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A small pool per web process: the PostgreSQL server is shared (max_connections).
    env = proc.process_env(database_url, redis_url, LOGIN_RATE_LIMIT="1000 per minute",
                           DB_POOL_SIZE=5)
    with proc.web(env, port, tmp_path, workers=2):
        proc.wait_until(lambda: proc.request(base, "GET", "/api/health", timeout=2)[0]
                        in (200, 503), timeout=30, what="the web process")
        token = proc.request(base, "POST", "/api/auth/login",
                             {"email": "tenant@example.com", "password": "password123"})[1][
            "accessToken"]
        results, killer = {}, Killer(database_url)
        threads = [threading.Thread(target=_file_tickets, args=(base, token, demo, i, results))
                   for i in range(CLIENTS)]
        killer.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        killer.stop()
        assert not any(thread.is_alive() for thread in threads), "the clients did not finish"
        with app.app_context():  # this process's pooled connections were terminated too
            db.engine.dispose()
        # After the failover, every acknowledged key still replays its first answer. The last
        # termination can leave a pooled connection dead that was used less than DB_PING_IDLE_S
        # before, so it is not pinged: that request is a 503, and a client retries it.
        replays = {key: _replay(base, token, demo, key) for key in results}

    assert killer.terminated > 0, "no backend was terminated: the test did not test anything"
    answers = [status for seen in results.values() for status, _ in seen]
    assert 500 not in answers, [key for key, seen in results.items()
                                if 500 in [status for status, _ in seen]]
    unavailable = [answer for seen in results.values() for status, answer in seen
                   if status == 503]
    assert all(a["error"]["code"] == "database_unavailable" for a in unavailable), unavailable
    incomplete = [key for key, seen in results.items() if seen[-1][0] != 201]
    assert not incomplete, {key: results[key][-3:] for key in incomplete}
    for key, seen in results.items():
        first = seen[-1][1]
        assert replays[key] == (201, first), (key, replays[key], first)
    with app.app_context():
        titles = db.session.execute(sa.select(Ticket.title, sa.func.count()).where(
            Ticket.title.like("failover-%")).group_by(Ticket.title)).all()
        db.session.remove()
    assert sorted(title for title, _ in titles) == sorted(results)
    assert all(count == 1 for _, count in titles), [t for t in titles if t[1] > 1]
    print(f"{len(results)} keys, {killer.terminated} backends terminated, "
          f"{len(unavailable)} answers 503, {sum(len(s) for s in results.values())} requests")
