"""What the event tests read back: the stream's entries and the broker's queued deliveries."""
import base64
import json

import redis

from portal.events.redis_stream import stream_key
from portal.extensions import redis_client


def entries():
    """The stream's entries, oldest first, as (entry id, fields)."""
    return [(entry_id, {k: v for k, v in fields.items()})
            for entry_id, fields in redis_client.conn.xrange(stream_key())]


def queued_deliveries(redis_url) -> list:
    """The event ids of the ``events.deliver`` messages waiting on the real broker's queue."""
    ids = []
    for raw in redis.Redis.from_url(redis_url).lrange("celery", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == "events.deliver":
            ids.append(json.loads(base64.b64decode(message["body"]))[0][0])
    return ids
