"""The hub's audience dispatch, bounded queues and control entries (no reader thread)."""
import json

import pytest

from portal.auth.principal import Principal
from portal.events.hub import Hub, TooManyStreams
from portal.events.metrics import metrics

LANDLORD = Principal("usr_l1", "LANDLORD", landlord_id="ll_1", session_id="s1")
LANDLORD2 = Principal("usr_l2", "LANDLORD", landlord_id="ll_2", session_id="s2")
TENANT = Principal("usr_t1", "TENANT", tenant_id="ten_1", session_id="s3")
CONTRACTOR = Principal("usr_c", "CONTRACTOR", contractor_id="ctr_1", session_id="s4")
OPS = Principal("usr_o", "OPS", session_id="s5")


@pytest.fixture
def hub(redis_url):
    metrics.reset()
    return Hub(redis_url, "unit:events", queue_size=3, max_per_user=2, freeze_gc=False,
               read=False)  # no reader: the tests call route() themselves


def entry(n, event_type, audience, data=None):
    payload = json.dumps(data or {"id": f"evt_{n}", "type": event_type},
                         separators=(",", ":")).encode()
    return (f"{1000 + n}-0".encode(),
            {b"t": event_type.encode(), b"a": " ".join(audience).encode(), b"d": payload})


def ids(sub):
    return [item[0].decode() for item in sub.drain()]


def test_each_event_reaches_exactly_the_subscribers_whose_keys_meet_its_audience(hub):
    subs = {p.user_id: hub.subscribe(p) for p in (LANDLORD, LANDLORD2, TENANT, CONTRACTOR, OPS)}
    hub.route([
        entry(1, "ticket.created", ["landlord:ll_1", "tenant:ten_1", "role:OPS"]),
        entry(2, "ticket.assigned", ["landlord:ll_1", "tenant:ten_1", "role:OPS",
                                     "contractor:ctr_1"]),
        entry(3, "invoice.created", ["landlord:ll_2", "tenant:ten_9"]),
        entry(4, "notification.created", ["user:usr_t1"]),
    ])
    assert ids(subs["usr_l1"]) == ["1001-0", "1002-0"]
    assert ids(subs["usr_t1"]) == ["1001-0", "1002-0", "1004-0"]
    assert ids(subs["usr_c"]) == ["1002-0"]
    assert ids(subs["usr_o"]) == ["1001-0", "1002-0"]
    assert ids(subs["usr_l2"]) == ["1003-0"]


def test_an_event_matching_several_keys_is_queued_once_and_framed_once(hub):
    tenant = hub.subscribe(TENANT)
    other = hub.subscribe(Principal("usr_t2", "TENANT", tenant_id="ten_1", session_id="s9"))
    hub.route([entry(1, "ticket.created", ["tenant:ten_1", "user:usr_t1", "role:TENANT"])])
    mine, theirs = tenant.drain(), other.drain()
    assert len(mine) == 1 and len(theirs) == 1
    assert mine[0][1] is theirs[0][1]  # one bytes object shared by every client
    assert mine[0][1] == (b'id: 1001-0\ndata: {"type":"ticket.created","data":'
                          b'{"id":"evt_1","type":"ticket.created"}}\n\n')


def test_a_full_queue_closes_only_that_stream_and_is_counted(hub):
    slow, fast = hub.subscribe(TENANT), hub.subscribe(LANDLORD)
    events = [entry(n, "ticket.created", ["tenant:ten_1", "landlord:ll_1"]) for n in range(5)]
    hub.route(events[:3])
    fast.drain()
    hub.route(events[3:])
    assert slow.closed == "overflow" and fast.closed is None
    assert len(ids(fast)) == 2
    assert metrics.counters["overflow_disconnects"] == 1
    assert hub.streams_of("usr_t1") == 0 and hub.count == 1
    hub.route([entry(9, "ticket.created", ["tenant:ten_1", "landlord:ll_1"])])
    assert len(slow.queue) == 3 and ids(fast) == ["1009-0"]


def test_a_session_revocation_closes_that_sessions_streams_and_is_never_forwarded(hub):
    revoked, other_session = hub.subscribe(TENANT), hub.subscribe(OPS)
    hub.route([entry(1, "control.session_revoked", ["session:s3"])])
    assert revoked.closed == "session_revoked" and not revoked.queue
    assert other_session.closed is None and not other_session.queue
    assert hub.count == 1


def test_streams_per_user_are_capped_and_unsubscribe_frees_a_slot(hub):
    first, _second = hub.subscribe(TENANT), hub.subscribe(TENANT)
    with pytest.raises(TooManyStreams):
        hub.subscribe(TENANT)
    hub.unsubscribe(first)
    hub.unsubscribe(first)  # idempotent
    assert hub.count == 1
    hub.subscribe(TENANT)
    assert hub.streams_of(TENANT.user_id) == 2


def test_replays_beyond_the_command_pool_wait_for_a_connection_instead_of_failing(redis_url):
    """A burst of reconnects needs more replays than the pool has connections: they queue."""
    import threading

    from portal.events.redis_stream import entries_after

    hub = Hub(redis_url, "unit:pool", freeze_gc=False, command_connections=1)
    first = hub.commands.xadd("unit:pool", {"t": "ticket.created", "a": "role:OPS", "d": "{}"})
    hub.commands.xadd("unit:pool", {"t": "ticket.created", "a": "role:OPS", "d": "{}"})
    held = hub.commands.connection_pool.get_connection("XRANGE")
    result = {}

    def reconnect():
        try:
            result["ids"] = [i for i, _f in entries_after(hub.commands, "unit:pool",
                                                          first.decode(), 100)]
        except Exception as exc:  # noqa: BLE001 - the test reports what a client would see
            result["error"] = exc

    thread = threading.Thread(target=reconnect)
    thread.start()
    thread.join(0.3)
    hub.commands.connection_pool.release(held)
    thread.join(10)
    assert "error" not in result, result["error"]
    assert len(result["ids"]) == 1


def test_held_streams_are_frozen_out_of_the_gc_and_closed_ones_swept(redis_url):
    import gc
    import weakref

    class Stream:
        pass

    hub = Hub(redis_url, "test:gc-stream", refreeze_s=0.0, sweep_s=3600.0)
    gc.unfreeze()
    try:
        closed = Stream()
        closed.cycle = closed  # what a finished stream leaves behind: garbage only a GC frees
        alive = weakref.ref(closed)
        hub.refreeze()  # frozen while the stream was open
        assert gc.get_freeze_count() > 0
        del closed
        gc.collect()
        assert alive() is not None  # frozen objects are out of every collection's reach
        hub.sweep_s = 0.0  # the next refreeze is due for a sweep
        hub.refreeze()  # the periodic sweep
        assert alive() is None
        assert gc.get_freeze_count() > 0  # and what is still held is frozen again
    finally:
        gc.unfreeze()
