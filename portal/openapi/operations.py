"""What each operation of /api/openapi.json needs and may answer, read from the view itself.

The marks a view carries (portal/routes.py) and its route decide:
- the operationId: the endpoint's name (``tickets_change_status``);
- security: none for ``@public`` views, else a bearer token or the access cookie;
- headers: ``Idempotency-Key`` on authenticated POSTs that honour it, ``X-CSRF-TOKEN`` on
  writes a cookie may authenticate;
- error answers, each with the error shape: 503 everywhere (a backing service is down), 401/403
  with a token, 404 with an id in the path, 400/413/422 with a body, 409 on authenticated
  writes (a concurrent change, a rule of the state machine, a key still in flight); flask-smorest
  adds 422 where a query is validated.
Views add what only they know with ``@blp.doc`` (login's 401 and 429, the stream's
``Last-Event-ID`` and 429).
"""
from http import HTTPStatus

from apispec import BasePlugin

from portal.routes import marks_of

WRITES = ("post", "put", "patch", "delete")
TOKEN = [{"bearerAuth": []}, {"cookieAuth": []}]

IDEMPOTENCY_KEY = "IdempotencyKey"
CSRF_TOKEN = "CsrfToken"
LAST_EVENT_ID = "LastEventId"

PARAMETERS = {
    IDEMPOTENCY_KEY: {
        "in": "header", "name": "Idempotency-Key", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                   "pattern": "^[\\x20-\\x7E]+$"},
        "description": "Makes a retry safe: the first answer to this key is replayed (with "
                       "Idempotent-Replayed: true) for 24 hours."},
    CSRF_TOKEN: {
        "in": "header", "name": "X-CSRF-TOKEN", "required": False,
        "schema": {"type": "string"},
        "description": "Required when the access token comes from the cookie: the value of the "
                       "csrf_access_token cookie (for refresh: csrf_refresh_token)."},
    LAST_EVENT_ID: {
        "in": "header", "name": "Last-Event-ID", "required": False,
        "schema": {"type": "string"},
        "description": "Replay the events after this id (EventSource sends it on reconnect)."},
}

# What each error status means here; every one answers {"error": {"code", "message", ...}}.
ERROR_CODES = {
    400: "invalid_json, malformed_header, invalid_idempotency_key, bad_request",
    401: "unauthorized, invalid_credentials, invalid_token, token_expired, token_revoked, "
         "csrf_failed; the webhook: missing_signature, invalid_signature, stale_signature",
    403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict, invalid_transition, version_conflict, idempotency_key_in_flight",
    413: "payload_too_large", 414: "uri_too_long", 422: "validation_error, idempotency_key_reused",
    429: "rate_limited (with Retry-After), too_many_streams", 431: "headers_too_large",
    500: "internal_error",
    503: "service_unavailable (the database or Redis is down; nothing changed, retry)",
}
RETRY_AFTER = {"description": "Seconds until the limit lets this client try again.",
               "schema": {"type": "integer", "minimum": 0}}


def error_response(status: HTTPStatus, schema) -> dict:
    """The response component for an error status."""
    codes = ERROR_CODES.get(int(status))
    response = {"description": f"{status.phrase}" + (f": {codes}" if codes else ""),
                "content": {"application/json": {"schema": schema}}}
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        response["headers"] = {"Retry-After": RETRY_AFTER}
    return response


def _name(status: int) -> str:
    return HTTPStatus(status).name


class OperationsPlugin(BasePlugin):
    """Completes each operation from the marks of the view it documents."""

    def __init__(self, app):
        self.app = app
        self.spec = None

    def init_spec(self, spec):
        self.spec = spec
        for name, parameter in PARAMETERS.items():
            spec.components.parameter(name, parameter["in"], parameter, lazy=True)

    def operation_helper(self, path=None, operations=None, rule=None, **_kwargs):
        if rule is None:
            return
        marks = marks_of(self.app.view_functions.get(rule.endpoint))
        for method, operation in operations.items():
            # "tickets.change_status" → tickets_change_status: what generated clients name it.
            operation.setdefault("operationId", rule.endpoint.replace(".", "_").strip("_"))
            self._complete(operation, method, marks, bool(rule.arguments))

    def _complete(self, operation, method, marks, has_path_ids):
        public = "public" in marks
        operation["security"] = [] if public else TOKEN
        parameters = operation.setdefault("parameters", [])
        errors = {503}
        if not public:
            errors |= {401, 403}
        if has_path_ids:
            errors.add(404)
        if method in WRITES:
            errors |= {400, 413, 422}
            if not public:
                errors.add(409)
                parameters.append(CSRF_TOKEN)
                if method == "post" and "no_idempotency" not in marks:
                    parameters.append(IDEMPOTENCY_KEY)
        responses = operation.setdefault("responses", {})
        for status in sorted(errors):
            if status not in responses:  # a view's own answer for it (health's 503) stands
                responses.setdefault(str(status), _name(status))
        responses.setdefault("default", "DEFAULT_ERROR")
        if not parameters:
            operation.pop("parameters")
