"""One load-generator process: many SSE streams on raw asyncio sockets, every event timestamped.

The coordinator (bench.sse_load) starts several of these with multiprocessing and drives them over
a pipe: ``connect`` opens streams, ``count`` reports how many watched events arrived, ``collect``
hands the records back, ``close`` ends every stream, ``storm`` drops every stream at once and
reconnects them all with the ``Last-Event-ID`` each last read. Parsing is kept to a few byte searches so
that a process can read thousands of streams on a shared core without adding much latency.
"""
import asyncio
import re
import time
from collections import Counter

from bench.proc import raise_fd_limit

TYPE_RE = re.compile(rb'"type"\s*:\s*"([^"]+)"')
# The resource the harness created: a ticket or an invoice id (the key it timestamped the API call by).
KEY_RE = re.compile(rb'"id"\s*:\s*"((?:tkt|inv)_[^"]+)"')
monotonic = time.monotonic


class Stream(asyncio.Protocol):
    """One SSE client: parses the HTTP head, chunked framing and ``\\n\\n``-separated events."""

    __slots__ = ("pool", "idx", "request", "transport", "head", "in_body", "chunked", "buf",
                 "raw", "chunk_left", "skip", "opened", "status", "waiter", "last_id")

    def __init__(self, pool, idx, request):
        self.pool, self.idx, self.request = pool, idx, request
        self.transport = None
        self.head = b""
        self.in_body = self.chunked = self.opened = False
        self.buf = self.raw = b""
        self.chunk_left = self.skip = 0
        self.status = None
        self.last_id = None  # the last ``id:`` read: sent as Last-Event-ID on a reconnect
        self.waiter = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        self.pool.lost(self, exc)

    def data_received(self, data):
        now = monotonic()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[:end], self.head[end + 4:]
            self.head = b""
            self.status = head.split(b" ", 2)[1].decode() if b" " in head else "?"
            if self.status != "200":
                self.pool.refused(self, head + b"\r\n\r\n" + data)
                return
            self.chunked = b"transfer-encoding: chunked" in head.lower()
            self.in_body = True
        if self.chunked:
            data = self._dechunk(data)
        if not data:
            return
        buf = self.buf + data if self.buf else data
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        if b"\n\n" not in buf:
            self.buf = buf
            return
        blocks = buf.split(b"\n\n")
        self.buf = blocks.pop()
        for block in blocks:
            self.pool.on_block(self, block, now)

    def _dechunk(self, data):
        """Strip HTTP/1.1 chunk framing; keep partial size lines for the next read."""
        raw = self.raw + data if self.raw else data
        out, pos, size = [], 0, len(raw)
        while pos < size:
            if self.skip:  # the CRLF after a chunk's data
                take = min(self.skip, size - pos)
                self.skip -= take
                pos += take
                continue
            if self.chunk_left:
                take = min(self.chunk_left, size - pos)
                out.append(raw[pos:pos + take])
                self.chunk_left -= take
                pos += take
                if not self.chunk_left:
                    self.skip = 2
                continue
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                break
            length = int(raw[pos:eol].split(b";", 1)[0] or b"0", 16)
            pos = eol + 2
            if length == 0:  # the last chunk: the server ended the stream
                pos = size
                break
            self.chunk_left = length
        self.raw = raw[pos:] if pos < size else b""
        return b"".join(out)


