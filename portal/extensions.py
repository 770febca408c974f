"""Unbound extension singletons; each is bound to an app in create_app()."""
from http import HTTPStatus

import redis
from flask import current_app
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from portal.openapi.converter import PortalMarshmallowPlugin
from portal.openapi.operations import OperationsPlugin, error_response
from portal.schemas import ErrorSchema

# Stable constraint names, so migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
jwt = JWTManager()


class PortalApi(Api):
    """flask-smorest's Api, describing the portal's conventions in /api/openapi.json: errors in
    the portal's own shape, exact numbers, what each operation needs (portal/openapi/)."""

    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app, *, spec_kwargs=None):
        """Bind to the app, describe how callers authenticate, serve the reference page's files."""
        from portal.openapi import reference
        spec_kwargs = {"marshmallow_plugin": PortalMarshmallowPlugin(),
                       "extra_plugins": [OperationsPlugin(app)], **(spec_kwargs or {})}
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.spec.components.security_scheme(
            "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
        self.spec.components.security_scheme(
            "cookieAuth", {"type": "apiKey", "in": "cookie", "name": "access_token_cookie"})
        app.register_blueprint(reference.blp)

    def _register_responses(self):
        """One response component per error status, saying which codes it carries."""
        for status in HTTPStatus:
            if status >= 400:
                self.spec.components.response(
                    status.name, error_response(status, self.ERROR_SCHEMA), lazy=True)
        self.spec.components.response("DEFAULT_ERROR", {
            "description": "Any other error, in the same shape.",
            "content": {"application/json": {"schema": self.ERROR_SCHEMA}}}, lazy=True)


api = PortalApi()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
# Reads its settings from the app's CORS_* config (config.py).
cors = CORS()


class RedisClient:
    """Holds one connection pool per app; `redis_client.conn` is the client for the current app."""

    def init_app(self, app):
        """Create the app's Redis client (no connection is opened until first use)."""
        # A bounded pool that makes callers wait their turn: a burst of new SSE clients (each
        # checks its session against the revocation list) reuses a few dozen connections
        # instead of opening one per greenlet at once.
        pool = redis.BlockingConnectionPool.from_url(
            app.config["REDIS_URL"], decode_responses=True,
            max_connections=app.config["REDIS_MAX_CONNECTIONS"], timeout=5,
            socket_connect_timeout=2, socket_timeout=10, health_check_interval=30)
        app.extensions["redis"] = redis.Redis(connection_pool=pool)

    @property
    def conn(self) -> redis.Redis:
        return current_app.extensions["redis"]

    def key(self, *parts) -> str:
        """A key under this app's prefix."""
        return current_app.config["REDIS_PREFIX"] + ":".join(str(p) for p in parts)


redis_client = RedisClient()
