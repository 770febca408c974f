"""Live events end to end: gunicorn+gevent (2 processes), Celery worker+beat, Redis, SSE sockets."""
import random
import time

import pytest

from portal.extensions import db
from portal.notifications.models import Notification
from tests.integration.events_stack import USERS, running_stack
from tests.events.factories import invoice_keys, ticket_keys
from tests.events.sse_parse import parse_frames
from tests.integration.sse_client import SSEClient, kind


@pytest.fixture(scope="module")
def stack(app, demo, database_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("events-stack"), database_url) as stack:
        yield stack


@pytest.fixture
def streams(stack):
    """One open stream per demo user, by short name."""
    clients = {name: stack.connect(name) for name in USERS}
    yield clients
    stack.close_clients()


def keys_of(user):
    keys = {f"user:{user['id']}", f"role:{user['role']}"}
    for field, prefix in (("landlordId", "landlord"), ("tenantId", "tenant"),
                          ("contractorId", "contractor")):
        if user[field]:
            keys.add(f"{prefix}:{user[field]}")
    return keys


def publish_ticket(stack, demo, landlord, contractor=False, by="tenant",
                   event_type="ticket.created"):
    tenant = "ten1" if landlord == "ll1" else "ten2"
    audience = ticket_keys(demo, landlord, contractor)
    event_id = stack.publish(event_type, by, landlord_id=demo[landlord], tenant_id=demo[tenant],
                             resources=[{"type": "ticket", "id": "tkt_it"}], audience=audience)
    return event_id, set(audience)


def publish_invoice(stack, demo, landlord, by="landlord"):
    tenant = "ten1" if landlord == "ll1" else "ten2"
    audience = invoice_keys(demo, landlord)
    event_id = stack.publish("invoice.created", by, landlord_id=demo[landlord],
                             tenant_id=demo[tenant], audience=audience,
                             resources=[{"type": "invoice", "id": "inv_it"}])
    return event_id, set(audience)


def fence(stack, streams, published):
    """A last event to each user; once it arrives, everything published before was dispatched."""
    # Worker threads deliver concurrently: wait until every event is in the stream, so that
    # each fence is appended after all of them.
    stack.wait_delivered([event_id for event_id, _audience in published])
    for name, client in streams.items():
        event_id = stack.publish("test.fence", None, landlord_id=None, tenant_id=None,
                                 resources=[], audience=[f"user:{client.user['id']}"])
        client.wait_event(event_id, timeout=30)


def assert_exact_delivery(stack, streams, published):
    """Each stream got exactly the published events it may see, once each, in stream order."""
    fence(stack, streams, published)
    for name, client in streams.items():
        events = client.events()
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), f"{name} saw an SSE id twice"
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
        domain = {e["data"]["data"]["id"] for e in events
                  if kind(e) not in ("notification.created", "test.fence")}
        expected = {event_id for event_id, audience in published
                    if audience & keys_of(client.user)}
        assert domain == expected, f"{name}: leaked {domain - expected}, missed {expected - domain}"
        badges = {e["data"]["data"]["resources"][0]["id"] for e in events
                  if kind(e) == "notification.created"}
        with stack.ctx():
            owners = {n.id: n.user_id for n in db.session.execute(db.select(Notification).where(
                Notification.event_id.in_([e for e, _a in published]))).scalars()}
        mine = {ntf for ntf, user_id in owners.items() if user_id == client.user["id"]}
        assert badges - {None} >= mine, f"{name} missed notification.created"
        assert all(owners.get(ntf, client.user["id"]) == client.user["id"] for ntf in badges)
        for event in events:  # ids, types, versions and times only
            assert set(event["data"]["data"]) == {"id", "type", "actorRole", "landlordId",
                                                  "tenantId", "resources", "version", "at"}


def test_each_demo_user_receives_what_the_visibility_table_allows(stack, demo, streams):
    published = [
        publish_ticket(stack, demo, "ll1", by="tenant"),
        publish_ticket(stack, demo, "ll1", contractor=True, by="landlord",
                       event_type="ticket.assigned"),
        publish_ticket(stack, demo, "ll2", by="tenant2"),
        publish_invoice(stack, demo, "ll1"),
        publish_invoice(stack, demo, "ll2", by="landlord2"),
    ]
    assert_exact_delivery(stack, streams, published)
    received = {name: {e["data"]["data"]["id"] for e in c.events()} for name, c in streams.items()}
    first, assigned, other, invoice1, invoice2 = (event_id for event_id, _a in published)
    assert first in received["landlord"] and first in received["tenant"]
    assert first in received["ops"] and first not in received["contractor"]
    assert assigned in received["contractor"] and other not in received["contractor"]
    assert invoice1 not in received["ops"] and invoice1 not in received["contractor"]
    assert invoice2 in received["tenant2"] and invoice2 not in received["tenant"]


