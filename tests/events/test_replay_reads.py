"""Replays read the stream once per Last-Event-ID: one round trip proves the id and returns what
follows; streams reconnecting together from the same id share that read (a reconnect storm)."""
import time

import gevent
import pytest
import redis as redis_lib

from portal.events.hub import Hub
from portal.events.redis_stream import entries_after


@pytest.fixture
def stream(redis_url):
    conn = redis_lib.Redis.from_url(redis_url)
    key = f"unit:replay:{time.time_ns()}"
    ids = [conn.xadd(key, {"t": "ticket.created", "a": "role:OPS", "d": "{}"})
           for _ in range(1203)]
    yield conn, key, ids
    conn.delete(key)


def xrange_calls(conn) -> int:
    return int(conn.info("commandstats").get("cmdstat_xrange", {}).get("calls", 0))


def test_one_read_proves_the_id_and_returns_what_follows(stream):
    conn, key, ids = stream
    before = xrange_calls(conn)
    assert [i for i, _f in entries_after(conn, key, ids[-3].decode(), 100)] == ids[-2:]
    assert xrange_calls(conn) - before == 1
    assert entries_after(conn, key, ids[-1].decode(), 100) == []


def test_a_long_replay_pages_through_in_order(stream):
    conn, key, ids = stream
    assert [i for i, _f in entries_after(conn, key, ids[0].decode(), 5000)] == ids[1:]


@pytest.mark.parametrize("bad", ["0-1", "99999999999999-0", "not-an-id", ""])
def test_an_unknown_or_malformed_id_is_a_lookup_error(stream, bad):
    conn, key, _ids = stream
    with pytest.raises(LookupError):
        entries_after(conn, key, bad, 100)


def test_more_entries_than_allowed_is_a_lookup_error(stream):
    conn, key, ids = stream
    with pytest.raises(LookupError):
        entries_after(conn, key, ids[0].decode(), 1000)
    assert len(entries_after(conn, key, ids[0].decode(), 1202)) == 1202


def test_streams_reconnecting_from_the_same_id_share_one_read(stream, redis_url):
    conn, key, ids = stream
    hub = Hub(redis_url, key, freeze_gc=False, read=False, replay_max=100)
    hub.missed.cooperative = True  # as under gunicorn's gevent worker
    asked = [ids[-3].decode()] * 30 + [ids[-2].decode()] * 10 + ["0-1"] * 5
    before = xrange_calls(conn)
    jobs = [gevent.spawn(hub.missed, last_id) for last_id in asked]
    gevent.joinall(jobs, timeout=10, raise_error=True)
    assert xrange_calls(conn) - before == 3  # one per distinct id
    answers = [job.value for job in jobs]
    assert all([i for i, _f in a] == ids[-2:] for a in answers[:30])
    assert all([i for i, _f in a] == ids[-1:] for a in answers[30:40])
    assert all(isinstance(a, LookupError) for a in answers[40:])


def test_a_replay_after_what_the_reader_has_read_comes_from_memory(redis_url):
    from portal.auth.principal import Principal
    conn = redis_lib.Redis.from_url(redis_url)
    key = f"unit:recent:{time.time_ns()}"
    entry = {"t": "ticket.created", "a": "role:OPS", "d": "{}"}
    old = [conn.xadd(key, entry, id=f"100-{n}") for n in (1, 2, 3)]
    hub = Hub(redis_url, key, freeze_gc=False, block_ms=200, recent_max=4)
    sub = hub.subscribe(Principal("usr_ops", "OPS"))  # starts the reader at the stream's end
    try:
        new = [conn.xadd(key, entry, id=f"200-{n}") for n in range(2, 22, 2)]
        deadline = time.monotonic() + 10
        while hub.last_id != new[-1] and time.monotonic() < deadline:
            time.sleep(0.02)
        before = xrange_calls(conn)
        assert [i for i, _f in hub.entries_after(new[-3].decode())] == new[-2:]
        assert [i for i, _f in hub.entries_after(new[-1].decode())] == []
        assert isinstance(hub.entries_after("200-15"), LookupError)  # never in the stream
        assert isinstance(hub.entries_after("0-0"), LookupError)  # no entry has that id
        assert xrange_calls(conn) - before == 0  # all four answered from memory
        # Older than what memory keeps (the newest 5 of 10: trimmed to 4 past 8): from Redis.
        assert [i for i, _f in hub.entries_after(old[-1].decode())] == new
        assert xrange_calls(conn) - before == 1
        # Ahead of this reader (another process's hub may be further on): from Redis too.
        assert isinstance(hub.entries_after("99999999999999-0"), LookupError)
        assert xrange_calls(conn) - before == 2
    finally:
        hub.unsubscribe(sub)
        hub.stop()
        conn.delete(key)
