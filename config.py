"""Configuration: one base class and Development / Testing / Production, chosen by PORTAL_ENV.

Every value can be overridden by an environment variable of the same name.
"""
import os
from datetime import timedelta

from portal import tasks

BASE_DIR = os.path.abspath(os.path.dirname(__file__))


def _env(name, default, cast=str):
    """Read an environment variable, cast it, fall back to the default."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if cast is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return cast(raw)


def _list(raw: str) -> list:
    """A comma-separated setting as a list, blanks dropped."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def _database_url(default):
    url = _env("DATABASE_URL", default)
    # SQLAlchemy needs an explicit driver for psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class BaseConfig:
    """Values shared by every environment."""

    PORTAL_ENV = "base"
    SECRET_KEY = _env("SECRET_KEY", "dev-secret-key-change-me-0123456789abcdef")
    SQLALCHEMY_DATABASE_URI = _database_url(
        "sqlite:///" + os.path.join(BASE_DIR, "var", "portal.db"))
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # One steady pool per process, sized to what it runs at once (gevent requests, worker
    # threads): overflow connections were opened and closed on every burst.
    DB_POOL_SIZE = _env("DB_POOL_SIZE", 20, int)
    DB_POOL_TIMEOUT_S = _env("DB_POOL_TIMEOUT_S", 10, int)
    # A pooled connection idle for longer is pinged before use (portal/database.py).
    DB_PING_IDLE_S = _env("DB_PING_IDLE_S", 1.0, float)
    # PostgreSQL: GET and HEAD requests read without BEGIN/ROLLBACK (portal/autocommit_reads.py).
    DB_AUTOCOMMIT_READS = _env("DB_AUTOCOMMIT_READS", True, bool)
    REDIS_URL = _env("REDIS_URL", "redis://127.0.0.1:6379/0")
    # Prefix for every key the app writes in Redis (tests give each run its own).
    REDIS_PREFIX = _env("REDIS_PREFIX", "portal:")
    REDIS_MAX_CONNECTIONS = _env("REDIS_MAX_CONNECTIONS", 64, int)
    # The web server listens on loopback unless told otherwise (HOST=0.0.0.0 behind a proxy).
    HOST = _env("HOST", "127.0.0.1")
    PORT = _env("PORT", 4000, int)
    MAX_CONTENT_LENGTH = _env("MAX_CONTENT_LENGTH", 1024 * 1024, int)

    JWT_SECRET_KEY = _env("JWT_SECRET_KEY", "dev-jwt-secret-change-me-0123456789abcdef")
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=_env("JWT_ACCESS_TOKEN_EXPIRES_S", 900, int))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(seconds=_env("JWT_REFRESH_TOKEN_EXPIRES_S", 30 * 86400, int))
    JWT_TOKEN_LOCATION = ["headers", "cookies"]
    JWT_COOKIE_SECURE = _env("JWT_COOKIE_SECURE", False, bool)
    JWT_COOKIE_SAMESITE = "Lax"
    JWT_COOKIE_CSRF_PROTECT = True
    # Pages and the API share one session: the access cookie covers the whole origin, and a
    # page's form carries the double-submit token in a hidden field instead of the header.
    JWT_CSRF_CHECK_FORM = True
    JWT_ACCESS_COOKIE_PATH = "/"
    JWT_REFRESH_COOKIE_PATH = "/api/auth/"

    # Cross-origin use of /api/ (Flask-Cors): only these origins ("https://app.example.com"),
    # comma-separated; none by default. Listed origins may send cookies (credentials).
    CORS_ORIGINS = _env("CORS_ORIGINS", [], _list)
    CORS_RESOURCES = r"/api/*"
    CORS_SUPPORTS_CREDENTIALS = True
    CORS_METHODS = ["GET", "HEAD", "POST", "PATCH", "OPTIONS"]
    CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-CSRF-TOKEN",
                          "Last-Event-ID", "Prefer", "Webhook-Signature"]
    CORS_EXPOSE_HEADERS = ["Idempotent-Replayed", "Retry-After", "Preference-Applied", "Allow"]
    CORS_MAX_AGE = 600

    LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute")
    # Retry-After goes on the 429 only (portal/errors.py), not on every login answer.
    RATELIMIT_HEADERS_ENABLED = False

    PAYMENT_WEBHOOK_SECRET = _env("PAYMENT_WEBHOOK_SECRET", "whsec_dev_secret")
    # Stripe's endpoint secret (whsec_…; several comma-separated during a rotation). Empty:
    # every Stripe delivery is refused (401).
    STRIPE_WEBHOOK_SECRET = _env("STRIPE_WEBHOOK_SECRET", "")
    WEBHOOK_ALLOW_UNSIGNED = _env("WEBHOOK_ALLOW_UNSIGNED", False, bool)
    WEBHOOK_TOLERANCE_S = _env("WEBHOOK_TOLERANCE_S", 300, int)
    WEBHOOK_WAIT_S = _env("WEBHOOK_WAIT_S", 5.0, float)
    # The beat re-sends deliveries still RECEIVED this long after arrival, every REQUEUE_S.
    WEBHOOK_REQUEUE_S = _env("WEBHOOK_REQUEUE_S", 60.0, float)
    WEBHOOK_REQUEUE_AFTER_S = _env("WEBHOOK_REQUEUE_AFTER_S", 30.0, float)

    SSE_HEARTBEAT_S = _env("SSE_HEARTBEAT_S", 15.0, float)
    SSE_RETRY_MS = _env("SSE_RETRY_MS", 3000, int)
    SSE_QUEUE_SIZE = _env("SSE_QUEUE_SIZE", 1000, int)
    SSE_MAX_STREAMS_PER_USER = _env("SSE_MAX_STREAMS_PER_USER", 10, int)
    # Streams one web process holds at most (503 server_busy beyond, with Retry-After); 0 means
    # min(GUNICORN_WORKER_CONNECTIONS, open-file limit) less SSE_API_RESERVE kept for the API.
    SSE_MAX_STREAMS_PER_WORKER = _env("SSE_MAX_STREAMS_PER_WORKER", 0, int)
    SSE_API_RESERVE = _env("SSE_API_RESERVE", 1000, int)
    SSE_BUSY_RETRY_AFTER_S = _env("SSE_BUSY_RETRY_AFTER_S", 5, int)
    EVENT_STREAM_MAXLEN = _env("EVENT_STREAM_MAXLEN", 100000, int)
    EVENT_PUBLISHED_TTL_S = _env("EVENT_PUBLISHED_TTL_S", 7 * 86400, int)
    SSE_EXPIRY_MARGIN_S = _env("SSE_EXPIRY_MARGIN_S", 30.0, float)
    SSE_READ_BLOCK_MS = _env("SSE_READ_BLOCK_MS", 5000, int)
    SSE_REPLAY_MAX = _env("SSE_REPLAY_MAX", 100000, int)
    # Each web process keeps about this many of the newest stream entries for replays.
    SSE_REPLAY_MEMORY = _env("SSE_REPLAY_MEMORY", 5000, int)
    SSE_GC_FREEZE = _env("SSE_GC_FREEZE", True, bool)
    SSE_GC_REFREEZE_S = _env("SSE_GC_REFREEZE_S", 5.0, float)
    SSE_GC_SWEEP_S = _env("SSE_GC_SWEEP_S", 300.0, float)
    # Under gunicorn + gevent the hub writes events straight to parked streams' sockets.
    SSE_DIRECT_WRITES = _env("SSE_DIRECT_WRITES", True, bool)
    # Open plain GET /api/events requests without Flask's request cycle (portal/events/fast_open.py).
    SSE_FAST_OPEN = _env("SSE_FAST_OPEN", True, bool)
    # Streams opening within this many ms share one Redis round trip for their revocation check
    # (portal/events/batch.py); each waits at most this long for it. 0: only those of one turn.
    SSE_CHECK_BATCH_MS = _env("SSE_CHECK_BATCH_MS", 2.0, float)
    METRICS_TOKEN = _env("METRICS_TOKEN", "")
    OUTBOX_RELAY_GRACE_S = _env("OUTBOX_RELAY_GRACE_S", 5.0, float)
    OUTBOX_RELAY_BATCH = _env("OUTBOX_RELAY_BATCH", 200, int)
    # The worker delivers pending events up to this many per transaction and Redis round trip
    # (portal/events/drain.py); one delivery task at a time is asked for while the wake flag
    # lives (it is cleared at the end of each delivery, and expires after this long if the
    # worker died holding it).
    DELIVERY_BATCH = _env("DELIVERY_BATCH", 50, int)
    DELIVERY_WAKE_TTL_S = _env("DELIVERY_WAKE_TTL_S", 10.0, float)

    # Ticket attachments: files live under UPLOAD_DIR (shared by every web node and worker);
    # one file may be UPLOAD_MAX_BYTES, which is also the upload routes' own body limit
    # (plus room for the multipart framing), independent of MAX_CONTENT_LENGTH.
    UPLOAD_DIR = _env("UPLOAD_DIR", os.path.join(BASE_DIR, "var", "uploads"))
    UPLOAD_MAX_BYTES = _env("UPLOAD_MAX_BYTES", 10 * 1024 * 1024, int)
    UPLOAD_MAX_PER_TICKET = _env("UPLOAD_MAX_PER_TICKET", 20, int)
    THUMBNAIL_SWEEP_S = _env("THUMBNAIL_SWEEP_S", 300.0, float)

    # Response times by priority (dueAt = createdAt + this), and how often breaches are marked.
    TICKET_DUE_URGENT_S = _env("TICKET_DUE_URGENT_S", 24 * 3600, int)
    TICKET_DUE_HIGH_S = _env("TICKET_DUE_HIGH_S", 72 * 3600, int)
    TICKET_DUE_MEDIUM_S = _env("TICKET_DUE_MEDIUM_S", 7 * 86400, int)
    TICKET_DUE_LOW_S = _env("TICKET_DUE_LOW_S", 14 * 86400, int)
    SLA_CHECK_S = _env("SLA_CHECK_S", 60.0, float)

    IDEMPOTENCY_TTL_H = _env("IDEMPOTENCY_TTL_H", 24, int)
    OUTBOX_RELAY_S = _env("OUTBOX_RELAY_S", 10.0, float)
    # An invoice reads OVERDUE within this long of its due date passing.
    OVERDUE_SCHEDULE_S = _env("OVERDUE_SCHEDULE_S", 60.0, float)
    LATE_FEE_CHECK_S = _env("LATE_FEE_CHECK_S", 3600.0, float)
    # Recurring rent: how often the beat looks for rent to bill, and the defaults of a tenancy
    # whose landlord has not set its billing (due on the 1st, issued 7 days before).
    RENT_BILLING_S = _env("RENT_BILLING_S", 3600.0, float)
    RENT_DUE_DAY = _env("RENT_DUE_DAY", 1, int)
    RENT_LEAD_DAYS = _env("RENT_LEAD_DAYS", 7, int)
    IDEMPOTENCY_PURGE_S = _env("IDEMPOTENCY_PURGE_S", 3600.0, float)
    # How soon the beat puts logouts back into a Redis that restarted without persistence.
    REVOCATION_RESTORE_S = _env("REVOCATION_RESTORE_S", 30.0, float)

    # Celery's settings and the beat's schedule (the broker and result backend default to
    # REDIS_URL; CELERY_BROKER_URL / CELERY_RESULT_BACKEND override them).
    CELERY = {
        "include": list(tasks.TASK_MODULES),
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 4,
        "broker_connection_retry_on_startup": True,
        # kombu's Redis transport, fixed to survive Redis going away (portal/broker.py).
        "broker_transport": "portal.broker:Transport",
        "broker_transport_options": {"socket_connect_timeout": 2, "socket_timeout": 10},
        # A publish must not hang a request when the broker is down: fail fast, the relay retries.
        "task_publish_retry": False,
        "broker_connection_timeout": 2,
        "timezone": "UTC",
        "beat_schedule": {
            "relay-outbox": {"task": tasks.RELAY_OUTBOX, "schedule": OUTBOX_RELAY_S},
            "purge-idempotency-keys": {"task": tasks.PURGE_IDEMPOTENCY_KEYS,
                                       "schedule": IDEMPOTENCY_PURGE_S},
            # A restore that waited longer than its own interval is stale: the next replaces it.
            "restore-revocations": {"task": tasks.RESTORE_REVOCATIONS,
                                    "schedule": REVOCATION_RESTORE_S,
                                    "options": {"expires": REVOCATION_RESTORE_S}},
            "purge-revocations": {"task": tasks.PURGE_REVOCATIONS,
                                  "schedule": IDEMPOTENCY_PURGE_S},
            # Each of these is stale once its next run is due: that run does the same work.
            "mark-overdue-invoices": {"task": tasks.MARK_OVERDUE, "schedule": OVERDUE_SCHEDULE_S,
                                      "options": {"expires": OVERDUE_SCHEDULE_S}},
            "add-late-fees": {"task": tasks.ADD_LATE_FEES, "schedule": LATE_FEE_CHECK_S,
                              "options": {"expires": LATE_FEE_CHECK_S}},
            "bill-rent": {"task": tasks.BILL_RENT, "schedule": RENT_BILLING_S,
                          "options": {"expires": RENT_BILLING_S}},
            "requeue-stuck-payment-deliveries": {"task": tasks.REQUEUE_PAYMENTS,
                                                 "schedule": WEBHOOK_REQUEUE_S},
            "mark-sla-breaches": {"task": tasks.MARK_SLA_BREACHES, "schedule": SLA_CHECK_S,
                                  "options": {"expires": SLA_CHECK_S}},
            "make-missing-thumbnails": {"task": tasks.MAKE_MISSING_THUMBNAILS,
                                        "schedule": THUMBNAIL_SWEEP_S},
        },
    }

    # A consuming worker refreshes its heartbeat this often; /api/health reports it down when none
    # was written for WORKER_HEARTBEAT_TTL_S.
    WORKER_HEARTBEAT_S = _env("WORKER_HEARTBEAT_S", 5.0, float)
    WORKER_HEARTBEAT_TTL_S = _env("WORKER_HEARTBEAT_TTL_S", 20.0, float)

    GUNICORN_WORKERS = _env("GUNICORN_WORKERS", 2, int)
    GUNICORN_WORKER_CONNECTIONS = _env("GUNICORN_WORKER_CONNECTIONS", 15000, int)
    # Connections the kernel queues for gunicorn to accept. After a deploy every client
    # reconnects at once, faster than the workers accept them; past the queue the kernel drops
    # them. Linux caps it at net.core.somaxconn (4096 by default; deploy/sysctl.d raises it).
    GUNICORN_BACKLOG = _env("GUNICORN_BACKLOG", 16384, int)
    # The open-file limit gunicorn raises itself to where it may (gunicorn.conf.py).
    OPEN_FILES_LIMIT = _env("OPEN_FILES_LIMIT", 65536, int)

    SEED_DEMO_DATA = False
    PASSWORD_HASH_METHOD = _env("PASSWORD_HASH_METHOD", "scrypt")

    API_TITLE = "Tenant–Landlord Portal"
    API_VERSION = "1.0"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    # The reference page at /api/docs; its files come from the app (portal/openapi/reference.py).
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"
    # No validator badge: it would ask a server elsewhere to validate the description.
    OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None}


