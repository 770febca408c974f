"""One Redis round trip for the lookups of many streams opening at once.

When every client reconnects together (after a deploy, or a network blip), hundreds of streams
reach their revocation check in the same turn of gevent's loop. Alone, each check is one round
trip, and on these machines the send that wakes redis-server costs as much CPU as the rest of the
connect (docs/PERFORMANCE.md). ``Batch(lookup_many)`` makes the callers of one loop turn wait for a
single ``lookup_many(keys)`` (one pipeline); callers asking for the same key share its answer.
``window_s`` holds the lookup that long for callers of later turns too: streams that connect
one after another, rather than all at once, then share round trips as well.
Without gevent's patched sockets (the dev server, the test client), each call looks up at once.
"""
import gevent
from gevent import monkey
from gevent.event import AsyncResult


class Batch:
    """``batch(key)`` → the answer ``lookup_many([..., key, ...])`` gave for ``key``."""

    def __init__(self, lookup_many, window_s: float = 0.0):
        self.lookup_many = lookup_many
        self.window_s = window_s
        self.cooperative = monkey.is_module_patched("socket")
        self.pending = {}
        self.flusher = None

    def __call__(self, key):
        if not self.cooperative:
            return self.lookup_many([key])[0]
        result = self.pending.get(key)
        if result is None:
            result = self.pending[key] = AsyncResult()
            if self.flusher is None:
                # Runs once the greenlets already scheduled in this turn (and, with a window,
                # those of the next window_s) have asked too.
                self.flusher = gevent.spawn_later(self.window_s, self._flush) \
                    if self.window_s else gevent.spawn(self._flush)
        return result.get()

    def _flush(self):
        batch, self.pending, self.flusher = self.pending, {}, None
        keys = list(batch)
        try:
            answers = self.lookup_many(keys)
        except Exception as exc:  # noqa: BLE001 - e.g. Redis down: every waiter raises it
            for result in batch.values():
                result.set_exception(exc)
            return
        for key, answer in zip(keys, answers):
            batch[key].set(answer)
