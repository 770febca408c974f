"""Start the real processes (gunicorn + gevent, Celery worker, beat) for integration tests."""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def process_env(database_url, redis_url, **extra) -> dict:
    """Environment for a portal process pointed at this run's database and Redis."""
    env = {**os.environ, "PORTAL_ENV": "testing", "DATABASE_URL": database_url,
           "REDIS_URL": redis_url, "REDIS_PREFIX": "test:", "PYTHONPATH": str(ROOT)}
    env.update({key: str(value) for key, value in extra.items()})
    return env


@contextmanager
def running(args, env, name, log_dir):
    """Run one process for the duration of the block; its output goes to a log file."""
    log_path = Path(log_dir) / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def procfile_command(name) -> str:
    """The command line the Procfile gives a process type (what `make run` starts)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == name:
            return command.strip()
    raise KeyError(name)


def _procfile(name, env, log_dir, label=None):
    env = {**env, "PATH": f"{BIN}:{env.get('PATH', '')}"}
    return running(["bash", "-c", "exec " + procfile_command(name)], env, label or name, log_dir)


def web(env, port, log_dir, workers=1):
    """The Procfile's web process (gunicorn, gevent worker) on ``port``."""
    env = {**env, "PORT": str(port), "GUNICORN_WORKERS": str(workers)}
    return _procfile("web", env, log_dir, f"web-{port}")


def worker(env, log_dir, name="worker"):
    """The Procfile's Celery worker."""
    return _procfile("worker", env, log_dir, name)


def beat(env, log_dir):
    """The Procfile's Celery beat, with its schedule file in the log folder."""
    env = {**env, "CELERY_BEAT_SCHEDULE": str(Path(log_dir) / "beat-schedule")}
    return _procfile("beat", env, log_dir)


def request(base, method, path, body=None, headers=None, timeout=10):
    """(status, parsed JSON body) of one HTTP call; error statuses are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for_web(base, timeout=60, worker=True):
    """Wait until the web process answers its health check with 200 (database, Redis and a
    consuming worker all up: a worker's first heartbeat follows its start-up). ``worker=False``
    for a web process started alone: its database and Redis up is enough."""
    def ready():
        status, body = request(base, "GET", "/api/health", timeout=5)
        if worker:
            return status == 200
        return isinstance(body, dict) and body.get("db") == body.get("redis") == "ok"
    return wait_until(ready, timeout=timeout, what=f"{base}/api/health")


__all__ = ["ExitStack", "process_env", "procfile_command", "web", "worker", "beat", "request",
           "wait_until", "wait_for_web"]
