"""Start and stop the bench's own servers: redis-server, a migrated+seeded SQLite, Celery, gunicorn.

Everything runs from the repository root with the venv's binaries, on free ports, in a temporary
folder; each process gets its own session so that stopping it stops everything it started.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from bench.proc import children

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Managed:
    """A started process (own session), its log file and a name."""

    def __init__(self, name, argv, env, log_path, cwd=ROOT):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines=30) -> str:
        with open(self.log_path, "rb") as fh:
            return b"\n".join(fh.read().splitlines()[-lines:]).decode(errors="replace")

    def stop(self, timeout=15):
        """SIGTERM the process group, then SIGKILL what is left."""
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # stragglers of the group (workers)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=5)
        self.log.close()


def base_env(workdir, redis_url, **extra) -> dict:
    """The portal's environment for the bench: its own database and Redis, caps raised."""
    env = dict(os.environ)
    env.update({
        "PORTAL_ENV": "development",
        "FLASK_APP": "wsgi.py",
        "DATABASE_URL": "sqlite:///" + os.path.join(workdir, "portal.db"),
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": "bench:",
        # Thousands of streams share six demo logins.
        "SSE_MAX_STREAMS_PER_USER": "1000000",
        "JWT_ACCESS_TOKEN_EXPIRES_S": "14400",
        "LOGIN_RATE_LIMIT": "10000 per minute",
        "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_redis(workdir) -> tuple:
    """A private redis-server (no persistence, maxclients high): (Managed, url)."""
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    server = Managed("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", workdir, "--maxclients", "50000"],
                     dict(os.environ), os.path.join(workdir, "redis.log"))
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return server, url
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("redis-server did not start:\n" + server.tail())


def prepare_database(env):
    """A fresh SQLite database: ``flask db upgrade heads`` then ``flask seed``."""
    for argv in ([os.path.join(BIN, "flask"), "db", "upgrade", "heads"],
                 [os.path.join(BIN, "flask"), "seed"]):
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")


def start_celery(env, workdir) -> Managed:
    """The Celery worker as the Procfile runs it (threads pool)."""
    worker = Managed("celery", [os.path.join(BIN, "celery"), "-A", "celery_app", "worker",
                                "--pool=threads", "--concurrency=8", "--loglevel=WARNING",
                                "--without-mingle", "--without-gossip"],
                     env, os.path.join(workdir, "celery.log"))
    time.sleep(1.0)
    if not worker.alive():
        raise RuntimeError("celery worker exited:\n" + worker.tail())
    return worker


def start_gunicorn(name, app_path, env, workdir, workers, worker_connections, config=None):
    """gunicorn -k gevent on a free port; wait for /api/health; return (Managed, port)."""
    port = free_port()
    argv = [os.path.join(BIN, "gunicorn")]
    if config:
        argv += ["--config", config]
    argv += ["--worker-class", "gevent", "--no-control-socket", "--workers", str(workers),
             "--worker-connections", str(worker_connections), "--bind", f"127.0.0.1:{port}",
             "--backlog", "4096", "--timeout", "120", "--graceful-timeout", "5",
             "--log-level", "warning", app_path]
    server = Managed(name, argv, {**env, "PORT": str(port)}, os.path.join(workdir, f"{name}.log"))
    deadline = time.time() + 60
    while time.time() < deadline:
        if not server.alive():
            raise RuntimeError(f"{name} exited:\n" + server.tail())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                pass
            if len(children(server.pid)) >= workers:
                return server, port
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer /api/health:\n" + server.tail())


def warm_up(port, workers, rounds=20):
    """A few requests so that every worker has imported and initialised what it lazily loads."""
    for _ in range(rounds * workers):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as resp:
                json.loads(resp.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError):
            pass