class Pool:
    """Every stream of this process plus what they read."""

    def __init__(self, watch, open_marker=b'"connected"', source_addrs=()):
        self.watch = set(w.encode() for w in watch)
        # What tells a stream it is subscribed: the portal's (and the baseline's) connected
        # message, or nchan's ": hi" comment.
        self.open_marker = open_marker
        # Local addresses the sockets are bound to, round-robin by client idx: 40,000 streams
        # from one address to one server port would need more ephemeral ports than it has.
        self.source_addrs = list(source_addrs)
        self.requests = {}  # idx -> (host, port, path, token, http10): to reconnect it
        # Reconnect a stream the server ends, after the SSE retry delay, with Last-Event-ID
        # (what EventSource does); off by default, so that "lost" stays lost.
        self.resume_lost = False
        self.resume_delay = 3.0
        self.resumed = Counter()
        self.streams = {}
        self.records = []  # (client idx, event type, resource id, read time, XADD ms or None)
        self.other = Counter()     # events of types the harness did not fire, by type
        self.pings = 0
        self.lost_count = 0
        self.lost_reasons = Counter()
        self.refusals = Counter()
        self.retries = 0

    def on_block(self, stream, block, now):
        if not stream.opened and self.open_marker in block:
            stream.opened = True
            if not stream.waiter.done():
                stream.waiter.set_result(True)
            return
        pos = block.find(b"data:")
        if pos < 0:
            if block.startswith(b":"):
                self.pings += 1
            return
        if block.startswith(b"id: "):
            eol = block.find(b"\n")
            stream.last_id = block[4:eol] if eol > 0 else None
        end = block.find(b"\n", pos)
        data = block[pos + 5:] if end < 0 else block[pos + 5:end]
        found = TYPE_RE.search(data)
        kind = found.group(1) if found else b"?"
        if kind in self.watch:
            key = KEY_RE.search(data)
            if key:
                # A Redis stream entry id (``<ms>-<seq>``) says when the event was XADDed.
                entry_ms = None
                if block.startswith(b"id: "):
                    dash = block.find(b"-", 4, 30)
                    if dash > 0 and block[4:dash].isdigit():
                        entry_ms = int(block[4:dash])
                self.records.append((stream.idx, kind.decode(), key.group(1).decode(), now,
                                     entry_ms))
                return
        self.other[kind.decode()] += 1

    def refused(self, stream, response):
        self.refusals[stream.status] += 1
        if not stream.waiter.done():
            body = response.split(b"\r\n\r\n", 1)[-1][:160].decode(errors="replace")
            stream.waiter.set_exception(ConnectionError(f"HTTP {stream.status}: {body}"))
        stream.transport.close()

    def lost(self, stream, exc):
        if self.streams.get(stream.idx) is not stream:  # dropped, or replaced by a reconnect
            return
        del self.streams[stream.idx]
        if stream.opened:
            self.lost_count += 1
            self.lost_reasons[repr(exc) if exc else "closed by server"] += 1
            if self.resume_lost and stream.idx in self.requests:
                asyncio.get_running_loop().create_task(self._resume(stream.idx, stream.last_id))
        if not stream.waiter.done():
            stream.waiter.set_exception(ConnectionError(f"closed before open: {exc!r}"))

    async def open_one(self, sem, host, port, idx, request, timeout):
        """Open one stream; a 503/429 refusal is retried with backoff, as EventSource would."""
        async with sem:
            loop = asyncio.get_running_loop()
            t0 = monotonic()
            for attempt in range(8):
                stream = Stream(self, idx, request)
                self.streams[idx] = stream
                local = (self.source_addrs[idx % len(self.source_addrs)], 0) \
                    if self.source_addrs else None
                try:
                    await asyncio.wait_for(
                        loop.create_connection(lambda: stream, host, port, local_addr=local),
                        timeout)
                    await asyncio.wait_for(asyncio.shield(stream.waiter), timeout)
                    return None, monotonic() - t0
                except Exception as exc:
                    if self.streams.get(idx) is stream:
                        del self.streams[idx]
                    if stream.transport:
                        stream.transport.abort()
                    if stream.status in ("503", "429") and attempt < 7:
                        self.retries += 1
                        await asyncio.sleep(0.1 * 2 ** attempt)
                        continue
                    return f"{type(exc).__name__}: {str(exc)[:160]}", None

    @staticmethod
    def _request(host, port, path, token, http10, last_id=None):
        version = b"HTTP/1.0" if http10 else b"HTTP/1.1"
        resume = b"Last-Event-ID: " + last_id + b"\r\n" if last_id else b""
        return (b"GET " + path.encode() + b" " + version + b"\r\nHost: "
                + f"{host}:{port}".encode() + b"\r\nAuthorization: Bearer " + token.encode()
                + b"\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n" + resume
                + b"\r\n")

    async def connect(self, host, port, path, specs, concurrency, timeout, http10=False):
        """Open one stream per (idx, token[, path]); return how many opened, failures, timings."""
        sem = asyncio.Semaphore(concurrency)
        t0 = monotonic()
        tasks = []
        for spec in specs:
            idx, token = spec[0], spec[1]
            spec_path = spec[2] if len(spec) > 2 else path
            self.requests[idx] = (host, port, spec_path, token, http10)
            request = self._request(host, port, spec_path, token, http10)
            tasks.append(self.open_one(sem, host, port, idx, request, timeout))
        results = await asyncio.gather(*tasks)
        return self._outcome([spec[0] for spec in specs], results, t0)

    def _outcome(self, idxs, results, t0):
        errors = Counter(err for err, _ in results if err)
        times = sorted(t for _, t in results if t is not None)
        failed = [idx for idx, (err, _) in zip(idxs, results) if err]
        retries, self.retries = self.retries, 0
        refusals, self.refusals = dict(self.refusals), Counter()
        return {"opened": len(times), "failed": failed, "errors": dict(errors.most_common(5)),
                "retries": retries, "refusals": refusals,
                "elapsed": monotonic() - t0, "open_times": times, "t_start": t0,
                "t_end": monotonic()}

    async def _resume(self, idx, last_id):
        await asyncio.sleep(self.resume_delay)
        if idx in self.streams or idx not in self.requests:  # closed meanwhile, or back already
            return
        host, port, path, token, http10 = self.requests[idx]
        request = self._request(host, port, path, token, http10, last_id)
        err, _ = await self.open_one(asyncio.Semaphore(1), host, port, idx, request, 120.0)
        self.resumed["failed" if err else "reopened"] += 1

    async def storm(self, concurrency, timeout):
        """Drop every stream at once, then reconnect all of them concurrently, each sending
        ``Last-Event-ID`` with the last id it read (as EventSource does after a network blip)."""
        t0 = monotonic()
        plan = []
        for idx, stream in list(self.streams.items()):
            plan.append((idx, stream.last_id))
            del self.streams[idx]  # dropped by the client: not a stream the server lost
            if stream.transport:
                stream.transport.abort()
        sem = asyncio.Semaphore(concurrency or max(1, len(plan)))
        tasks = []
        for idx, last_id in plan:
            host, port, path, token, http10 = self.requests[idx]
            request = self._request(host, port, path, token, http10, last_id)
            tasks.append(self.open_one(sem, host, port, idx, request, timeout))
        results = await asyncio.gather(*tasks)
        out = self._outcome([idx for idx, _ in plan], results, t0)
        out["with_last_id"] = sum(1 for _, last_id in plan if last_id)
        out["dropped"] = len(plan)
        return out

    def collect(self):
        # Streams holding part of a frame: data read whose blank line (or chunk) has not come.
        partial = [st for st in self.streams.values() if st.buf or st.chunk_left or st.raw]
        out = {"partial": len(partial),
               "partial_sample": repr((partial[0].buf + partial[0].raw)[-200:]) if partial else "",
               "records": self.records, "other": dict(self.other), "pings": self.pings,
               "lost": self.lost_count, "lost_reasons": dict(self.lost_reasons.most_common(5)),
               "refusals": dict(self.refusals), "live": len(self.streams),
               "resumed": dict(self.resumed)}
        self.resumed = Counter()
        self.records = []
        self.other = Counter()
        self.pings = self.lost_count = 0
        self.lost_reasons = Counter()
        self.refusals = Counter()
        return out

    def close(self):
        for stream in list(self.streams.values()):
            if stream.transport:
                stream.transport.abort()
        self.streams.clear()
        self.requests.clear()


