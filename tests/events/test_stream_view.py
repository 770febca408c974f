"""GET /api/events in-process (the hub as a real thread): framing, auth, cap, replay, endings."""
import time
from datetime import timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token

from portal import create_app
from portal.auth.tokens import user_claims
from portal.events import delivery
from portal.events.hub import Hub
from portal.events.connection import get_hub, stream_body
from portal.extensions import db, redis_client
from tests.helpers import config_for, login_as
from tests.events.factories import ticket_event
from tests.events.sse_parse import parse_frames


@pytest.fixture(scope="module")
def sse_app(app, database_url, redis_url):
    """An app of its own (own hub, own Redis prefix) with fast heartbeats and a cap of 2."""
    sse_app = create_app("testing", config_for(
        database_url, redis_url, REDIS_PREFIX="sse:", SSE_HEARTBEAT_S=0.3,
        SSE_MAX_STREAMS_PER_USER=2, SSE_READ_BLOCK_MS=300, SSE_GC_FREEZE=False))
    yield sse_app
    hub = sse_app.extensions.get("event_hub")
    if hub:
        hub.stop()


@pytest.fixture
def sse(sse_app):
    return sse_app.test_client()


class Stream:
    """An open response body, read frame by frame."""

    def __init__(self, response):
        self.response, self.chunks = response, iter(response.response)
        self.buffer, self.pending, self.ended = "", [], False

    def frames(self, until, timeout=10):
        """Frames read until ``until(frame)`` is true for one (or the stream ends)."""
        got, deadline = [], time.time() + timeout
        while time.time() < deadline:
            while self.pending:
                frame = self.pending.pop(0)
                got.append(frame)
                if until(frame):
                    return got
            try:
                self.buffer += next(self.chunks).decode()
            except StopIteration:
                self.ended = True
                return got
            self.pending, self.buffer = parse_frames(self.buffer)
        raise AssertionError(f"timed out; got {got}")

    def events(self, until_id=None, timeout=10):
        """Event frames (with an id) until the one with ``until_id``."""
        frames = self.frames(lambda f: f["id"] == until_id, timeout)
        return [f for f in frames if f["id"]]

    def close(self):
        self.response.close()


def open_stream(sse, headers, **kwargs):
    response = sse.get("/api/events", headers=headers, buffered=False, **kwargs)
    return response, (Stream(response) if response.status_code == 200 else None)


def deliver(sse_app, demo, **kwargs):
    with sse_app.app_context():
        event_id = ticket_event(demo, **kwargs)
        stream_id = delivery.deliver_event(event_id)
        db.session.remove()
    return event_id, stream_id


def test_stream_opens_with_retry_and_connected_and_the_spec_headers(sse, demo):
    response, stream = open_stream(sse, login_as(sse, "tenant"))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Accel-Buffering"] == "no"
    first = stream.frames(lambda f: f["data"] is not None)
    assert first[0]["retry"] == 3000
    assert first[-1]["data"] == {"type": "connected",
                                 "data": {"message": "Connected to event stream"}}
    assert stream.frames(lambda f: f["comment"] == "ping", timeout=5)[-1]["comment"] == "ping"
    stream.close()


def test_live_event_arrives_with_its_stream_id(sse, sse_app, demo):
    _response, stream = open_stream(sse, login_as(sse, "landlord"))
    stream.frames(lambda f: f["data"] is not None)
    event_id, stream_id = deliver(sse_app, demo, by="tenant")
    events = stream.events(until_id=stream_id)
    assert events[-1]["data"]["type"] == "ticket.created"
    assert events[-1]["data"]["data"]["id"] == event_id
    # Its notification.created follows, to the landlord only.
    badge = stream.frames(lambda f: f["id"] is not None)[-1]
    assert badge["data"]["type"] == "notification.created"
    stream.close()


