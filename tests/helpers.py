"""Helpers shared by the tests: free ports, a private redis-server, app config, logins,
concurrent calls and polling. Fixtures live in conftest.py; everything else a test imports
comes from here."""
import shutil
import socket
import subprocess
import threading
import time

import redis

from portal.seed import PASSWORD


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(folder, port=None):
    """Start a private redis-server; return (process, url)."""
    port = port or free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--maxclients", "50000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def config_for(database_url, redis_url, **extra) -> dict:
    """Config overrides pointing an app at this run's database and Redis."""
    return {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url,
            "REDIS_PREFIX": "test:", **extra}


def login_as(client, name: str) -> dict:
    """Log a demo user in (``tenant``, ``landlord2``…); return the Authorization header."""
    response = client.post("/api/auth/login",
                           json={"email": f"{name}@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": "Bearer " + response.get_json()["accessToken"]}


def run_together(app, count, call):
    """Run ``call(i, client)`` in ``count`` threads released at once; return their results."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def _run(i):
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            results[i] = call(i, client)
        except Exception as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)

    threads = [threading.Thread(target=_run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def wait_until(predicate, timeout=15.0, interval=0.05, what="condition"):
    """Poll ``predicate`` until it returns a truthy value; return it or fail after ``timeout``.
    A connection error counts as "not yet" (a process still starting, Redis coming back)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError as exc:  # urllib's URLError included
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})")
