"""The DomainError family and the one JSON error shape, registered once for the whole app."""
import logging

import redis
from flask import jsonify
from flask_jwt_extended.exceptions import CSRFError
from sqlalchemy.exc import IntegrityError, OperationalError
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
        message = "The request body is not valid."
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
    response = error_response(status, code, message, details)
    if status == 405 and getattr(exc, "valid_methods", None):
        response[0].headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def register_errorhandlers(app):
    """Turn every error (domain, HTTP, JWT, backing service, unexpected) into the JSON shape."""

    @app.errorhandler(DomainError)
    def _domain(exc):
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http(exc):
        return _http_error(exc)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return error_response(401, "csrf_failed",
                              "Cookie-authenticated writes need the X-CSRF-TOKEN header.")

    @app.errorhandler(redis.exceptions.RedisError)
    def _redis(exc):
        log.warning("redis unavailable: %s", exc)
        return error_response(503, "service_unavailable", "The cache is unavailable; retry later.")

    @app.errorhandler(OperationalError)
    def _database(exc):
        log.warning("database unavailable: %s", exc)
        return error_response(503, "service_unavailable",
                              "The database is unavailable; retry later.")

    @app.errorhandler(IntegrityError)
    def _integrity(exc):
        # A uniqueness race the service did not foresee: the transaction rolled back, so the
        # honest answer is a conflict the client can retry, not a 500.
        log.warning("integrity conflict: %s", exc.orig)
        return error_response(409, "conflict", "The request conflicts with a concurrent change; "
                                               "reload and retry.")

    @app.errorhandler(Exception)
    def _unexpected(exc):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")
