"""The hub's fast path: SSE frames written straight to a client's socket under gunicorn + gevent.

Resuming one greenlet per client through the WSGI iterator for every event costs more than the
send itself (docs/PERFORMANCE.md). Once a stream's headers and opening frame have gone out through
gunicorn, and while its greenlet is parked, the hub may write events to the socket itself: one
non-blocking ``send`` per batch read from Redis, of bytes framed once for every client that gets
the same events with the same framing.
Anything the kernel does not take at once goes back to the stream's greenlet, which finishes it
with a blocking write, so a slow client never blocks the hub.
"""
import socket


class Wire:
    """How to write to one client's socket outside the WSGI iterator."""

    __slots__ = ("sock", "chunked", "watcher", "on_hangup")

    def __init__(self, sock, chunked: bool):
        self.sock = sock
        self.chunked = chunked  # HTTP/1.1: gunicorn frames the body as chunks; 1.0: raw bytes
        self.watcher = None
        self.on_hangup = None

    def frame(self, data: bytes) -> bytes:
        """``data`` as it must appear on this socket."""
        return chunk(data) if self.chunked else data

    def send_nowait(self, data) -> int:
        """Bytes the kernel took at once (0 when its buffer is full); OSError when the peer is gone."""
        try:
            return self.sock.send(data, 0, 0.0)  # gevent: timeout 0.0 means never wait
        except BlockingIOError:
            return 0

    def send_all(self, data) -> None:
        """Write every byte, parking this greenlet (not the process) while the client catches up."""
        self.sock.sendall(data)

    def watch_hangup(self, callback) -> None:
        """Call ``callback()`` once, from the event loop, when the socket turns readable.

        A stream's client sends nothing after its request, so readable means it hung up (EOF or
        reset), which a parked stream would otherwise notice only at its next heartbeat write.
        After a deploy every client drops and reconnects at once: without this, each worker
        holds the dead streams as well as the new ones until then, twice its descriptors.
        """
        from gevent import get_hub

        self.on_hangup = callback
        self.watcher = get_hub().loop.io(self.sock.fileno(), 1)
        self.watcher.start(self._readable)  # a bound method: no closure kept per stream

    def _readable(self) -> None:
        self.watcher.stop()  # level-triggered: once is enough
        self.on_hangup()

    def unwatch(self) -> None:
        """Stop watching (before the socket is closed)."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher.close()
            self.watcher = self.on_hangup = None

    def peer_closed(self) -> bool:
        """Whether the client closed its end, checked without blocking or consuming data."""
        timeout = self.sock.gettimeout()
        self.sock.settimeout(0.0)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:  # reset
            return True
        finally:
            self.sock.settimeout(timeout)


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk, exactly as gunicorn's own ``write_chunk`` frames it."""
    return b"%X\r\n%s\r\n" % (len(data), data)


def cooperative() -> bool:
    """Whether threads are greenlets here (gevent patched threading before the app loaded)."""
    try:
        from gevent.monkey import is_module_patched
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return is_module_patched("threading")


def for_environ(environ):
    """A Wire for this request when frames may bypass the iterator, else None.

    Only under gunicorn's HTTP protocol with a gevent socket in a patched (cooperative) process
    and plain HTTP/1.x: that is where the framing is known (chunked unless HTTP/1.0, since the
    stream sets no Content-Length) and where the hub and the stream's greenlet never run at once,
    so a non-blocking send cannot interleave with a write in progress. gunicorn.conf.py turns
    SSE_DIRECT_WRITES off for its uwsgi protocol, whose framing this cannot see.
    """
    sock = environ.get("gunicorn.socket")
    if sock is None or not environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        return None
    if not cooperative():
        return None
    try:
        from gevent.socket import socket as gevent_socket
        from gevent.ssl import SSLSocket
    except ImportError:  # pragma: no cover - gevent is a dependency
        return None
    if not isinstance(sock, gevent_socket) or isinstance(sock, SSLSocket):
        return None
    protocol = environ.get("SERVER_PROTOCOL")
    if protocol not in ("HTTP/1.0", "HTTP/1.1"):
        return None
    return Wire(sock, chunked=protocol == "HTTP/1.1")
