"""A minimal SSE parser for the tests: frames → {"id", "data", "comment", "retry"} dicts."""
import json
import time


def parse_frames(buffer: str):
    """Split complete frames off ``buffer``; return (frames, the incomplete rest)."""
    frames = []
    while "\n\n" in buffer:
        block, buffer = buffer.split("\n\n", 1)
        frame = {"id": None, "data": None, "comment": None, "retry": None}
        data_lines = []
        for line in block.split("\n"):
            if line.startswith(":"):
                frame["comment"] = line[1:].strip()
            elif line.startswith("id: "):
                frame["id"] = line[4:]
            elif line.startswith("retry: "):
                frame["retry"] = int(line[7:])
            elif line.startswith("data: "):
                data_lines.append(line[6:])
        if data_lines:
            frame["data"] = json.loads("\n".join(data_lines))
        frames.append(frame)
    return frames, buffer


class StrictChunks:
    """Decodes an HTTP/1.1 chunked body strictly: every size line, every CRLF, the last chunk."""

    def __init__(self):
        self.raw = bytearray()  # received, not yet decoded
        self.body = bytearray()
        self.size = None  # the size of the chunk being read, once its size line has arrived
        self.finished = False  # the zero-size chunk and its CRLF arrived

    def feed(self, data: bytes) -> None:
        assert not self.finished or not data, "bytes after the end of the body"
        self.raw += data
        while not self.finished:
            if self.size is None:
                end = self.raw.find(b"\r\n")
                if end < 0:
                    return
                self.size = int(self.raw[:end], 16)  # a stray byte here is a framing error
                del self.raw[:end + 2]
            if len(self.raw) < self.size + 2:
                return
            assert self.raw[self.size:self.size + 2] == b"\r\n", bytes(self.raw[:40])
            self.body += self.raw[:self.size]
            del self.raw[:self.size + 2]
            self.finished, self.size = self.size == 0, None

    def read_until(self, sock, predicate, limit=65536, timeout=30) -> bytes:
        """Read from ``sock`` until ``predicate(body)`` (within ``timeout`` s); the body so far."""
        deadline = time.monotonic() + timeout
        while not predicate(self.body):
            assert time.monotonic() < deadline, f"not in the body after {timeout} s"
            data = sock.recv(limit)
            assert data, "the connection closed"
            self.feed(data)
        return bytes(self.body)
