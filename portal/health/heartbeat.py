"""The worker's heartbeat: a Redis key a consuming Celery worker keeps fresh, read by /api/health.

A consumer bootstep writes it on the consumer's own timer, so it stops when the consumer stops
consuming (broker lost and reconnecting, the event loop stuck, the process frozen or dead), not
only when the process exits. The key carries a TTL: no write for WORKER_HEARTBEAT_TTL_S and it is
gone, and /api/health says the worker is down. Any one live worker keeps it, so several workers
share it and a graceful stop of one does not report the others down.
"""
import logging
import socket

import redis
from celery import bootsteps

log = logging.getLogger(__name__)

KEY_PARTS = ("worker", "heartbeat")


def heartbeat_key(prefix: str) -> str:
    """The key under an app's REDIS_PREFIX."""
    return prefix + ":".join(KEY_PARTS)


def is_alive(conn, prefix: str) -> bool:
    """True while some worker's heartbeat is fresh (raises if Redis does not answer)."""
    return bool(conn.exists(heartbeat_key(prefix)))


def heartbeat_step(flask_app):
    """The consumer bootstep class for this app (``celery.steps["consumer"].add(...)``)."""
    config = flask_app.config

    class Heartbeat(bootsteps.StartStopStep):
        """Refresh the heartbeat every WORKER_HEARTBEAT_S while the consumer runs."""

        requires = {"celery.worker.consumer.tasks:Tasks"}

        def __init__(self, parent, **kwargs):
            super().__init__(parent, **kwargs)
            self.entry = None
            self.key = heartbeat_key(config["REDIS_PREFIX"])
            self.value = getattr(parent, "hostname", None) or socket.gethostname()
            # Short timeouts of its own: a write runs on the consumer's event loop, which must
            # not wait on a dead Redis for the app pool's 10 s.
            self.conn = redis.Redis.from_url(config["REDIS_URL"], socket_timeout=1,
                                             socket_connect_timeout=1)

        def start(self, c):
            self.beat()
            self.entry = c.timer.call_repeatedly(config["WORKER_HEARTBEAT_S"], self.beat)

        def stop(self, c):
            if self.entry is not None:
                self.entry.cancel()
                self.entry = None

        shutdown = stop

        def beat(self):
            ttl = max(1, int(config["WORKER_HEARTBEAT_TTL_S"]))
            try:
                self.conn.set(self.key, self.value, ex=ttl)
            except redis.RedisError as exc:  # the missing heartbeat is the report
                log.warning("worker heartbeat not written: %s", exc)

    return Heartbeat
