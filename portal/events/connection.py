"""One SSE connection: subscribe, replay after Last-Event-ID, then live events and pings."""
import functools
import logging
import os
import resource
import threading
import time

import redis
from flask import current_app

from portal.auth.tokens import revoked_sessions
from portal.errors import TokenRevoked
from portal.events import sse
from portal.events.batch import Batch
from portal.events.audience import visible
from portal.events.hub import Hub, StreamsFull, TooManyStreams
from portal.events.metrics import metrics
from portal.events.redis_stream import TooManyEntries, iter_entries_after, stream_key

log = logging.getLogger(__name__)

# A stream's response headers, whichever path opened it (views.py, fast_open.py).
STREAM_HEADERS = (("Cache-Control", "no-store"), ("X-Accel-Buffering", "no"),
                  ("Content-Type", "text/event-stream; charset=utf-8"))


def get_hub(app=None) -> Hub:
    """This process's hub for the app (created on first use, again after a fork)."""
    app = app or current_app._get_current_object()
    hub = app.extensions.get("event_hub")
    if hub is None or hub.pid != os.getpid():
        with app.extensions.setdefault("event_hub_lock", threading.Lock()):
            hub = app.extensions.get("event_hub")
            if hub is None or hub.pid != os.getpid():
                config = app.config
                with app.app_context():
                    key = stream_key()
                hub = Hub(config["REDIS_URL"], key, queue_size=config["SSE_QUEUE_SIZE"],
                          max_per_user=config["SSE_MAX_STREAMS_PER_USER"],
                          max_streams=max_streams_per_worker(config),
                          busy_retry_s=config["SSE_BUSY_RETRY_AFTER_S"],
                          block_ms=config["SSE_READ_BLOCK_MS"],
                          freeze_gc=config["SSE_GC_FREEZE"],
                          refreeze_s=config["SSE_GC_REFREEZE_S"], sweep_s=config["SSE_GC_SWEEP_S"],
                          replay_max=config["SSE_REPLAY_MAX"],
                          recent_max=config["SSE_REPLAY_MEMORY"],
                          revoked=Batch(functools.partial(_lookup_revoked, app),
                                        window_s=config["SSE_CHECK_BATCH_MS"] / 1000))
                app.extensions["event_hub"] = hub
    return hub


def _lookup_revoked(app, session_ids) -> list:
    with app.app_context():
        return revoked_sessions(session_ids)


def max_streams_per_worker(config) -> int:
    """SSE_MAX_STREAMS_PER_WORKER, or what the process can hold less a reserve for the API.

    Every stream holds a socket; when streams take all of the worker's connections (or its
    descriptors), the request that fires an event can no longer be accepted. The default keeps
    SSE_API_RESERVE of them free: ``min(GUNICORN_WORKER_CONNECTIONS, open-file limit) − reserve``.
    """
    explicit = config.get("SSE_MAX_STREAMS_PER_WORKER") or 0
    if explicit > 0:
        return explicit
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    room = config["GUNICORN_WORKER_CONNECTIONS"]
    if files != resource.RLIM_INFINITY:
        room = min(room, files)
    return max(room - config["SSE_API_RESERVE"], 1)


def open_stream(principal, last_event_id=None, sock=None, wire=None):
    """Subscribe the caller and return the stream's body (an iterator of bytes)."""
    config = current_app.config
    hub = get_hub()
    try:
        sub = hub.subscribe(principal, sock, wire)
    except (TooManyStreams, StreamsFull):
        if _revoked(hub, principal):
            raise TokenRevoked() from None  # 401 before 429: a logged-out token is simply refused
        raise
    # Revocation is checked here, once subscribed (the view skipped it): a logout before this
    # point is refused now, one after it reaches the stream as its control entry.
    try:
        revoked = _revoked(hub, principal)
    except BaseException:  # Redis down: a 503, and the slot must not stay taken
        hub.unsubscribe(sub)
        raise
    if revoked:
        hub.unsubscribe(sub)
        raise TokenRevoked()
    metrics.inc("connections")
    now = time.time()
    deadline = None
    if principal.expires_at:
        margin = min(config["SSE_EXPIRY_MARGIN_S"], max(principal.expires_at - now, 0) / 2)
        deadline = principal.expires_at - margin
    return stream_body(hub, sub, last_event_id, deadline, config["SSE_HEARTBEAT_S"],
                       config["SSE_RETRY_MS"])


def _revoked(hub, principal) -> bool:
    """Whether the caller's session was logged out (one round trip shared by the streams that
    open in the same instant; tokens without a session are never accepted)."""
    return not principal.session_id or hub.revoked(principal.session_id)


def replay(entries, sub_keys, max_frames=None):
    """Yield (entry id, frame) for the entries the subscriber may see; raise LookupError when
    more than ``max_frames`` are (more than the live queue would have held)."""
    sent = 0
    for entry_id, fields in entries:
        event_type = fields.get(b"t", b"")
        if event_type.startswith(b"control."):
            continue
        if visible(sub_keys, fields.get(b"a", b"").decode().split()):
            sent += 1
            if max_frames is not None and sent > max_frames:
                raise LookupError(entry_id)
            yield entry_id, sse.event_frame(entry_id, event_type, fields.get(b"d", b"{}"))


