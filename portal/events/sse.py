"""Server-sent events framing: bytes built once per event and shared by every client."""
import functools
import json

PING = b": ping\n\n"


def data_frame(payload: dict) -> bytes:
    """A frame without an ``id:`` (connected, resync, closing notices): clients keep their last id."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def event_frame(entry_id: bytes, event_type: bytes, data: bytes) -> bytes:
    """``id: <stream id>`` + ``data: {"type":…,"data":<envelope>}``; ``data`` is compact JSON."""
    # json.dumps never emits a raw newline, so the envelope fits on one data: line.
    return b"".join((b"id: ", entry_id, b'\ndata: {"type":"', event_type, b'","data":', data,
                     b"}\n\n"))


@functools.lru_cache(maxsize=4)
def opening(retry_ms: int) -> bytes:
    """What every stream starts with: the reconnect hint, then the connected message."""
    return (b"retry: %d\n\n" % retry_ms
            + data_frame({"type": "connected", "data": {"message": "Connected to event stream"}}))


RESYNC = data_frame({"type": "resync"})


def closing(reason: str, **data) -> bytes:
    """The notice sent just before the server ends a stream."""
    messages = {
        "token_expiring": "The access token expires soon: refresh it and reconnect.",
        "session_revoked": "The session was logged out.",
    }
    return data_frame({"type": reason, "data": {"message": messages.get(reason, reason), **data}})


def entry_ms(entry_id: bytes) -> int:
    """The millisecond timestamp Redis put in a stream entry id."""
    return int(entry_id.split(b"-", 1)[0])


_MAX_PART = 2 ** 64 - 1  # Redis stream ids are two unsigned 64-bit integers


def parse_entry_id(value):
    """(ms, seq) for a well-formed stream id such as ``1730883600000-0``, else None.

    Anything Redis itself would refuse (a part past 2**64 - 1, stray characters) is None too:
    the caller answers it with a resync rather than sending it to Redis.
    """
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    ms, sep, seq = value.strip().partition("-")
    if not sep or not (ms.isascii() and ms.isdigit()) or not (seq.isascii() and seq.isdigit()):
        return None
    if len(ms) > 20 or len(seq) > 20 or int(ms) > _MAX_PART or int(seq) > _MAX_PART:
        return None
    return int(ms), int(seq)


def format_entry_id(parsed) -> str:
    """The canonical text of a parsed stream id (what Redis accepts)."""
    return "%d-%d" % parsed
