"""gunicorn settings for the web process, read from the portal's configuration."""
import gc
import json
import resource

from gunicorn import util

from config import get_config

_config = get_config()

bind = f"{_config.HOST}:{_config.PORT}"
worker_class = "gevent"
workers = _config.GUNICORN_WORKERS
# The gevent worker accepts at most this many clients per process; SSE streams count.
worker_connections = _config.GUNICORN_WORKER_CONNECTIONS
# The kernel's accept queue: a reconnect storm after a deploy arrives faster than it is accepted.
backlog = _config.GUNICORN_BACKLOG
# SSE streams are long requests; the gevent worker does not time them out itself.
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = None
control_socket_disable = True

# Requests gunicorn refuses itself, before the app sees them. The request line may be as long
# as gunicorn allows (8190 bytes): the longest query the API describes (a 500-character cursor
# and a 40-character id, percent-encoded UTF-8: under 6,700 bytes) reaches the app, which
# answers it in JSON. At most 100 header fields of at most 8190 bytes each.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

_REFUSALS = {
    400: ("bad_request", "The request is not valid HTTP."),
    403: ("forbidden", "The request is forbidden."),
    414: ("uri_too_long", f"The request line is longer than {limit_request_line} bytes."),
    417: ("expectation_failed", "Only Expect: 100-continue is supported."),
    431: ("headers_too_large", f"More than {limit_request_fields} header fields, or one "
                               f"longer than {limit_request_field_size} bytes."),
    501: ("not_implemented", "This transfer coding is not supported."),
}


def write_json_error(sock, status_int, reason, _mesg):
    """gunicorn's own error answers (bad request line, 414, 431, ...) in the API's JSON error
    shape instead of its HTML page; the connection closes as gunicorn's page does."""
    code, message = _REFUSALS.get(status_int,
                                  ("internal_error", "Something went wrong on our side."))
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


# The one function gunicorn writes those answers with (its workers call util.write_error).
util.write_error = write_json_error


def on_starting(server):
    """Raise the open-file limit: each SSE client holds one socket. To OPEN_FILES_LIMIT when the
    process may raise its hard limit (root, or CAP_SYS_RESOURCE), else the soft limit to the hard
    one (systemd's LimitNOFILE sets both; deploy/systemd)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _config.OPEN_FILES_LIMIT
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return
        except (ValueError, OSError):  # not privileged: the hard limit stands
            pass
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