def run(conn):
    """Process entry point: serve the coordinator's commands until ``exit``."""
    raise_fd_limit()
    asyncio.run(_serve(conn))


async def _serve(conn):
    loop = asyncio.get_running_loop()
    pool = Pool(())
    done = loop.create_future()
    busy = []

    async def handle(cmd, arg):
        try:
            await _dispatch(cmd, arg)
        except Exception as exc:  # the coordinator waits for an answer: never leave it hanging
            conn.send({"error": f"{type(exc).__name__}: {exc}"})

    async def _dispatch(cmd, arg):
        if cmd == "connect":
            pool.watch = set(w.encode() for w in arg.pop("watch"))
            conn.send(await pool.connect(**arg))
        elif cmd == "count":
            conn.send({"records": len(pool.records), "live": len(pool.streams),
                       "with_last_id": sum(1 for s in pool.streams.values() if s.last_id)})
        elif cmd == "setup":
            pool.open_marker = arg["open_marker"]
            pool.source_addrs = list(arg["source_addrs"])
            pool.resume_lost = arg.get("resume_lost", False)
            conn.send({"fd_limit": raise_fd_limit()})
        elif cmd == "storm":
            conn.send(await pool.storm(**arg))
        elif cmd == "collect":
            conn.send(pool.collect())
        elif cmd == "close":
            pool.close()
            await asyncio.sleep(0.2)
            conn.send({"live": len(pool.streams)})
        elif cmd == "exit":
            pool.close()
            conn.send("bye")
            done.set_result(None)

    def on_command():
        cmd, arg = conn.recv()
        task = loop.create_task(handle(cmd, arg))
        busy.append(task)
        task.add_done_callback(busy.remove)

    loop.add_reader(conn.fileno(), on_command)
    await done
    loop.remove_reader(conn.fileno())
