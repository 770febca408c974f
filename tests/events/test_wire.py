"""The hub's direct writes to parked streams (portal/events/wire.py), on real gevent sockets."""
import gc
import runpy
import socket as std_socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gevent.socket
import pytest

from portal.auth.principal import Principal
from portal.events import connection, wire
from portal.events.hub import Hub
from portal.events.metrics import metrics
from tests.events.sse_parse import StrictChunks, parse_frames
from tests.events.test_hub import entry

OPS = Principal("usr_o", "OPS", session_id="s5")
OPS2 = Principal("usr_o2", "OPS", session_id="s6")


@pytest.fixture
def hub(redis_url):
    metrics.reset()
    hub = Hub(redis_url, "unit:wire", queue_size=3, max_per_user=5, freeze_gc=False, read=False)
    return hub


@pytest.fixture
def pair():
    """(the server's gevent socket, the client's plain socket), connected over TCP."""
    listener = std_socket.create_server(("127.0.0.1", 0))
    client = std_socket.create_connection(listener.getsockname())
    accepted, _addr = listener.accept()
    listener.close()
    server = gevent.socket.socket(fileno=accepted.detach())
    yield server, client
    server.close()
    client.close()


def read_exactly(sock, size, timeout=5):
    sock.settimeout(timeout)
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    return data


def parked(hub, principal, sock, chunked=True):
    """A subscriber whose stream greenlet is parked, as Subscriber.wait(direct=True) leaves it."""
    sub = hub.subscribe(principal, sock, wire.Wire(sock, chunked))
    sub.direct = True
    return sub


def test_for_environ_only_under_gunicorn_with_a_gevent_socket_and_http_1(pair, monkeypatch):
    server, client = pair
    base = {"gunicorn.socket": server, "SERVER_SOFTWARE": "gunicorn/27.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1"}
    # This test process is not monkey-patched: threads are real, so never direct.
    assert not wire.cooperative() and wire.for_environ(base) is None
    monkeypatch.setattr(wire, "cooperative", lambda: True)  # as in a gunicorn gevent worker
    assert wire.for_environ(base).chunked is True
    assert wire.for_environ({**base, "SERVER_PROTOCOL": "HTTP/1.0"}).chunked is False
    assert wire.for_environ({**base, "SERVER_PROTOCOL": "HTTP/2.0"}) is None
    assert wire.for_environ({**base, "gunicorn.socket": None}) is None
    assert wire.for_environ({**base, "SERVER_SOFTWARE": "Werkzeug/3.1"}) is None
    # A blocking standard socket (sync or gthread workers) could stall the hub: never direct.
    assert wire.for_environ({**base, "gunicorn.socket": client}) is None


def test_gunicorn_conf_keeps_every_write_in_gunicorn_under_its_uwsgi_protocol(app, monkeypatch):
    from gunicorn.config import Config
    settings = runpy.run_path(str(Path(__file__).parents[2] / "gunicorn.conf.py"))
    try:
        for protocol, expected in (("http", True), ("uwsgi", False)):
            cfg = Config()
            cfg.set("protocol", protocol)
            monkeypatch.setitem(app.config, "SSE_DIRECT_WRITES", True)  # restored afterwards
            settings["post_worker_init"](SimpleNamespace(cfg=cfg, wsgi=app))
            assert app.config["SSE_DIRECT_WRITES"] is expected
    finally:
        gc.unfreeze()  # the hook froze this test process's objects


def test_the_hub_writes_one_chunk_per_event_to_a_parked_stream_without_waking_it(hub, pair):
    server, client = pair
    sub = parked(hub, OPS, server)
    hub.route([entry(1, "ticket.created", ["role:OPS"])])
    frame = b'id: 1001-0\ndata: {"type":"ticket.created","data":{"id":"evt_1","type":"ticket.created"}}\n\n'
    expected = b"%X\r\n" % len(frame) + frame + b"\r\n"
    assert read_exactly(client, len(expected)) == expected
    assert not sub.queue and not sub.wakeup.is_set() and sub.direct
    assert metrics.counters["events_direct"] == 1 == metrics.counters["events_delivered"]
    assert sum(metrics.lag_counts) == 1


