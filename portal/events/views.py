"""GET /api/events (the SSE stream) and GET /api/metrics (Prometheus text)."""
import hmac

from flask import Response, current_app, request
from flask_smorest import Blueprint

from portal.auth.principal import current_principal
from portal.errors import Forbidden
from portal.events import connection, wire
from portal.events.metrics import metrics
from portal.openapi.operations import LAST_EVENT_ID

blp = Blueprint("events", __name__, url_prefix="/api", description="Live events")

_STREAM_DOC = {"responses": {"200": {
    "description": "A text/event-stream of the events the caller may see (docs/events.md).",
    "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    "429": "TOO_MANY_REQUESTS"},
    "parameters": [LAST_EVENT_ID, {
        "in": "query", "name": "lastEventId", "required": False,
        "schema": {"type": "string"},
        "description": "The same as Last-Event-ID, for clients that cannot set headers."}]}


@blp.route("/events", methods=["GET"])
@blp.doc(**_STREAM_DOC)
def events():
    """Live events for the caller; header or cookie auth; Last-Event-ID or ?lastEventId= replays."""
    headers = list(connection.STREAM_HEADERS)
    if request.method == "HEAD":
        current_principal()
        # No body is ever sent, so the server would never notice the client leave: a
        # subscribed HEAD held a stream slot (and a greenlet) until the token expired.
        return Response(b"", headers=headers)
    # Revocation is checked once, by open_stream after subscribing (a logout in between is then
    # heard either way): one Redis round trip per connect instead of two.
    principal = current_principal(skip_revocation_check=True)
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
    # gunicorn's workers expose the client socket: the hub shuts it on a reader too slow to keep up.
    sock = request.environ.get("gunicorn.socket") or request.environ.get("gunicorn.sock")
    # ...and, under gevent, lets the hub write events to it directly (portal/events/wire.py).
    direct = wire.for_environ(request.environ) if current_app.config["SSE_DIRECT_WRITES"] else None
    body = connection.open_stream(principal, last_event_id, sock, direct)
    return Response(body, direct_passthrough=True, headers=headers)


def _scraper_token_ok() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@blp.route("/metrics", methods=["GET"])
@blp.doc(responses={"200": {"description": "Prometheus text format, this process only.",
                            "content": {"text/plain": {"schema": {"type": "string"}}}}})
def prometheus_metrics():
    """This web process's event-stream metrics (OPS, or the METRICS_TOKEN bearer)."""
    if not _scraper_token_ok() and not current_principal().is_ops:
        raise Forbidden("Only OPS may read the metrics.")
    hub = current_app.extensions.get("event_hub")
    text = metrics.render(hub.count if hub is not None else 0)
    return Response(text, headers={"Cache-Control": "no-store"},
                    content_type="text/plain; version=0.0.4; charset=utf-8")
