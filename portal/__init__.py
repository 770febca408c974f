"""The portal's app factory: config → extensions → celery → blueprints → errors → cli."""
import importlib
import logging

from flask import Flask

from portal.extensions import api, cors, db, init_limiter, jwt, migrate, redis_client


def create_app(config_name=None, overrides=None) -> Flask:
    """Build a configured app; no I/O happens here (connections open on first use)."""
    from config import get_config  # config.py imports portal.tasks: not at import time
    from portal import http

    app = Flask(__name__)
    config = get_config(config_name)
    if hasattr(config, "validate"):
        config.validate()
    app.config.from_object(config)
    app.config.update(overrides or {})
    _derive_config(app)
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    app.json.sort_keys = False
    # Sign-in lives in the JWT cookies; Flask's signed session cookie is never used, and opening
    # it cost every request an itsdangerous serializer.
    app.session_interface = http.NoSessionCookie()

    register_extensions(app)
    register_celery(app)
    register_blueprints(app)
    register_hooks(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def _derive_config(app):
    """Values that follow from others unless set explicitly."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config["REDIS_PREFIX"] + "ratelimit")
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
            "pool_size": app.config["DB_POOL_SIZE"], "max_overflow": 0,
            "pool_timeout": app.config["DB_POOL_TIMEOUT_S"], "pool_recycle": 3600})


def register_extensions(app):
    """Bind the unbound singletons and the cross-cutting request hooks."""
    from portal import http, idempotency, models  # noqa: F401  (models: every table)
    from portal import autocommit_reads
    from portal.auth import tokens
    from portal.events import enqueue
    from portal.database import alembic_render_item, configure_sqlite, ping_idle_connections

    db.init_app(app)
    with app.app_context():
        engine = db.engine  # creating the engine opens no connection
        if engine.dialect.name == "sqlite":
            configure_sqlite(engine)
        else:
            ping_idle_connections(engine, app.config["DB_PING_IDLE_S"])
            if app.config["DB_AUTOCOMMIT_READS"]:
                autocommit_reads.install(engine)
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True,
                     compare_type=True, render_item=alembic_render_item)
    jwt.init_app(app)
    tokens.init_app(app)
    init_limiter(app)
    cors.init_app(app)
    redis_client.init_app(app)
    api.init_app(app)
    http.init_app(app)  # before idempotency: a malformed body never claims a key
    idempotency.init_app(app)
    enqueue.init_app(app)


def _migrations_dir():
    import os
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def register_celery(app):
    """Create the Celery app for this Flask app."""
    from portal.celery import celery_init_app
    celery_init_app(app)


# Each area's views module exposes ``blp``; one line per area.
BLUEPRINTS = (
    "portal.auth.views",
    "portal.directory.views",
    "portal.health.views",
    "portal.finance.views",
    "portal.finance.tenancy_views",
    "portal.notifications.views",
    "portal.events.views",
    "portal.tickets.views",
    "portal.attachments.views",
)


def register_blueprints(app):
    """Each area registers its blueprint with the API (which documents it in openapi.json);
    the pages are a plain blueprint beside them (HTML, not part of the API's document)."""
    for module_name in BLUEPRINTS:
        api.register_blueprint(importlib.import_module(module_name).blp)
    from portal.web.views import blp as pages
    app.register_blueprint(pages)


def register_hooks(app):
    """Areas that take part in shared machinery register themselves with it."""
    from portal.notifications import delivery
    delivery.init_app(app)  # every delivered event notifies its audience
    from portal.events.fast_open import FastOpen
    app.wsgi_app = FastOpen(app, app.wsgi_app)  # plain stream connects skip the request cycle


def register_errorhandlers(app):
    """One JSON error shape for everything."""
    from portal.errors import register_errorhandlers as register
    register(app)


def register_commands(app):
    """CLI commands."""
    from portal.commands import register_commands as register
    register(app)