def test_an_http_1_0_stream_gets_the_frame_unframed(hub, pair):
    server, client = pair
    parked(hub, OPS, server, chunked=False)
    hub.route([entry(1, "ticket.created", ["role:OPS"])])
    assert read_exactly(client, 10) == b"id: 1001-0"


def test_a_stream_that_is_not_parked_gets_the_event_queued(hub, pair):
    server, client = pair
    sub = parked(hub, OPS, server)
    sub.direct = False  # its greenlet is busy writing: the hub must not interleave bytes
    hub.route([entry(1, "ticket.created", ["role:OPS"])])
    assert [item[0] for item in sub.queue] == [b"1001-0"] and sub.wakeup.is_set()
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(1)
    assert metrics.counters["events_direct"] == 0


def test_when_the_socket_buffer_is_full_the_event_is_queued_not_lost(hub, pair):
    server, client = pair
    sub = parked(hub, OPS, server)
    while wire.Wire(server, True).send_nowait(b"x" * 65536):
        pass  # the client is not reading: fill every buffer between them
    hub.route([entry(1, "ticket.created", ["role:OPS"]), entry(2, "ticket.created", ["role:OPS"])])
    assert [item[0] for item in sub.queue] == [b"1001-0", b"1002-0"]
    assert sub.wakeup.is_set() and not sub.direct and sub.pending is None


def test_a_frame_the_kernel_takes_half_of_leaves_its_tail_to_the_stream_in_order(hub, pair):
    server, client = pair
    server.setsockopt(std_socket.SOL_SOCKET, std_socket.SO_SNDBUF, 4096)
    sub = parked(hub, OPS, server)
    big = {"id": "evt_big", "pad": "p" * 4_000_000}
    hub.route([entry(1, "ticket.created", ["role:OPS"], big)])
    assert sub.pending is not None and 0 < len(sub.pending)
    assert sub.wakeup.is_set() and not sub.direct
    # The next event waits behind the tail, in the stream's queue.
    hub.route([entry(2, "ticket.created", ["role:OPS"])])
    assert [item[0] for item in sub.queue] == [b"1002-0"]


def test_a_burst_reaches_a_parked_stream_in_one_write(hub, pair):
    server, client = pair
    sub = parked(hub, OPS, server)
    other = parked(hub, OPS2, server)  # same audience, same bytes: framed once for both
    burst = [entry(n, "ticket.created", ["role:OPS"]) for n in range(1, 201)]
    hub.route(burst)
    frames = b"".join(b'id: %d-0\ndata: {"type":"ticket.created","data":{"id":"evt_%d",'
                      b'"type":"ticket.created"}}\n\n' % (1000 + n, n) for n in range(1, 201))
    one_chunk = b"%X\r\n" % len(frames) + frames + b"\r\n"
    assert read_exactly(client, 2 * len(one_chunk)) == one_chunk * 2
    assert sub.direct and other.direct and not sub.queue
    assert metrics.counters["events_direct"] == 400 and sum(metrics.lag_counts) == 400


