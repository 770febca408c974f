"""Probe each backing part with the cheapest round trip it answers."""
import logging

from flask import current_app
from sqlalchemy import text

from portal.database import read_only
from portal.extensions import db, redis_client
from portal.health.heartbeat import is_alive

log = logging.getLogger(__name__)

PARTS = ("db", "redis", "worker")


def check() -> dict:
    """``{"status","db","redis","worker"}``: each part "ok" or "down"; status "ok" or "degraded".

    The worker is "ok" while a Celery worker that is consuming keeps its heartbeat fresh."""
    result = dict.fromkeys(PARTS, "ok")
    try:
        with read_only():
            db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the database is not usable
        log.warning("health: database down: %s", exc)
        result["db"] = "down"
    try:
        redis_client.conn.ping()
        if not is_alive(redis_client.conn, current_app.config["REDIS_PREFIX"]):
            log.warning("health: no worker heartbeat")
            result["worker"] = "down"
    except Exception as exc:
        log.warning("health: redis down: %s", exc)
        result["redis"] = result["worker"] = "down"
    status = "ok" if all(value == "ok" for value in result.values()) else "degraded"
    return {"status": status, **result}