class DevelopmentConfig(BaseConfig):
    """The embedded default: SQLite file, local Redis, unsigned test webhooks accepted."""

    PORTAL_ENV = "development"
    WEBHOOK_ALLOW_UNSIGNED = _env("WEBHOOK_ALLOW_UNSIGNED", True, bool)
    SEED_DEMO_DATA = True


class TestingConfig(BaseConfig):
    """Used by the test suite; the fixtures point it at their own database and Redis."""

    PORTAL_ENV = "testing"
    TESTING = True
    LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "20 per minute")
    # Fast hashes keep the suite quick; production keeps werkzeug's scrypt default.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    WEBHOOK_WAIT_S = _env("WEBHOOK_WAIT_S", 5.0, float)


class ProductionConfig(BaseConfig):
    """Production: real secrets required, unsigned webhooks never accepted."""

    PORTAL_ENV = "production"
    # Forced: the environment variable is ignored here, and the webhook checks PORTAL_ENV too.
    WEBHOOK_ALLOW_UNSIGNED = False
    JWT_COOKIE_SECURE = _env("JWT_COOKIE_SECURE", True, bool)

    @classmethod
    def validate(cls):
        """Refuse to start without real secrets."""
        missing = [name for name in ("SECRET_KEY", "JWT_SECRET_KEY", "PAYMENT_WEBHOOK_SECRET",
                                     "DATABASE_URL", "REDIS_URL")
                   if not os.environ.get(name)]
        weak = [name for name in ("SECRET_KEY", "JWT_SECRET_KEY")
                if os.environ.get(name) and len(os.environ[name]) < 32]
        if missing or weak:
            raise RuntimeError(
                "Production refuses to start: set " + ", ".join(missing)
                + (" (and at least 32 characters for " + ", ".join(weak) + ")" if weak else ""))


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name=None):
    """Return the config class for PORTAL_ENV (default: development)."""
    name = (name or os.environ.get("PORTAL_ENV") or "development").lower()
    if name not in CONFIGS:
        raise RuntimeError(f"Unknown PORTAL_ENV {name!r}; use one of {sorted(CONFIGS)}")
    return CONFIGS[name]