def test_randomized_burst_across_two_landlords_leaks_nothing(stack, demo, streams):
    rng = random.Random(4)
    published = []
    for _ in range(60):
        landlord = rng.choice(("ll1", "ll2"))
        if rng.random() < 0.35:
            published.append(publish_invoice(stack, demo, landlord,
                                             by="landlord" if landlord == "ll1" else "landlord2"))
        else:
            published.append(publish_ticket(stack, demo, landlord, contractor=rng.random() < 0.5,
                                            by=rng.choice(("ops", "contractor", None))))
    assert_exact_delivery(stack, streams, published)


def test_reconnect_with_last_event_id_gets_exactly_the_missed_events_then_live(stack, demo):
    first = stack.connect("tenant")
    seen_id, _a = publish_ticket(stack, demo, "ll1", by="tenant")
    last_seen = first.wait_event(seen_id)["id"]
    token = first.token
    first.close()
    missed = [publish_ticket(stack, demo, "ll1", by=None)[0],  # + a notification.created
              publish_ticket(stack, demo, "ll2", by=None)[0],  # not the tenant's
              publish_invoice(stack, demo, "ll1")[0]]
    stack.wait_delivered(missed)
    # What the tenant may see after last_seen, read straight from Redis.
    keys = {f"tenant:{demo['ten1']}", f"user:{demo['users']['tenant']}", "role:TENANT"}
    expected = [entry_id for entry_id, fields in stack.redis().xrange(
        "it:events", "(" + last_seen, "+") if set(fields["a"].split()) & keys]
    assert len(expected) == 4  # two events, two notifications
    again = stack.connect(None, headers={"Authorization": "Bearer " + token,
                                         "Last-Event-ID": last_seen})
    again.wait_for(lambda f: f["id"] == expected[-1])
    live_id, _a = publish_ticket(stack, demo, "ll1", by="tenant")
    live = again.wait_event(live_id)["id"]
    ids = [e["id"] for e in again.events()]
    assert ids == expected + [live]


def test_delivering_twice_shows_each_client_one_frame_per_event(stack, demo, streams):
    event_id, audience = publish_ticket(stack, demo, "ll1", by="ops")
    stack.wait_delivered([event_id])
    celery = stack.app.extensions["celery"]
    for _ in range(2):
        celery.send_task("events.deliver", args=[event_id])
    with stack.ctx():  # as if the first run died after its XADD, before marking the row
        from portal.events import delivery
        from portal.events.models import OutboxEvent
        db.session.get(OutboxEvent, event_id).delivered_at = None
        db.session.commit()
        delivery.deliver_event(event_id)
    assert_exact_delivery(stack, streams, [(event_id, audience)])
    entries = [f for _i, f in stack.redis().xrange("it:events") if event_id in f["d"]]
    assert [f["t"] for f in entries].count("ticket.created") == 1
    with stack.ctx():
        assert db.session.query(Notification).filter_by(event_id=event_id).count() == 2


def test_logout_closes_that_sessions_open_stream_within_seconds(stack, demo):
    doomed, other = stack.connect("tenant"), stack.connect("tenant")
    response = stack_request(stack, "POST", "/api/auth/logout", doomed.token)
    assert response == 200
    assert doomed.closed.wait(10), "the revoked stream stayed open"
    assert kind(doomed.snapshot()[-1]) == "session_revoked"
    event_id, _a = publish_ticket(stack, demo, "ll1", by="ops")
    other.wait_event(event_id)  # the user's other session is untouched
    refused = SSEClient(stack.port, {"Authorization": "Bearer " + doomed.token})
    assert refused.status == 401 and refused.body["error"]["code"] == "token_revoked"


def test_cookie_authenticated_stream_like_a_browser(stack, demo):
    _user, _body, cookies = stack.login("landlord2")
    jar = "; ".join(c.split(";", 1)[0] for c in cookies if c.startswith("access_token_cookie="))
    client = stack.connect(None, headers={"Cookie": jar})
    assert client.status == 200
    assert client.headers["Cache-Control"] == "no-store"
    assert client.headers["X-Accel-Buffering"] == "no"
    event_id, _a = publish_invoice(stack, demo, "ll2", by="tenant2")
    client.wait_event(event_id)
    assert SSEClient(stack.port, {}).status == 401


def test_metrics_count_the_streams_for_ops_only(stack, streams):
    ops_token = streams["ops"].token
    status, text = stack_request(stack, "GET", "/api/metrics", ops_token, text=True)
    assert status == 200
    for name in ("portal_sse_connected_clients", "portal_sse_events_delivered_total",
                 "portal_sse_overflow_disconnects_total",
                 "portal_sse_publish_to_write_seconds_bucket"):
        assert name in text
    assert stack_request(stack, "GET", "/api/metrics", streams["tenant"].token) == 403


