"""Request guards that apply to every endpoint: JSON bodies must be JSON objects."""
from flask import request

from portal.errors import BadRequest

# Endpoints that read their raw body themselves (the webhook verifies the exact bytes).
RAW_BODY_PATHS = ("/api/finance/payments/webhook",)


def _require_json_object():
    if request.method not in ("POST", "PUT", "PATCH") or not request.path.startswith("/api/"):
        return None
    if request.path in RAW_BODY_PATHS:
        return None
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None  # an empty body is read as {}; the schema says what is missing
    if not request.is_json:
        raise BadRequest("The body must be JSON (Content-Type: application/json).",
                         code="invalid_json")
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequest("The body is not valid JSON.", code="invalid_json")
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    return None


def init_app(app):
    """Register the guards."""
    app.before_request(_require_json_object)
