"""The DomainError family and the one error handler: the JSON shape under /api/, an HTML page
(rendered by the web area) everywhere else."""
import logging
import time

import redis
from flask import current_app, jsonify, make_response, request
from flask_jwt_extended.exceptions import CSRFError
from flask_limiter import RateLimitExceeded
from sqlalchemy.exc import (IntegrityError, InterfaceError, OperationalError,
                            PendingRollbackError, TimeoutError as PoolTimeout)
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """An error a client can act on; carries its HTTP status and a snake_case code."""

    status = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(self, message=None, details=None, code=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        if code:
            self.code = code


class BadRequest(DomainError):
    status, code, message = 400, "bad_request", "The request is malformed."


class Unauthorized(DomainError):
    status, code, message = 401, "unauthorized", "Authentication is required."


class TokenRevoked(Unauthorized):
    code, message = "token_revoked", "The token has been revoked."


class Forbidden(DomainError):
    status, code, message = 403, "forbidden", "Your role may not do this."


class NotFound(DomainError):
    status, code, message = 404, "not_found", "No such resource."


class Conflict(DomainError):
    status, code, message = 409, "conflict", "The resource changed; reload and retry."


class InvalidTransition(Conflict):
    code = "invalid_transition"


class ValidationFailed(DomainError):
    status, code, message = 422, "validation_error", "The request body is not valid."


class PayloadTooLarge(DomainError):
    status, code, message = 413, "payload_too_large", "The body is larger than the limit."


class ServiceUnavailable(DomainError):
    status, code, message = 503, "service_unavailable", "A backing service is unavailable."


def error_response(status, code, message, details=None):
    """Build the error body (docs/API.md) with its status."""
    body = {"code": code, "message": message}
    if details:
        body["details"] = details
    return jsonify({"error": body}), status


def is_page_request() -> bool:
    """Whether this request is for a page (answered in HTML) rather than the API."""
    return not request.path.startswith("/api/")


def answer(status, code, message, details=None):
    """The error as a response: an HTML page for pages (when the web area is installed), the
    JSON shape for the API."""
    render_page = current_app.extensions.get("page_errors")
    if render_page is not None and is_page_request():
        return make_response(render_page(status, code, message, details), status)
    return make_response(*error_response(status, code, message, details))


# Codes for the plain HTTP errors werkzeug raises (routing, size limit, method).
_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
}


def _http_error(exc: HTTPException):
    status = exc.code or 500
    details = None
    # flask-smorest/webargs put validation messages in exc.data["messages"] ({"json": {...}}).
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if isinstance(messages, dict):
        details = {}
        for value in messages.values():
            if isinstance(value, dict):
                details.update(value)
        details = details or messages
    code = _HTTP_CODES.get(status, "http_error")
    if status == 422:
        where = "query string" if isinstance(messages, dict) and "query" in messages else "body"
        message = f"The request {where} is not valid."
    elif status == 429:
        message = "Too many requests; slow down and retry later."
    elif status == 413:
        message = "The request body is larger than the configured limit."
    elif status == 405:
        message = "This method is not allowed on this resource."
    elif status == 404:
        message = "No such resource."
    else:
        message = exc.description or exc.name
    response = answer(status, code, message, details)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    if isinstance(exc, RateLimitExceeded):
        response.headers["Retry-After"] = str(_retry_after())
    return response


def _retry_after() -> int:
    """Seconds until the breached limit's window lets the client in again. Set here, on the
    429 only: Flask-Limiter's own headers (RATELIMIT_HEADERS_ENABLED) would put Retry-After
    on every answer of a limited route, a successful login included."""
    from portal.extensions import limiter
    limit = limiter.current_limit
    return max(1, int(limit.reset_at - time.time()) + 1) if limit else 1


def register_errorhandlers(app):
    """Turn every error (domain, HTTP, JWT, backing service, unexpected) into one answer."""

    @app.errorhandler(DomainError)
    def _domain(exc):
        return answer(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http(exc):
        return _http_error(exc)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        if is_page_request():  # signed in, but the form did not carry this session's token
            return answer(403, "csrf_failed", "This form is out of date: reload the page and "
                                              "try again. Nothing was changed.")
        return answer(401, "csrf_failed",
                      "Cookie-authenticated writes need the X-CSRF-TOKEN header.")

    @app.errorhandler(redis.exceptions.RedisError)
    def _redis(exc):
        log.warning("redis unavailable: %s", exc)
        return answer(503, "service_unavailable", "The cache is unavailable; retry later.")

    @app.errorhandler(PoolTimeout)  # every pooled connection busy for DB_POOL_TIMEOUT_S
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PendingRollbackError)
    def _database(exc):
        # The connection was lost (a failover, terminated backends, the server down): nothing
        # this request did was committed unless its answer says so, and a retry is safe.
        log.warning("database unavailable: %s", exc)
        return answer(503, "database_unavailable", "The database is unavailable; retry later.")

    @app.errorhandler(IntegrityError)
    def _integrity(exc):
        # A uniqueness race the service did not foresee: the transaction rolled back, so the
        # honest answer is a conflict the client can retry, not a 500.
        log.warning("integrity conflict: %s", exc.orig)
        return answer(409, "conflict", "The request conflicts with a concurrent change; "
                                       "reload and retry.")

    @app.errorhandler(Exception)
    def _unexpected(exc):
        log.exception("unhandled error")
        return answer(500, "internal_error", "Something went wrong on our side.")