def test_no_token_bad_token_and_revoked_token_answer_401(sse):
    assert sse.get("/api/events").status_code == 401
    bad = sse.get("/api/events", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "invalid_token"
    headers = login_as(sse, "tenant")
    sse.post("/api/auth/logout", headers=headers)
    revoked = sse.get("/api/events", headers=headers)
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "token_revoked"


def test_streams_per_user_are_capped_with_429_in_the_error_shape(sse, sse_app):
    headers = login_as(sse, "ops")
    streams = [open_stream(sse, headers)[1] for _ in range(2)]
    refused = sse.get("/api/events", headers=headers)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_streams"
    streams[0].close()
    response, again = open_stream(sse, headers)
    assert response.status_code == 200
    for stream in (streams[1], again):
        stream.close()
    assert get_hub(sse_app).count == 0


def test_head_answers_the_stream_headers_without_taking_a_stream_slot(sse, sse_app, demo):
    """gunicorn drops a HEAD body but still iterates it; never written to, such a stream could
    not notice its client leave and held one of the user's slots until the token expired."""
    headers = login_as(sse, "contractor")
    for _ in range(3):  # one over the cap of 2
        response = sse.head("/api/events", headers=headers)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
    assert get_hub(sse_app).streams_of(demo["users"]["contractor"]) == 0
    assert sse_app.test_client().head("/api/events").status_code == 401
    response, stream = open_stream(sse, headers)
    assert response.status_code == 200
    stream.close()


def test_logout_closes_the_open_stream_with_a_notice(sse):
    headers = login_as(sse, "tenant")
    _response, stream = open_stream(sse, headers)
    stream.frames(lambda f: f["data"] is not None)
    assert sse.post("/api/auth/logout", headers=headers).status_code == 200
    frames = stream.frames(lambda f: False, timeout=5)
    assert stream.ended and frames[-1]["data"]["type"] == "session_revoked"


def test_stream_ends_before_the_token_expires_telling_the_client_to_refresh(sse, sse_app, demo):
    with sse_app.app_context():
        from portal.auth.models import User
        user = db.session.get(User, demo["users"]["tenant"])
        token = create_access_token(identity=user.id, expires_delta=timedelta(seconds=6),
                                    additional_claims={**user_claims(user), "sid": "short1"})
        db.session.remove()
    expires_at = pyjwt.decode(token, options={"verify_signature": False})["exp"]
    _response, stream = open_stream(sse, {"Authorization": "Bearer " + token})
    frames = stream.frames(lambda f: False, timeout=10)
    assert stream.ended and frames[-1]["data"]["type"] == "token_expiring"
    # Ended while the token was still valid (however long the machine took to get here).
    assert time.time() < expires_at


def test_last_event_id_replays_the_missed_visible_events_in_order(sse, sse_app, demo):
    _event, seen = deliver(sse_app, demo, by="tenant")
    missed = [deliver(sse_app, demo, by="tenant", landlord=ll)[1] for ll in ("ll1", "ll2", "ll1")]
    headers, expected = login_as(sse, "tenant"), [missed[0], missed[2]]
    for extra in ({"headers": {**headers, "Last-Event-ID": seen}},
                  {"headers": headers, "query_string": {"lastEventId": seen}}):
        response = sse.get("/api/events", buffered=False, **extra)
        stream = Stream(response)
        assert [e["id"] for e in stream.events(until_id=expected[-1])] == expected
        live = deliver(sse_app, demo, by="tenant")[1]
        assert [e["id"] for e in stream.events(until_id=live)] == [live]
        stream.close()
        expected.append(live)  # missed by the next connection too


@pytest.mark.parametrize("last_id", ["1-0", "garbage", "99999999999999-0"])
def test_unknown_or_malformed_last_event_id_gets_resync(sse, sse_app, demo, last_id):
    deliver(sse_app, demo)
    _response, stream = open_stream(sse, {**login_as(sse, "tenant"), "Last-Event-ID": last_id})
    frames = stream.frames(lambda f: f["data"] and f["data"]["type"] == "resync")
    # The resync itself arrived (not a stream that ended first), with no replayed event before it.
    assert frames[-1]["data"]["type"] == "resync" and not stream.ended
    assert [f for f in frames if f["id"]] == []
    stream.close()


@pytest.mark.parametrize("last_id", ["99999999999999999999-0", "1-99999999999999999999",
                                     "\u0661\u0662-0", "x" * 5000])
def test_ids_redis_would_refuse_get_resync_and_the_stream_stays_open(sse, sse_app, demo,
                                                                    last_id):
    """Past 2**64, non-ASCII digits, huge: once a Redis error that silently closed the stream,
    so a browser reconnected with the same ?lastEventId= every few seconds, forever."""
    _event, stream_id = deliver(sse_app, demo)
    _response, stream = open_stream(sse, login_as(sse, "tenant"),
                                    query_string={"lastEventId": last_id})
    stream.frames(lambda f: f["data"] and f["data"]["type"] == "resync")
    assert stream.frames(lambda f: f["comment"] == "ping", timeout=5)[-1]["comment"] == "ping"
    assert not stream.ended
    stream.close()


def test_an_id_with_surrounding_spaces_replays_like_the_bare_id(sse, sse_app, demo):
    _event, seen = deliver(sse_app, demo, by="tenant")
    _event, missed = deliver(sse_app, demo, by="tenant")
    _response, stream = open_stream(sse, login_as(sse, "tenant"),
                                    query_string={"lastEventId": f" {seen} "})
    assert [e["id"] for e in stream.events(until_id=missed)] == [missed]
    stream.close()


def readerless_hub(sse_app, redis_url, entries, **kwargs):
    """(hub, entry ids, subscribe): a hub without a reader on a fresh stream of ``entries``
    ticket events for tenant ``ten_x``; the test feeds the queues itself."""
    from portal.auth.principal import Principal
    with sse_app.app_context():
        key = redis_client.key("unit", time.time_ns())
        conn = redis_client.conn
    ids = [conn.xadd(key, {"t": "ticket.created", "a": "tenant:ten_x", "d": "{}"})
           for _ in range(entries)]
    hub = Hub(redis_url, key, freeze_gc=False, read=False, **kwargs)
    return hub, ids, lambda: hub.subscribe(Principal("usr_x", "TENANT", tenant_id="ten_x"))


def test_a_replay_longer_than_the_queue_is_a_resync_not_a_huge_write(sse_app, demo, redis_url):
    """Replay collects frames in memory: bounded by the queue size, like a live client."""
    hub, ids, subscribe = readerless_hub(sse_app, redis_url, 6, queue_size=4)
    for last_id, check in ((ids[0], lambda text: b"resync" in text and b"id: " not in text),
                           (ids[1], lambda text: text.count(b"id: ") == 4
                            and b"resync" not in text)):
        body = stream_body(hub, subscribe(), last_id, None, 5, 3000)
        text = next(body) + next(body)
        body.close()
        assert check(text), text


def test_live_events_buffered_during_replay_are_not_sent_twice(sse_app, demo, redis_url):
    """The generator itself: entries both replayed and queued live appear once, in order."""
    hub, ids, subscribe = readerless_hub(sse_app, redis_url, 4)
    sub = subscribe()
    # The reader handed over entries 2-3 (also in the replay) before the replay ran.
    hub.route(hub.commands.xrange(hub.stream_key, ids[2], ids[3]))
    body = stream_body(hub, sub, ids[0], None, 0.2, 3000)
    text = b""
    while text.count(b"id: ") < 3 or b": ping" not in text:
        text += next(body)
    body.close()
    frames, _rest = parse_frames(text.decode())
    assert [f["id"] for f in frames if f["id"]] == ids[1:]
    assert hub.count == 0


def test_opening_a_stream_looks_up_the_revocation_once_after_subscribing(sse, sse_app,
                                                                          revocation_lookups,
                                                                          monkeypatch):
    from portal.events import connection as stream_module
    headers = login_as(sse, "landlord")
    hub = get_hub(sse_app)
    before, counted = hub.count, stream_module.revoked_sessions
    seen = []

    def watched(session_ids):  # subscribed first: a logout from here on reaches the stream
        seen.append(hub.count - before)
        return counted(session_ids)
    monkeypatch.setattr(stream_module, "revoked_sessions", watched)
    revocation_lookups.clear()
    response, stream = open_stream(sse, headers)
    assert response.status_code == 200 and len(revocation_lookups) == 1 and seen == [1]
    stream.close()


def _revoke_quietly(sse_app, headers):
    """Log the session out in Redis without the control entry that would close its streams."""
    from flask_jwt_extended import decode_token

    from portal.auth import tokens
    with sse_app.app_context():
        claims = decode_token(headers["Authorization"].split()[1])
        redis_client.conn.set(tokens.revoked_key(claims["sid"]), "1", ex=60)
        return claims["sub"]


def test_a_logged_out_token_over_the_stream_cap_is_refused_as_revoked(sse, sse_app):
    headers = login_as(sse, "ops")
    streams = [open_stream(sse, headers)[1] for _ in range(2)]
    user_id = _revoke_quietly(sse_app, headers)
    assert get_hub(sse_app).streams_of(user_id) == 2  # at the cap: subscribe itself refuses
    refused = sse.get("/api/events", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "token_revoked"
    assert sse.head("/api/events", headers=headers).status_code == 401
    for stream in streams:
        stream.close()


@pytest.fixture(scope="module")
def capped_app(app, database_url, redis_url):
    """An app whose process holds at most two streams (whoever opens them)."""
    capped = create_app("testing", config_for(
        database_url, redis_url, REDIS_PREFIX="ssecap:", SSE_MAX_STREAMS_PER_WORKER=2,
        SSE_MAX_STREAMS_PER_USER=10, SSE_BUSY_RETRY_AFTER_S=7, SSE_READ_BLOCK_MS=300,
        SSE_GC_FREEZE=False))
    yield capped
    hub = capped.extensions.get("event_hub")
    if hub:
        hub.stop()


def test_a_full_worker_answers_503_server_busy_with_retry_after_and_keeps_serving_the_api(
        capped_app):
    client = capped_app.test_client()
    landlord, tenant = login_as(client, "landlord"), login_as(client, "tenant")
    streams = [open_stream(client, landlord)[1], open_stream(client, tenant)[1]]
    refused = client.get("/api/events", headers=tenant)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "7"
    assert refused.get_json()["error"]["code"] == "server_busy"
    # Without a token the answer is still 401: a full worker tells strangers nothing more.
    stranger = capped_app.test_client()  # no cookies from the logins above
    assert stranger.get("/api/events").status_code == 401
    # The API is answered while the streams hold the worker's share.
    assert client.get("/api/notifications/unread-count", headers=landlord).status_code == 200
    streams[0].close()
    response, again = open_stream(client, tenant)
    assert response.status_code == 200
    for stream in (streams[1], again):
        stream.close()
    assert get_hub(capped_app).count == 0


def test_the_default_cap_leaves_the_api_reserve_below_the_worker_connections():
    from portal.events.connection import max_streams_per_worker
    config = {"SSE_MAX_STREAMS_PER_WORKER": 0, "GUNICORN_WORKER_CONNECTIONS": 15000,
              "SSE_API_RESERVE": 1000}
    import resource
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert max_streams_per_worker(config) == max(min(15000, files) - 1000, 1)
    assert max_streams_per_worker({**config, "SSE_MAX_STREAMS_PER_WORKER": 5}) == 5
