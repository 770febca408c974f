"""A real SSE client on a socket (http.client, chunked), reading in a thread of its own."""
import http.client
import json
import threading
import time

from tests.events.sse_parse import parse_frames


class SSEClient:
    """Opens GET /api/events and records every frame; ``wait_for`` polls what arrived."""

    def __init__(self, port, headers=None, path="/api/events", name=""):
        self.name = name
        self.frames = []
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())
        if self.status != 200:
            self.body = json.loads(self.response.read() or b"null")
            self.closed.set()
            return
        threading.Thread(target=self._read, name=f"sse-{name}", daemon=True).start()

    def _read(self):
        buffer = ""
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                buffer += line.decode()
                frames, buffer = parse_frames(buffer)
                if frames:
                    with self._lock:
                        self.frames.extend(frames)
        except (OSError, http.client.HTTPException, ValueError, AttributeError):
            # AttributeError: close() from the test thread pulls the socket from under readline.
            pass
        finally:
            self.closed.set()

    def snapshot(self) -> list:
        with self._lock:
            return list(self.frames)

    def wait_for(self, predicate, timeout=20, what="a frame"):
        """The first frame matching ``predicate`` (waits up to ``timeout`` seconds for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.snapshot():
                if predicate(frame):
                    return frame
            if self.closed.is_set():
                break
            time.sleep(0.02)
        raise AssertionError(f"{self.name}: no {what} within {timeout}s; got {self.snapshot()}")

    def wait_connected(self):
        return self.wait_for(lambda f: kind(f) == "connected", what="connected")

    def wait_event(self, envelope_id, timeout=20):
        """The event frame whose envelope id is ``envelope_id``."""
        return self.wait_for(lambda f: f["id"] and f["data"]["data"]["id"] == envelope_id,
                             timeout, what=f"event {envelope_id}")

    def events(self) -> list:
        """Frames that carry an SSE id (the domain events and notification.created)."""
        return [f for f in self.snapshot() if f["id"]]

    def close(self):
        try:
            self.response.close()
            self.conn.sock and self.conn.sock.close()
        except OSError:
            pass
        self.conn.close()


def kind(frame):
    """The ``type`` of a data frame (None for comments)."""
    return frame["data"]["type"] if frame["data"] else None
