"""The baseline: the flask-sse pattern, one Redis pub/sub subscription per SSE connection.

Served by gunicorn with gevent workers exactly like the portal (``bench.baseline_server:app``).
It authenticates with the portal's access tokens (same secret, claims only, no database) and
subscribes each stream to one channel per audience key of its principal; ``POST /api/publish``
does what ``flask_sse.sse.publish`` does inside a request: one ``PUBLISH`` per channel, and each
connection decodes the JSON and formats the SSE message itself (as flask-sse's ``Message`` does).
"""
import json
import os
import secrets
from datetime import datetime, timezone

import jwt as pyjwt
import redis
from flask import Flask, Response, jsonify, request

app = Flask(__name__)
SECRET = os.environ.get("JWT_SECRET_KEY", "dev-jwt-secret-change-me-0123456789abcdef")
PREFIX = os.environ.get("BASELINE_PREFIX", "baseline:")
# No socket timeout: a pub/sub read blocks until the next message (redis-py 8 defaults to 5 s).
# redis-py 8 also caps a pool at 100 connections by default ("Too many connections" at the
# 101st stream of a process): the flask-sse pattern needs one per client, so lift the cap.
redis_conn = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                                  socket_timeout=None, socket_connect_timeout=5,
                                  max_connections=1_000_000)


def _claims():
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        return pyjwt.decode(header[7:], SECRET, algorithms=["HS256"])
    except pyjwt.PyJWTError:
        return None


def _keys(claims):
    """The same audience keys the portal derives from a token."""
    keys = [f"user:{claims['sub']}", f"role:{claims['role']}"]
    for claim, prefix in (("landlordId", "landlord"), ("tenantId", "tenant"),
                          ("contractorId", "contractor")):
        if claims.get(claim):
            keys.append(f"{prefix}:{claims[claim]}")
    return keys


def _unauthorized():
    return jsonify({"error": {"code": "unauthorized", "message": "A valid token is required."}}), 401


@app.get("/api/health")
def health():
    """Liveness for the harness."""
    return jsonify({"status": "ok"})


@app.get("/api/events")
def events():
    """One pub/sub connection per client, subscribed to the principal's channels."""
    claims = _claims()
    if claims is None:
        return _unauthorized()
    channels = [PREFIX + key for key in _keys(claims)]

    def stream():
        pubsub = redis_conn.pubsub()
        pubsub.subscribe(*channels)
        try:
            yield "retry: 3000\n\n"
            yield 'data: {"type":"connected","data":{"message":"Connected to event stream"}}\n\n'
            for message in pubsub.listen():
                if message["type"] != "message":
                    continue
                # flask-sse: json.loads the published dict, then str(Message(**msg)).
                msg = json.loads(message["data"])
                yield f"id: {msg['id']}\ndata: {json.dumps(msg['data'])}\n\n"
        finally:
            pubsub.close()

    return Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def build_message(body) -> tuple:
    """(resource id, the JSON published) for an event described as POST /api/publish takes it."""
    prefix = {"ticket": "tkt", "invoice": "inv"}.get(body["resourceType"], "res")
    resource_id = f"{prefix}_{secrets.token_hex(12)}"
    event_id = f"evt_{secrets.token_hex(12)}"
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    envelope = {"id": event_id, "type": body["type"], "actorRole": body.get("actorRole"),
                "landlordId": body.get("landlordId"), "tenantId": body.get("tenantId"),
                "resources": [{"type": body["resourceType"], "id": resource_id}],
                "version": 1, "at": now}
    return resource_id, json.dumps({"id": event_id, "data": {"type": body["type"],
                                                             "data": envelope}})


@app.post("/api/publish")
def publish():
    """Publish one event to every audience channel, in the request (flask-sse's ``publish``)."""
    if _claims() is None:
        return _unauthorized()
    body = request.get_json()
    resource_id, message = build_message(body)
    # A client matches at most one channel of an event (its org key or its role), so each
    # receives it once; one PUBLISH per audience key, as a flask-sse user would write it.
    for key in body["audience"]:
        redis_conn.publish(PREFIX + key, message)
    return jsonify({"id": resource_id}), 201
