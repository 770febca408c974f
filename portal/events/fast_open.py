"""Opening an event stream without Flask's request cycle, for the plain case.

A stream connect through Flask cost about 1.7 ms of worker CPU here, five times gunicorn's own
cost of accepting a connection and writing the first frame. The request and app contexts, the
before/after/teardown hooks, flask-smorest's wrapper and Flask-JWT-Extended's header parsing do
nothing for a GET that carries a token and no body. After a deploy every client reconnects at
once, so that cost is what a reconnect storm waits on (docs/PERFORMANCE.md).

:class:`FastOpen` wraps the app's WSGI callable. It takes ``GET /api/events`` with one token (a
``Bearer`` header or the access cookie), no body and at most a ``lastEventId`` in the query, while
``CORS_ORIGINS`` is not set (Flask-Cors then adds its headers to every API answer). It verifies
the token with the same decoder (Flask-JWT-Extended's, signature checked once per process by
portal/auth/verified_tokens.py), builds the same principal and opens the stream with the same
``connection.open_stream``. Anything else, and every failure (no token, an invalid, expired or
revoked one, too many streams, Redis down), is handed to the Flask app untouched, which answers it
exactly as before: the fast path never writes an error of its own.
"""
import re
from urllib.parse import parse_qsl

import redis
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError
from werkzeug.http import parse_cookie

from portal.auth.principal import Principal
from portal.errors import DomainError
from portal.events import connection, wire
from portal.http import unstorable

PATH = "/api/events"
_TOKEN = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
_QUERY_KEY = "lastEventId"


class FastOpen:
    """WSGI middleware: ``app.wsgi_app = FastOpen(app, app.wsgi_app)``."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    @property
    def enabled(self) -> bool:
        # With CORS_ORIGINS set, Flask-Cors adds its headers to every API answer, Origin or not.
        config = self.app.config
        return config["SSE_FAST_OPEN"] and not config["CORS_ORIGINS"]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "GET" \
                and self.enabled:
            body = self._open(environ)
            if body is not None:
                start_response("200 OK", list(connection.STREAM_HEADERS))
                return body
        return self.wsgi_app(environ, start_response)

    def _open(self, environ):
        """The stream's body, or None to let Flask answer the request instead."""
        if environ.get("CONTENT_LENGTH", "") not in ("", "0") \
                or environ.get("HTTP_TRANSFER_ENCODING"):
            return None
        query = _query_last_event_id(environ.get("QUERY_STRING", ""))
        if query is False:
            return None
        token = self._token(environ)
        if token is None:
            return None
        last_event_id = environ.get("HTTP_LAST_EVENT_ID") or query
        with self.app.app_context():
            try:
                claims = decode_token(token)
                if claims.get("type") != "access":
                    return None
                principal = Principal.from_claims(claims)
                sock = environ.get("gunicorn.socket") or environ.get("gunicorn.sock")
                direct = wire.for_environ(environ) \
                    if self.app.config["SSE_DIRECT_WRITES"] else None
                return connection.open_stream(principal, last_event_id, sock, direct)
            # A token, claim or Redis failure; and anything unexpected in a malformed request:
            # Flask then answers it in the API's error shape rather than gunicorn's page.
            except (PyJWTError, JWTExtendedException, DomainError, redis.RedisError, KeyError,
                    ValueError, TypeError):
                return None

    def _token(self, environ):
        """The one token the request carries, as Flask-JWT-Extended would find it, or None."""
        config = self.app.config
        header = environ.get("HTTP_AUTHORIZATION")
        if header is not None:
            kind, _, token = header.strip().partition(" ")
            return token if kind == config["JWT_HEADER_TYPE"] and _TOKEN.fullmatch(token) \
                else None
        cookies = environ.get("HTTP_COOKIE")
        if not cookies:
            return None
        token = parse_cookie(cookies).get(config["JWT_ACCESS_COOKIE_NAME"])
        return token if token and _TOKEN.fullmatch(token) else None


def _query_last_event_id(query: str):
    """None for no query, the ``lastEventId`` value when that is all there is, else False."""
    if not query:
        return None
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True,
                          errors="strict", max_num_fields=1)
    except ValueError:
        return False
    if len(pairs) != 1 or pairs[0][0] != _QUERY_KEY or unstorable(pairs[0][1]):
        return False
    return pairs[0][1] or None