def stack_request(stack, method, path, token, text=False):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    conn.request(method, path, headers={"Authorization": "Bearer " + token})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return (response.status, body) if text else response.status


def test_the_ticket_api_feeds_the_streams(stack, demo, streams):
    """The real path: POST /api/tickets and /assign through gunicorn, then the same checks."""
    import json as json_lib

    from portal.events.models import OutboxEvent

    created = api_json(stack, "POST", "/api/tickets", streams["tenant"].token, {
        "propertyId": demo["prop1"], "title": "Leaking tap", "category": "plumbing",
        "description": "The kitchen tap drips.", "priority": "HIGH"})
    assert created[0] == 201, created
    ticket_id = created[1]["id"]
    assigned = api_json(stack, "POST", f"/api/tickets/{ticket_id}/assign",
                        streams["landlord"].token, {"contractorId": demo["ctr"]})
    assert assigned[0] == 200, assigned
    with stack.ctx():
        rows = db.session.execute(db.select(OutboxEvent).where(
            OutboxEvent.resources.contains(ticket_id)).order_by(OutboxEvent.created_at)).scalars()
        published = [(row.id, set(json_lib.loads(row.audience))) for row in rows]
    assert len(published) == 2
    assert_exact_delivery(stack, streams, published)
    got = {name: [kind(e) for e in c.events() if kind(e).startswith("ticket.")]
           for name, c in streams.items()}
    assert got["tenant"] == got["landlord"] == got["ops"] == ["ticket.created", "ticket.assigned"]
    assert got["contractor"] == ["ticket.assigned"]
    assert got["landlord2"] == got["tenant2"] == []


def api_json(stack, method, path, token, body):
    import http.client
    import json as json_lib
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    conn.request(method, path, json_lib.dumps(body), {"Authorization": "Bearer " + token,
                                                      "Content-Type": "application/json"})
    response = conn.getresponse()
    result = response.status, json_lib.loads(response.read() or b"null")
    conn.close()
    return result


def _recv(sock, size=65536) -> bytes:
    """Bytes from the socket; fails (rather than spinning) if the server closed it."""
    data = sock.recv(size)
    assert data, "the server closed the connection"
    return data


def worker_metrics(stack, token, name, timeout=15.0):
    """{pid: value} of one metric from both workers, over new connections until both have
    answered (on a busy machine one worker may take forty connections in a row: a sum over
    one worker compared with a sum over two would count the other's whole total)."""
    import re
    values = {}
    deadline = time.monotonic() + timeout
    while len(values) < 2:
        assert time.monotonic() < deadline, f"only workers {sorted(values)} answered {name}"
        status, text = stack_request(stack, "GET", "/api/metrics", token, text=True)
        assert status == 200
        match = re.search(rf'^{name}{{pid="(\d+)"}} (\d+)$', text, re.M)
        values[match.group(1)] = int(match.group(2))
    return values


