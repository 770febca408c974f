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

from bench.proc import children, fd_ceiling

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
# Every server's accept queue (the portal's own default, GUNICORN_BACKLOG). Linux caps it at
# net.core.somaxconn: see warn_if_backlog_capped.
BACKLOG = 16384


def warn_if_backlog_capped():
    """Say so when the kernel will shrink the servers' accept queues (a storm then loses
    connections to the cap, not to the servers)."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            cap = int(f.read())
    except (OSError, ValueError):
        return
    if cap < BACKLOG:
        print(f"note: net.core.somaxconn is {cap}, so every listen backlog here is {cap}, not "
              f"{BACKLOG} (sysctl -w net.core.somaxconn={BACKLOG}, as "
              f"deploy/sysctl.d/60-portal.conf sets it)", file=sys.stderr)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Managed:
    """A started process (own session), its log file and a name."""

    def __init__(self, name, argv, env, log_path, cwd=ROOT, nofile=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     # The coordinator runs no threads of its own.
                                     preexec_fn=_nofile_setter(nofile) if nofile else None)  # noqa: PLW1509
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


def _nofile_setter(nofile):
    """A preexec_fn giving the child an open-file limit of ``nofile`` (soft = hard).

    Raising the hard limit needs root (or CAP_SYS_RESOURCE); without it the child gets the
    current hard limit. What the child really got is in /proc/<pid>/limits (proc.fd_limits).
    """
    import resource
    nofile = min(nofile, fd_ceiling())

    def apply():
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, max(nofile, hard)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return apply


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


def start_gunicorn(name, app_path, env, workdir, workers, worker_connections, config=None,
                   nofile=None):
    """gunicorn -k gevent on a free port; wait for /api/health; return (Managed, port).

    ``nofile``: the open-file limit (soft and hard) gunicorn starts with, as
    ``prlimit --nofile=N:N gunicorn …`` would set it; its workers inherit it."""
    port = free_port()
    argv = [os.path.join(BIN, "gunicorn")]
    if config:
        argv += ["--config", config]
    argv += ["--worker-class", "gevent", "--no-control-socket", "--workers", str(workers),
             "--worker-connections", str(worker_connections), "--bind", f"127.0.0.1:{port}",
             "--backlog", str(BACKLOG), "--timeout", "120", "--graceful-timeout", "5",
             "--log-level", "warning", app_path]
    server = Managed(name, argv, {**env, "PORT": str(port)}, os.path.join(workdir, f"{name}.log"),
                     nofile=nofile)
    _wait_healthy(server, name, port, workers)
    return server, port


def _wait_healthy(server, name, port, workers):
    """Until GET /api/health answers and the master has its workers; stop it on a timeout."""
    deadline = time.time() + 60
    while time.time() < deadline:
        if not server.alive():
            raise RuntimeError(f"{name} exited:\n" + server.tail())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                pass
            if len(children(server.pid)) >= workers:
                return
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


NGINX = os.environ.get("BENCH_NGINX", "/usr/sbin/nginx")
NCHAN_MODULE = os.environ.get("BENCH_NCHAN_MODULE", "/usr/lib/nginx/modules/ngx_nchan_module.so")
NCHAN_CONF = """\
load_module {module};
worker_processes {workers};
worker_rlimit_nofile {nofile};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{
    worker_connections {worker_connections};
    multi_accept on;
}}
http {{
    access_log off;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    nchan_shared_memory_size 512m;
    server {{
        listen 127.0.0.1:{port} backlog={backlog}{reuseport};
        location = /api/health {{
            default_type application/json;
            return 200 '{{"status":"ok"}}';
        }}
        # GET /sub?ch=role:OPS,user:usr_… : one EventSource stream multiplexed over the
        # client's audience keys (the channels the portal's hub would match it by).
        location = /sub {{
            nchan_subscriber eventsource;
            nchan_channel_id $arg_ch;
            nchan_channel_id_split_delimiter ",";
            nchan_subscriber_first_message newest;
            nchan_eventsource_ping_interval {heartbeat};
            nchan_subscriber_timeout 0;
        }}
        # POST /pub?ch=<audience key>: one message into one channel (buffered for
        # Last-Event-ID resumption).
        location = /pub {{
            nchan_publisher;
            nchan_channel_id $arg_ch;
            nchan_message_buffer_length {buffer};
            nchan_message_timeout 1h;
        }}
    }}
}}
"""


def nchan_available() -> str:
    """None when nginx and the nchan module are installed, else what is missing."""
    missing = [path for path in (NGINX, NCHAN_MODULE) if not os.path.exists(path)]
    return ", ".join(missing) + " not found (apt-get install nginx libnginx-mod-nchan)" \
        if missing else None


def start_nchan(workdir, workers, worker_connections, nofile, heartbeat=15, buffer=1000,
                reuseport=True):
    """This bench's own nginx + nchan on a free port; (Managed, port). Stopped by its PID.

    ``reuseport``: one listening socket per worker, so the kernel spreads connections evenly
    (as the portal's gunicorn workers end up sharing them); without it one nginx worker may
    accept most of them and run into its open-file limit first."""
    problem = nchan_available()
    if problem:
        raise RuntimeError(problem)
    port = free_port()
    root = os.path.join(workdir, f"nchan-{port}")
    os.makedirs(root)
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write(NCHAN_CONF.format(module=NCHAN_MODULE, workers=workers, nofile=nofile,
                                   worker_connections=worker_connections, root=root, port=port,
                                   heartbeat=int(heartbeat), buffer=buffer, backlog=BACKLOG,
                                   reuseport=" reuseport" if reuseport else ""))
    server = Managed("nchan", [NGINX, "-p", root + "/", "-c", conf, "-e", root + "/error.log",
                               "-g", "daemon off;"],
                     dict(os.environ), os.path.join(workdir, "nchan.log"), cwd=root,
                     nofile=nofile)
    server.error_log = os.path.join(root, "error.log")
    try:
        _wait_healthy(server, "nchan", port, workers)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\n{_tail_file(os.path.join(root, 'error.log'))}") from None
    return server, port


def _tail_file(path, lines=20):
    try:
        with open(path, "rb") as fh:
            return b"\n".join(fh.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return ""
