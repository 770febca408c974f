"""Probe each backing part with the cheapest round trip it answers."""
import logging

from sqlalchemy import text

from portal.database import read_only
from portal.extensions import db, redis_client

log = logging.getLogger(__name__)


def check() -> dict:
    """``{"status","db","redis"}``: each part "ok" or "down"."""
    result = {"db": "ok", "redis": "ok"}
    try:
        with read_only():
            db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the database is not usable
        log.warning("health: database down: %s", exc)
        result["db"] = "down"
    try:
        redis_client.conn.ping()
    except Exception as exc:
        log.warning("health: redis down: %s", exc)
        result["redis"] = "down"
    result["status"] = "ok" if result["db"] == result["redis"] == "ok" else "degraded"
    return {"status": result["status"], "db": result["db"], "redis": result["redis"]}
