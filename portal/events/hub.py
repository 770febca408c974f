"""The event hub: one reader per web process fanning the Redis stream out to local streams.

One blocking XREAD on one dedicated connection serves every client of the process; each event is
framed once and, by audience-key lookup, either written straight to the sockets of streams whose
greenlets are parked (under gunicorn + gevent, see wire.py) or handed to bounded per-connection
queues for the stream to write itself. The reader is a
``threading.Thread``: a greenlet under gunicorn's gevent worker (which patches threading before
the app is imported), a real thread under the dev server and the test client.
"""
import bisect
import functools
import gc
import logging
import os
import threading
import time

import redis

from portal.errors import DomainError, ServerBusy
from portal.events import audience, redis_stream, sse
from portal.events.batch import Batch
from portal.events.subscriber import Subscriber
from portal.events.metrics import metrics

log = logging.getLogger(__name__)


class TooManyStreams(DomainError):
    status, code = 429, "too_many_streams"
    message = "Too many open event streams for this user; close one and retry."


class StreamsFull(ServerBusy):
    """This process holds its cap of streams: the descriptors left are the API's."""

    message = "This server holds as many event streams as it may; retry shortly."


class Hub:
    """Reads the stream with one connection; dispatches to local subscribers by audience."""

    def __init__(self, redis_url: str, stream_key: str, *, queue_size=1000, max_per_user=10,
                 max_streams=None, busy_retry_s=5, block_ms=5000, batch=500, freeze_gc=True,
                 command_connections=50, refreeze_s=5.0, sweep_s=300.0, read=True, revoked=None,
                 replay_max=100000, recent_max=5000):
        self.stream_key = stream_key
        self.queue_size = queue_size
        self.max_per_user = max_per_user
        self.max_streams, self.busy_retry_s = max_streams, busy_retry_s
        self.block_ms = block_ms
        self.batch = batch
        self.freeze_gc = freeze_gc
        self.refreeze_s, self.sweep_s = refreeze_s, sweep_s
        self._frozen_at = self._swept_at = time.monotonic()
        # redis-py 8 defaults socket_timeout to 5 s: the blocking reader needs more than block_ms.
        self.reader = redis.Redis.from_url(
            redis_url, socket_timeout=block_ms / 1000 + 10, socket_connect_timeout=2,
            socket_keepalive=True)
        # Short commands (replay XRANGE) share a small pool; never one connection per client.
        # A blocking pool: when thousands reconnect at once the extra replays wait their turn;
        # the plain pool raised "Too many connections" and their streams ended unexplained.
        self.commands = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
            redis_url, socket_timeout=10, socket_connect_timeout=2,
            max_connections=command_connections, timeout=10))
        self.index = {}  # audience key -> set of Subscriber
        self.count = 0
        self.last_id = None
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread = None
        self._stopping = False
        self.read = read  # False: no reader; the caller hands entries to route() itself
        # session id → logged out? (connection.py's check once a stream is subscribed)
        self.revoked = revoked
        # Last-Event-ID → the entries after it, or a LookupError (a resync): read once for all
        # the streams reconnecting from that id in the same turn of the loop.
        # One shared read holds at most what memory keeps; a stream that missed more reads its
        # own, page by page (connection.py).
        self.missed = Batch(functools.partial(redis_stream.entries_after_each, self.commands,
                                              stream_key, min(replay_max, recent_max)))
        self.replay_max = replay_max
        # The entries this reader has read, newest last (at most about recent_max): replays
        # after one of them are answered from memory. ``recent_floor`` is the id just before
        # the oldest kept (the reader's start position at first): nothing after it is missing.
        self.recent, self.recent_ids, self.recent_max = [], [], recent_max
        self.recent_floor = None

    # -- subscribers -------------------------------------------------------------------------
    def subscribe(self, principal, sock=None, wire=None) -> Subscriber:
        """Register a stream for this principal (429 over the per-user cap, 503 over the
        process's cap); starts the reader."""
        self.ensure_started()
        with self._lock:
            if self.max_streams is not None and self.count >= self.max_streams:
                metrics.inc("rejected")
                raise StreamsFull(retry_after=self.busy_retry_s)
            if self.streams_of(principal.user_id) >= self.max_per_user:
                metrics.inc("rejected")
                raise TooManyStreams()
            sub = Subscriber(principal, self.queue_size, sock, wire)
            for key in sub.keys:
                self.index.setdefault(key, set()).add(sub)
            sub.registered = True
            self.count += 1
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a stream (idempotent)."""
        with self._lock:
            self._remove(sub)

    def _remove(self, sub):
        if not sub.registered:
            return
        sub.registered = False
        self.count -= 1
        for key in sub.keys:
            members = self.index.get(key)
            if members is not None:
                members.discard(sub)
                if not members:
                    del self.index[key]

    def streams_of(self, user_id: str) -> int:
        """How many streams this user has open in this process."""
        return len(self.index.get(audience.user(user_id), ()))

    # -- the reader ----------------------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the reader once, positioned at the stream's current end (before any subscribe)."""
        if self._thread is not None or not self.read:
            return
        with self._start_lock:
            if self._thread is not None:
                return
            # Fetched here, synchronously: an event added after a client's `connected` frame is
            # after this position, so the reader will hand it to that client.
            last = self.commands.xrevrange(self.stream_key, count=1)
            self.last_id = last[0][0] if last else b"0-0"
            self.recent_floor = sse.parse_entry_id(self.last_id)
            self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
            self._thread.start()
            if self.freeze_gc:
                # Start-up objects move to the permanent generation: full collections stop
                # scanning them while thousands of streams are held.
                gc.freeze()

    def stop(self) -> None:
        """Stop reading and close every stream (tests, shutdown)."""
        self._stopping = True
        with self._lock:
            for sub in {s for members in self.index.values() for s in members}:
                sub.close("shutdown")

    def _run(self):
        backoff = 0.2
        while not self._stopping:
            try:
                response = self.reader.xread({self.stream_key: self.last_id}, count=self.batch,
                                             block=self.block_ms)
            except redis.RedisError as exc:
                log.warning("event hub: Redis read failed (%s); retrying in %.1fs", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:  # never let the one reader die
                log.exception("event hub: unexpected error")
                time.sleep(1)
                continue
            backoff = 0.2
            for _key, entries in response or ():
                if entries:
                    self.route(entries)
                    self.last_id = entries[-1][0]
            if self.freeze_gc:
                self.refreeze()

    def refreeze(self) -> None:
        """Keep held streams out of the collector's reach (measured in docs/PERFORMANCE.md).

        A full collection walks every tracked object: at 10,000 streams per worker it paused the
        process for 340-530 ms. Freezing every few seconds moves the objects of streams that are
        still open to the permanent generation; a rare unfreeze + collect still reclaims the
        cycles left by streams that closed since.
        """
        now = time.monotonic()
        if now - self._swept_at >= self.sweep_s:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._swept_at = self._frozen_at = now
        elif now - self._frozen_at >= self.refreeze_s:
            gc.freeze()
            self._frozen_at = now

    def entries_after(self, last_event_id):
        """The entries after ``last_event_id`` for a replay, or a LookupError (resync), or
        TooManyEntries (more than one shared read holds): from memory when this reader has read
        that id and everything since, else from Redis (one read shared by the streams asking for
        the same id in the same turn)."""
        parsed = sse.parse_entry_id(last_event_id)
        if parsed is None or parsed == (0, 0):  # 0-0 is never an entry (an empty stream's start)
            return LookupError(last_event_id)
        with self._lock:
            floor = self.recent_floor
            newest = self.recent_ids[-1] if self.recent_ids else floor
            if floor is not None and floor <= parsed <= newest:
                if parsed == floor:
                    start = 0
                else:
                    at = bisect.bisect_left(self.recent_ids, parsed)
                    if self.recent_ids[at] != parsed:  # at < len: parsed <= newest
                        return LookupError(last_event_id)  # never an entry of this stream
                    start = at + 1
                if len(self.recent) - start > self.replay_max:
                    return LookupError(last_event_id)
                return self.recent[start:]
        return self.missed(last_event_id)

    def _remember(self, entries) -> None:
        """Keep what the reader read for replays (called under the lock, before dispatch)."""
        if self.recent_floor is None:
            return
        for entry_id, fields in entries:
            self.recent.append((entry_id, fields))
            self.recent_ids.append(sse.parse_entry_id(entry_id))
        if len(self.recent) > self.recent_max * 2:  # trimmed in halves: amortised O(1)
            drop = len(self.recent) - self.recent_max
            self.recent_floor = self.recent_ids[drop - 1]
            del self.recent[:drop], self.recent_ids[:drop]

    def route(self, entries) -> None:
        """Hand each entry to the local subscribers whose keys meet its audience."""
        with self._lock:
            self._remember(entries)
            plan = []  # (targets, item) of the events in this batch, in stream order
            for entry_id, fields in entries:
                event_type = fields.get(b"t", b"")
                keys = fields.get(b"a", b"").decode().split()
                targets = set()
                for key in keys:
                    members = self.index.get(key)
                    if members:
                        targets.update(members)
                metrics.inc("events_read")
                if event_type.startswith(b"control."):
                    self._write_batch(plan)  # what came before the control entry goes out first
                    plan = []
                    self._control(event_type, targets)
                    continue
                if targets:
                    frame = sse.event_frame(entry_id, event_type, fields.get(b"d", b"{}"))
                    plan.append((targets, (entry_id, frame, sse.entry_ms(entry_id))))
            self._write_batch(plan)

    def _write_batch(self, plan) -> None:
        """Each stream gets this batch's events in one write: a burst is not a send per event."""
        if len(plan) == 1:
            targets, item = plan[0]
            items = (item,)  # one tuple shared by every target: framed once
            self._fan_out((sub, items) for sub in targets)
        elif plan:
            per_sub = {}
            for targets, item in plan:
                for sub in targets:
                    per_sub.setdefault(sub, []).append(item)
            self._fan_out(per_sub.items())

    def _fan_out(self, pairs) -> None:
        """Write to each parked stream's socket; queue for the others (and for what would block)."""
        framed = {}  # (entry ids, chunked) -> the bytes, built once for every stream alike
        written = {}  # entry ids -> (items, streams written to)
        now = time.monotonic()
        for sub, items in pairs:
            if sub.direct:
                ids = items[0][0] if len(items) == 1 else tuple(item[0] for item in items)
                data = framed.get((ids, sub.wire.chunked))
                if data is None:
                    data = sub.wire.frame(b"".join(item[1] for item in items))
                    framed[ids, sub.wire.chunked] = data
                try:
                    sent = sub.send_direct(data, now)
                except OSError:  # the client went away: nothing more to write to it
                    self._remove(sub)
                    sub.close("gone")
                    continue
                if sent:
                    count = written.get(ids)
                    written[ids] = (items, count[1] + 1 if count else 1)
                    continue
            for item in items:
                if not sub.push(item):
                    # A reader too slow for its queue is cut loose; it reconnects with
                    # Last-Event-ID and catches up by replay, without slowing anyone else.
                    metrics.inc("overflow_disconnects")
                    self._remove(sub)
                    sub.close("overflow")
                    break
        wall = time.time()
        for items, streams in written.values():
            metrics.inc("events_delivered", streams * len(items))
            metrics.inc("events_direct", streams * len(items))
            for item in items:
                metrics.observe_lag(wall - item[2] / 1000, streams)

    def _control(self, event_type: bytes, targets) -> None:
        if event_type == b"control.session_revoked":
            for sub in targets:
                self._remove(sub)
                sub.close("session_revoked")