def test_an_http_1_0_client_reads_plain_frames_the_hub_wrote_to_its_socket(stack, demo):
    import json as json_lib
    import socket
    ops = stack.login("ops")[1]["accessToken"]
    before = sum(worker_metrics(stack, ops, "portal_sse_events_direct_total").values())
    token = stack.login("landlord2")[1]["accessToken"]
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
    sock.sendall(f"GET /api/events HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    received = b""
    while b"Connected to event stream" not in received:
        received += _recv(sock)
    head, _sep, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and b"chunked" not in head.lower()
    # Once the stream's greenlet parks the hub writes to the socket itself; how soon that is
    # depends on the machine's load, so events are published until one has been written directly.
    for _attempt in range(20):
        event_id, _audience = publish_invoice(stack, demo, "ll2", by="tenant2")
        while event_id.encode() not in body:
            body += _recv(sock)
        after = sum(worker_metrics(stack, ops, "portal_sse_events_direct_total").values())
        if after > before:
            break
    sock.close()
    # No chunk-size lines: only SSE frames, the event among them, whole.
    frames = body.split(b"\n\n")
    assert all(f.startswith((b"retry:", b"data:", b"id:", b": ping")) for f in frames if f)
    event = next(json_lib.loads(f.split(b"\ndata: ", 1)[1]) for f in frames
                 if event_id.encode() in f)
    assert event["type"] == "invoice.created" and event["data"]["id"] == event_id
    assert after > before


def test_a_raw_http_1_1_stream_stays_well_framed_through_a_big_event_and_a_logout(stack, demo):
    """Strict chunk decoding after the hub could write only part of a 6 MB event at once."""
    import json as json_lib
    import socket

    from portal.events.redis_stream import stream_key
    from tests.events.sse_parse import StrictChunks
    token = stack.login("ops")[1]["accessToken"]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", stack.port))
    sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: it\r\nAuthorization: Bearer {token}\r\n"
                 "\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += _recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    chunks = StrictChunks()
    chunks.read_until(sock, lambda body: b"Connected to event stream" in body)
    time.sleep(0.5)  # the stream's greenlet parks: from here the hub writes to the socket
    with stack.ctx():
        key = stream_key()
    # More than the kernel's largest send buffer (tcp_wmem max, 4 MB): the hub's one
    # non-blocking send takes part of it, and the stream's greenlet must finish the rest.
    big = json_lib.dumps({"id": "evt_big", "pad": "p" * 6_000_000})
    big_id = stack.redis().xadd(key, {"t": "ticket.test", "a": "role:OPS", "d": big})
    small_id = stack.redis().xadd(key, {"t": "ticket.test", "a": "role:OPS", "d": "{}"})
    time.sleep(1)  # not reading meanwhile: the client's buffer and the server's fill up
    chunks.read_until(sock, lambda body: small_id.encode() in body[-65536:])
    assert stack_request(stack, "POST", "/api/auth/logout", token) == 200
    body = chunks.read_until(sock, lambda body: b"session_revoked" in body[-65536:])
    while not chunks.finished:  # the stream ends with gunicorn's last chunk, well placed
        chunks.feed(_recv(sock))
    frames, rest = parse_frames(body.decode())
    assert rest == ""
    assert [frame["id"] for frame in frames if frame["id"]] == [big_id, small_id]
    big_frame = next(frame for frame in frames if frame["id"] == big_id)
    assert len(big_frame["data"]["data"]["pad"]) == 6_000_000
    assert frames[-1]["data"]["type"] == "session_revoked"
    # The connection is still in step: a second request on it is answered.
    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: it\r\n\r\n")
    answer = bytes(chunks.raw)
    while b"\r\n\r\n" not in answer:
        answer += _recv(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    sock.close()


def test_a_burst_of_connects_refuses_exactly_the_logged_out_sessions(stack, demo):
    """Streams opening together share one revocation lookup in each worker (events/batch.py);
    each must still get its own session's answer."""
    import threading
    sessions = [stack.login(name)[1]["accessToken"] for name in USERS]
    for token in sessions[:2]:
        assert stack_request(stack, "POST", "/api/auth/logout", token) == 200
    tokens = [sessions[i % 6] for i in range(48)]  # 8 streams per user: under the cap of 10
    barrier, clients = threading.Barrier(len(tokens)), [None] * len(tokens)

    def open_one(i):
        barrier.wait()
        clients[i] = SSEClient(stack.port, {"Authorization": "Bearer " + tokens[i]})
    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        _check_burst(stack, demo, tokens, sessions, clients)
    finally:  # held streams count against their users' caps in later tests
        for client in clients:
            if client is not None:
                client.close()


def _check_burst(stack, demo, tokens, sessions, clients):
    for token, client in zip(tokens, clients):
        if token in sessions[:2]:
            assert client.status == 401 and client.body["error"]["code"] == "token_revoked"
        else:
            assert client.status == 200
    event_id, _a = publish_ticket(stack, demo, "ll1", by="ops")  # seen by tenant and ops
    for i, client in enumerate(clients):
        if USERS[i % 6] in ("tenant", "ops"):
            client.wait_event(event_id)


def test_a_parked_stream_ends_as_soon_as_its_client_hangs_up(stack, demo):
    """Not at its next heartbeat: after a deploy every client drops at once, and the dead
    streams must free their descriptors before the reconnects need them."""
    import socket
    ops = stack.login("ops")[1]["accessToken"]
    # Earlier tests' streams may still be ending (and counting their own hang-ups) on a busy
    # machine: start from none open, so only these five are counted.
    deadline = time.monotonic() + 10
    while sum(worker_metrics(stack, ops, "portal_sse_connected_clients").values()) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(worker_metrics(stack, ops, "portal_sse_connected_clients").values()) == 0
    before = sum(worker_metrics(stack, ops, "portal_sse_hangups_total").values())
    token = stack.login("tenant2")[1]["accessToken"]
    socks = []
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
        sock.sendall(f"GET /api/events HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        received = b""
        while b"Connected to event stream" not in received:
            received += _recv(sock)
        assert received.startswith(b"HTTP/1.1 200"), received[:200]
        socks.append(sock)
    time.sleep(0.5)  # parked
    for sock in socks:
        sock.close()
    deadline = time.monotonic() + 10
    while True:
        after = sum(worker_metrics(stack, ops, "portal_sse_hangups_total").values())
        if after - before >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert after - before == 5
