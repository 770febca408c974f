"""One open stream as the hub sees it: audience keys, a bounded queue, and the Wire the hub
writes to directly while the stream's greenlet is parked (gunicorn + gevent)."""
import socket
import threading
import time

from portal.events import wire


def _new_wakeup():
    """An Event that blocks the right thing: a greenlet under gevent, a thread otherwise."""
    if wire.cooperative():
        from gevent.event import Event
        return Event()
    return threading.Event()


class Subscriber:
    """One open stream: its audience keys, a bounded queue of (entry id, frame, ms) and, under
    gunicorn + gevent, the Wire the hub writes to directly while the stream's greenlet is parked."""

    __slots__ = ("user_id", "keys", "limit", "queue", "wakeup", "closed", "registered", "sock",
                 "wire", "direct", "pending", "sent_at", "readable")

    def __init__(self, principal, limit: int, sock=None, wire=None):
        self.user_id = principal.user_id
        self.keys = principal.audience_keys()
        self.limit = limit
        # A list, not a deque: a parked stream's queue is almost always empty, and an empty
        # deque holds a 64-slot block (about 700 bytes for each of tens of thousands of streams).
        self.queue = []
        self.wakeup = _new_wakeup()
        self.closed = None  # the reason, once the hub ends this stream
        self.registered = False
        self.sock = sock  # the client's socket, when the server exposes it
        self.wire = wire
        self.direct = False  # True only while parked in wait(direct=True): the hub may write
        self.pending = None  # the tail of a frame the kernel took only part of
        self.sent_at = time.monotonic()  # the last write to this client (for heartbeats)
        self.readable = False  # the client's socket turned readable: it has probably hung up

    def push(self, item) -> bool:
        """Queue an item; False when the queue is full (the hub then closes the stream)."""
        if len(self.queue) >= self.limit:
            return False
        self.queue.append(item)
        self.direct = False
        self.wakeup.set()
        return True

    def send_direct(self, data: bytes, now: float) -> bool:
        """The hub's write while the stream is parked; False when the kernel took nothing (the
        caller queues the item instead). OSError when the client is gone."""
        sent = self.wire.send_nowait(data)
        if not sent:
            return False
        self.sent_at = now
        if sent < len(data):
            # The greenlet finishes this frame before anything else is written.
            self.pending = memoryview(data)[sent:]
            self.direct = False
            self.wakeup.set()
        return True

    def close(self, reason: str) -> None:
        """Ask the stream to end (overflow, session revoked, client gone, hub shutdown)."""
        self.closed = reason
        self.direct = False
        self.wakeup.set()
        if reason == "overflow" and self.sock is not None:
            # A client that stopped reading leaves its greenlet parked in a socket write that
            # never completes; shutting the socket down wakes that write with an error, so the
            # connection, its greenlet and its worker_connections slot are all released.
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def on_readable(self) -> None:
        """The Wire saw the client's socket turn readable: wake the stream to check it."""
        self.readable = True
        self.wakeup.set()

    def wait(self, timeout: float, direct: bool = False) -> None:
        """Block until something is queued, the stream is closed, or ``timeout`` passes.

        With ``direct`` (and a Wire) the hub writes events itself meanwhile, without waking it.
        """
        if not self.queue and self.closed is None and self.pending is None \
                and not self.readable:
            self.direct = direct and self.wire is not None
            try:
                self.wakeup.wait(timeout)
            finally:
                self.direct = False
        # Cleared before draining: a push after this point sets it again, so none is missed.
        self.wakeup.clear()

    def drain(self) -> list:
        """Everything queued, oldest first."""
        # Copied, then cut: each step is atomic, so a push from the hub's thread in between
        # (threaded servers) lands after ``count`` and waits for the next drain.
        count = len(self.queue)
        items = self.queue[:count]
        del self.queue[:count]
        return items
