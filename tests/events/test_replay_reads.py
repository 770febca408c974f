"""Replays read the stream once per Last-Event-ID: one round trip proves the id and returns what
follows; streams reconnecting together from the same id share that read (a reconnect storm)."""
import time

import gevent
import pytest
import redis as redis_lib

from portal.events.hub import Hub
from portal.events.redis_stream import TooManyEntries, entries_after


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


def test_a_key_that_is_not_a_stream_is_a_lookup_error(redis_url):
    """Redis refuses the XRANGE (WRONGTYPE): the client resyncs, as for an unknown id."""
    conn = redis_lib.Redis.from_url(redis_url)
    key = f"unit:replay:plain:{time.time_ns()}"
    conn.set(key, "not a stream")
    try:
        with pytest.raises(LookupError, match="WRONGTYPE"):
            entries_after(conn, key, "1-0", 100)
    finally:
        conn.delete(key)


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
        # Older than what memory keeps (trimmed to the newest 4 once past 8): from Redis, in one
        # read that holds at most as much as memory (4): the stream then reads its own.
        assert isinstance(hub.entries_after(old[-1].decode()), TooManyEntries)
        assert xrange_calls(conn) - before == 1
        floor = "%d-%d" % hub.recent_floor  # the newest entry memory no longer holds
        kept = new[new.index(floor.encode()) + 1:]
        assert len(kept) <= 5 and [i for i, _f in hub.entries_after(floor)] == kept
        assert xrange_calls(conn) - before == 1
        # Ahead of this reader (another process's hub may be further on): from Redis too.
        assert isinstance(hub.entries_after("99999999999999-0"), LookupError)
        assert xrange_calls(conn) - before == 2
    finally:
        hub.unsubscribe(sub)
        hub.stop()
        conn.delete(key)


def test_a_stream_that_missed_more_than_one_shared_read_holds_reads_its_own(stream, redis_url):
    from portal.auth.principal import Principal
    from portal.events.connection import _replay_frames
    _conn, key, ids = stream
    hub = Hub(redis_url, key, freeze_gc=False, read=False, queue_size=5000, recent_max=100)
    assert isinstance(hub.entries_after(ids[0].decode()), TooManyEntries)
    sub = hub.subscribe(Principal("usr_ops", "OPS"))
    frames, floor = _replay_frames(hub, sub, ids[0].decode())
    assert len(frames) == 1202 and floor == tuple(int(p) for p in ids[-1].decode().split("-"))
    hub.replay_max = 1000  # beyond SSE_REPLAY_MAX it is still a resync
    frames, floor = _replay_frames(hub, sub, ids[0].decode())
    assert floor is None and b"resync" in frames[0]
    hub.unsubscribe(sub)
