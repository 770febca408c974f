"""The one Redis stream: append each outbox event at most once, atomically; read what
follows an entry (replays)."""
import json

import redis
from flask import current_app

from portal.events.sse import format_entry_id, parse_entry_id
from portal.extensions import redis_client

# The marker and every XADD of one event happen in one script: a crash cannot leave the event
# marked but unpublished, and a rerun (or a concurrent run) returns the first run's entry id.
_PUBLISH = """
local done = redis.call('GET', KEYS[2])
if done then return {0, done} end
local first = false
for i = 3, #ARGV, 3 do
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                        't', ARGV[i], 'a', ARGV[i + 1], 'd', ARGV[i + 2])
  if not first then first = id end
end
redis.call('SET', KEYS[2], first, 'EX', ARGV[2])
return {1, first}
"""


def stream_key() -> str:
    """The Redis key of the event stream."""
    return redis_client.key("events")


def _dumps(data) -> str:
    return json.dumps(data, separators=(",", ":"))


def append(event_id: str, entries) -> tuple:
    """XADD ``entries`` [(type, audience keys, envelope)] once per event id → (entry id, fresh)."""
    return append_many([(event_id, entries)])[0]


def append_many(events) -> list:
    """:func:`append` for several events [(event id, entries)], in order, in one round trip
    (a pipeline of the same script) → [(entry id, fresh)] in the same order."""
    config = current_app.config
    pipe = redis_client.conn.pipeline(transaction=False)
    for event_id, entries in events:
        argv = [config["EVENT_STREAM_MAXLEN"], config["EVENT_PUBLISHED_TTL_S"]]
        for event_type, audience, data in entries:
            argv += [event_type, " ".join(audience), _dumps(data)]
        pipe.eval(_PUBLISH, 2, stream_key(), redis_client.key("events", "published", event_id),
                  *argv)
    return [(entry_id, bool(fresh)) for fresh, entry_id in pipe.execute()]


def append_control(kind: str, audience_key: str) -> str:
    """XADD a control entry (``control.<kind>``) that hubs act on and never forward."""
    return redis_client.conn.xadd(
        stream_key(), {"t": "control." + kind, "a": audience_key, "d": "{}"},
        maxlen=current_app.config["EVENT_STREAM_MAXLEN"], approximate=True)


class TooManyEntries(LookupError):
    """More entries follow the id than the reader was asked to hold."""


def iter_entries_after(conn, key: str, last_event_id: str, max_entries: int):
    """Yield the stream's entries after ``last_event_id``, oldest first, as (id, fields) pairs,
    a page at a time.

    LookupError when that id is malformed or not (or no longer) in the stream, or Redis refuses
    the read; TooManyEntries once more than ``max_entries`` follow it: the client then resyncs.
    The first read starts at the id itself, so one round trip both proves it is still there and
    returns what follows it.
    """
    parsed = parse_entry_id(last_event_id)
    if parsed is None:
        raise LookupError(last_event_id)
    last = format_entry_id(parsed)  # never send Redis a form it would refuse
    page = 500
    entries = _xrange(conn, key, last, page + 1)
    if not entries or _text(entries[0][0]) != last:
        raise LookupError(last_event_id)
    entries, seen = entries[1:], 0
    while True:
        full = len(entries) == page
        seen += len(entries)
        if seen > max_entries:
            raise TooManyEntries(last_event_id)
        yield from entries
        if not full:
            return
        entries = _xrange(conn, key, "(" + _text(entries[-1][0]), page)


def _xrange(conn, key: str, start: str, count: int) -> list:
    try:
        return conn.xrange(key, start, "+", count=count)
    except redis.ResponseError as exc:  # e.g. the key is not a stream: nothing to replay
        raise LookupError(str(exc)) from exc


def entries_after(conn, key: str, last_event_id: str, max_entries: int) -> list:
    """:func:`iter_entries_after` read into a list."""
    return list(iter_entries_after(conn, key, last_event_id, max_entries))


def _text(entry_id) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def entries_after_each(conn, key: str, max_entries: int, last_event_ids) -> list:
    """:func:`entries_after` for several ids (the hub's batched replay reads): each answer is
    the entries, or the LookupError (or TooManyEntries) that id gets."""
    answers = []
    for last_event_id in last_event_ids:
        try:
            answers.append(entries_after(conn, key, last_event_id, max_entries))
        except LookupError as exc:
            answers.append(exc)
    return answers