def test_a_client_that_went_away_is_dropped_by_the_first_write(hub, pair):
    server, client = pair
    sub = parked(hub, OPS, server)
    other = parked(hub, OPS2, gevent.socket.socket())  # never connected: sending fails too
    client.setsockopt(std_socket.SOL_SOCKET, std_socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    client.close()  # RST: the server's next send fails
    time.sleep(0.05)
    hub.route([entry(1, "ticket.created", ["role:OPS"])])
    assert sub.closed == "gone" and other.closed == "gone"
    assert hub.count == 0 and not hub.index


def test_wait_lets_the_hub_write_only_while_it_is_parked(hub, pair):
    server, client = pair
    sub = hub.subscribe(OPS, server, wire.Wire(server, True))
    waiter = threading.Thread(target=sub.wait, args=(5, True))
    waiter.start()
    deadline = time.monotonic() + 5
    while not sub.direct and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sub.direct
    hub.route([entry(1, "ticket.created", ["role:OPS"])])
    assert read_exactly(client, 4).endswith(b"\r\n")  # the chunk's size line arrived
    assert waiter.is_alive()  # written without waking the stream
    sub.close("shutdown")
    waiter.join(5)
    assert not waiter.is_alive() and not sub.direct
    # Without a Wire (dev server, test client) a parked stream is woken with the event queued.
    plain = hub.subscribe(OPS2)
    waiter = threading.Thread(target=plain.wait, args=(5, True))
    waiter.start()
    time.sleep(0.1)
    hub.route([entry(2, "ticket.created", ["role:OPS"])])
    waiter.join(5)
    assert not waiter.is_alive() and [item[0] for item in plain.queue] == [b"1002-0"]


def read_chunks(sock, until: bytes, timeout=10):
    """The decoded (strictly chunked) body read from ``sock`` until it holds ``until``."""
    sock.settimeout(timeout)
    return StrictChunks().read_until(sock, lambda body: until in body)


def test_the_stream_finishes_a_half_written_frame_before_anything_else(hub, pair):
    server, client = pair
    server.setsockopt(std_socket.SOL_SOCKET, std_socket.SO_SNDBUF, 4096)
    sub = hub.subscribe(OPS, server, wire.Wire(server, True))
    body = connection.stream_body(hub, sub, None, None, 30.0, 3000)
    assert next(body).startswith(b"retry: 3000")  # what gunicorn writes, with the headers
    result = {}

    def publish_and_read():  # the hub's greenlet, and the client
        deadline = time.monotonic() + 5
        while not sub.direct and time.monotonic() < deadline:
            time.sleep(0.01)
        hub.route([entry(1, "ticket.created", ["role:OPS"],
                            {"id": "evt_big", "pad": "p" * 3_000_000}),
                      entry(2, "ticket.created", ["role:OPS"])])
        result["pending"] = sub.pending is not None
        try:
            result["body"] = read_chunks(client, b"1002-0")
        finally:
            hub.stop()

    other = threading.Thread(target=publish_and_read)
    other.start()
    # The rest of the body runs here, as the stream's greenlet would (the gevent socket belongs
    # to this thread's loop): parked, and writing only what the hub left to it.
    assert next(body, None) is None
    other.join(10)
    assert result["pending"]  # the kernel took only part of the big frame
    frames, rest = parse_frames(result["body"].decode())
    assert [frame["id"] for frame in frames] == ["1001-0", "1002-0"] and rest == ""
    assert len(frames[0]["data"]["data"]["pad"]) == 3_000_000
    assert hub.count == 0


def test_after_a_replay_direct_writes_begin_once_the_hub_has_passed_its_end(hub, pair):
    server, client = pair
    first = hub.commands.xadd("unit:wire", {"t": "ticket.created", "a": "role:OPS", "d": "{}"})
    last = hub.commands.xadd("unit:wire", {"t": "ticket.created", "a": "role:OPS", "d": "{}"})
    hub.last_id = last  # the reader has dispatched everything up to the replay's end
    sub = hub.subscribe(OPS, server, wire.Wire(server, True))
    body = connection.stream_body(hub, sub, first.decode(), None, 0.2, 3000)
    next(body)
    replayed = next(body)  # the missed entry, through gunicorn
    assert replayed.startswith(b"id: " + last)
    # No live event comes for this stream, yet the first wake (a heartbeat) sees the hub past
    # the replay and the stream parks for direct writes from then on.
    seen = {}

    def watch():
        deadline = time.monotonic() + 5
        while not sub.direct and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["direct"] = sub.direct
        hub.stop()

    watcher = threading.Thread(target=watch)
    watcher.start()
    client.settimeout(5)
    next(body, None)  # runs until hub.stop(); the pings go straight to the socket
    watcher.join(5)
    assert seen["direct"] is True
    assert read_chunks(client, b": ping").startswith(b": ping")
