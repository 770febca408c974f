"""gunicorn settings for the web process, read from the portal's configuration."""
import gc
import resource

from config import get_config

_config = get_config()

bind = f"{_config.HOST}:{_config.PORT}"
worker_class = "gevent"
workers = _config.GUNICORN_WORKERS
# The gevent worker accepts at most this many clients per process; SSE streams count.
worker_connections = _config.GUNICORN_WORKER_CONNECTIONS
# SSE streams are long requests; the gevent worker does not time them out itself.
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = None
control_socket_disable = True


def on_starting(server):
    """Raise the open-file soft limit to the hard limit: each SSE client holds one socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def post_worker_init(worker):
    """Move start-up objects out of the collector's reach: full GCs then skip them."""
    if worker.cfg.protocol != "http":
        # The event hub frames HTTP/1.x bodies itself (portal/events/wire.py); under another
        # protocol (uwsgi) only gunicorn knows the framing, so every write goes through it.
        app_config = getattr(worker.wsgi, "config", None)
        if app_config is not None:
            app_config["SSE_DIRECT_WRITES"] = False
    gc.collect()
    gc.freeze()
