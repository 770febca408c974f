"""Append events to the one Redis stream: each outbox event at most once, atomically."""
import json

from flask import current_app

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
    config = current_app.config
    argv = [config["EVENT_STREAM_MAXLEN"], config["EVENT_PUBLISHED_TTL_S"]]
    for event_type, audience, data in entries:
        argv += [event_type, " ".join(audience), _dumps(data)]
    conn = redis_client.conn
    fresh, entry_id = conn.eval(_PUBLISH, 2, stream_key(),
                                redis_client.key("events", "published", event_id), *argv)
    return entry_id, bool(fresh)


def append_control(kind: str, audience_key: str) -> str:
    """XADD a control entry (``control.<kind>``) that hubs act on and never forward."""
    return redis_client.conn.xadd(
        stream_key(), {"t": "control." + kind, "a": audience_key, "d": "{}"},
        maxlen=current_app.config["EVENT_STREAM_MAXLEN"], approximate=True)