def _replay_frames(hub, sub, last_event_id):
    """(frames, floor): the missed visible frames and the last id they cover (None: resync)."""
    try:
        # Collected first so the floor is known before live frames are filtered against it.
        # At most a queue's worth: a client that missed more would have been cut off anyway,
        # and one reconnect must not hold megabytes of frames.
        entries = hub.entries_after(last_event_id)
        if isinstance(entries, TooManyEntries):  # a long way back: this stream's own paged read
            entries = iter_entries_after(hub.commands, hub.stream_key, last_event_id,
                                         hub.replay_max)
        elif isinstance(entries, LookupError):
            raise entries
        items = list(replay(entries, sub.keys, max_frames=sub.limit))
    except LookupError:
        metrics.inc("resyncs")
        return [sse.RESYNC], None
    floor = sse.parse_entry_id(items[-1][0]) if items else sse.parse_entry_id(last_event_id)
    return [frame for _id, frame in items], floor


def _emit(sub, data: bytes):
    """Write ``data`` to the client: yielded through gunicorn, or straight to the socket when the
    stream has a Wire (the hub writes to that socket too, so both must frame it the same way)."""
    if sub.wire is None:
        yield data
    else:
        if sub.pending is not None:  # the tail of a frame the hub could only half write
            sub.wire.send_all(sub.pending)
            sub.pending = None
        if data:  # never an empty chunk: on the wire that ends the body
            sub.wire.send_all(sub.wire.frame(data))
    sub.sent_at = time.monotonic()


def stream_body(hub, sub, last_event_id, deadline, heartbeat_s, retry_ms):
    """The body of one stream; the finally unsubscribes however the stream ends.

    The opening frame and any replay go out through gunicorn (which sends the headers first).
    After that, with a Wire, the hub writes live events to the socket itself while this greenlet
    is parked, and the greenlet wakes only for heartbeats, the end of the stream, and what the
    hub could not write at once.
    """
    try:
        yield sse.opening(retry_ms)
        floor = None
        if last_event_id:
            try:
                frames, floor = _replay_frames(hub, sub, last_event_id)
            except redis.RedisError as exc:
                log.warning("replay failed (%s); closing the stream", exc)
                return
            if frames:
                replayed = 0 if floor is None else len(frames)
                metrics.inc("events_replayed", replayed)
                metrics.inc("events_delivered", replayed)
                yield b"".join(frames)
        sub.sent_at = time.monotonic()
        if sub.wire is not None:
            sub.wire.watch_hangup(sub.on_readable)
        while True:
            if sub.readable:
                sub.readable = False
                if sub.wire.peer_closed():
                    metrics.inc("hangups")
                    return
            if sub.closed is not None:
                if sub.closed == "session_revoked":
                    metrics.inc("revoked")
                    yield from _emit(sub, sse.closing("session_revoked"))
                elif sub.pending is not None:
                    # gunicorn's closing chunk must not land inside a half-written one.
                    yield from _emit(sub, b"")
                return
            if deadline is not None and time.time() >= deadline:
                metrics.inc("expired")
                yield from _emit(sub, sse.closing("token_expiring"))
                return
            if time.monotonic() >= sub.sent_at + heartbeat_s:
                yield from _emit(sub, sse.PING)
            timeout = sub.sent_at + heartbeat_s - time.monotonic()
            if deadline is not None:
                timeout = min(timeout, deadline - time.time())
            # Direct writes only once nothing the replay sent can come again from the hub.
            sub.wait(max(timeout, 0), direct=floor is None)
            # Checked before draining: whatever the hub dispatched up to here is in the queue.
            passed = floor is not None and _hub_passed(hub, floor)
            items = sub.drain()
            if floor is not None:
                # Live events buffered during the replay: drop what the replay already sent.
                items = [item for item in items if sse.parse_entry_id(item[0]) > floor]
                if items or passed:
                    floor = None  # ids only grow: nothing after this can be a duplicate
            if items or sub.pending is not None:
                yield from _emit(sub, b"".join(item[1] for item in items))
            if items:
                written = time.time()
                metrics.inc("events_delivered", len(items))
                for item in items:
                    metrics.observe_lag(written - item[2] / 1000)
    except OSError:
        # Only a Wire write raises here (gunicorn's own writes fail outside this generator):
        # the client is gone, and there is nothing left to tell it.
        return
    finally:
        if sub.wire is not None:
            sub.wire.unwatch()
        hub.unsubscribe(sub)


def _hub_passed(hub, floor) -> bool:
    """Whether the hub has already dispatched everything up to ``floor`` (the replay's end)."""
    last = sse.parse_entry_id(hub.last_id) if hub.last_id is not None else None
    return last is not None and last >= floor
