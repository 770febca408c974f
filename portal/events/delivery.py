"""Deliver an outbox event: what areas add (notifications), then one XADD, then mark it
delivered (safe to rerun)."""
import json
import logging
from datetime import timedelta

import redis
import sqlalchemy as sa
from flask import current_app

from portal.database import atomic, read_only, utcnow
from portal.events import redis_stream
from portal.events.models import OutboxEvent
from portal.events.outbox import envelope
from portal.extensions import db

log = logging.getLogger(__name__)


def add_contributor(app, contribute) -> None:
    """Register ``contribute([(event, audience keys)]) -> [[stream entries] per event]``, run
    inside the delivery's transaction for each batch of events, a single event included (the
    notifications area writes its rows there)."""
    app.extensions.setdefault("event_delivery_contributors", []).append(contribute)


def deliver_event(event_id: str):
    """Deliver the event, after any earlier version of its resource still undelivered; return
    its entry id.

    Deliveries run in parallel (each writes its own notifications), but a resource's events
    reach the stream in version order: an earlier version committed before this one, so it is
    in the outbox by now, and it is delivered here first (its delivery may run elsewhere at the
    same time; the stream's publish-once marker lets exactly one XADD it, and returns only once it
    is in the stream). So the live stream and every replay hold a ticket's events as committed.
    The check is made in the delivery's own transaction: most events have no earlier version
    waiting, and then the delivery reads the event once.
    """
    stream_id = _deliver_one(event_id, after_earlier=True)
    if stream_id is not _EARLIER_FIRST:
        return stream_id
    for earlier_id in _undelivered_before(event_id):
        _deliver_one(earlier_id)
    return _deliver_one(event_id)


# What _deliver_one answers, having changed nothing, when earlier versions must go out first.
_EARLIER_FIRST = object()


def _earlier_query(event):
    """The undelivered events of this event's resource with a lower version, in order."""
    return (sa.select(OutboxEvent.id).where(
        OutboxEvent.resource_key == event.resource_key, OutboxEvent.version < event.version,
        OutboxEvent.delivered_at.is_(None))
        .order_by(OutboxEvent.version, OutboxEvent.created_at))


def versioned_after_first(event) -> bool:
    """True for a later version of a versioned resource: something may have to go out first."""
    # A resource's first version, or an unversioned event, has nothing before it.
    return event.resource_key is not None and event.version is not None and event.version > 1


def _has_earlier(event) -> bool:
    return versioned_after_first(event) and \
        db.session.execute(_earlier_query(event).limit(1)).first() is not None


def _undelivered_before(event_id: str) -> list:
    """Ids of the undelivered events of this event's resource with a lower version, in order."""
    with read_only():
        event = db.session.get(OutboxEvent, event_id)
        if event is None or event.delivered_at is not None or not versioned_after_first(event):
            return []
        return list(db.session.execute(_earlier_query(event)).scalars())


def _deliver_one(event_id: str, after_earlier: bool = False):
    """Write the event's notifications, publish it once, mark it delivered; return its entry id.
    ``after_earlier``: answer _EARLIER_FIRST instead, with nothing written, while an earlier
    version of its resource is undelivered."""
    with atomic():
        event = db.session.get(OutboxEvent, event_id)
        if event is None:
            log.warning("deliver_event: no outbox event %s", event_id)
            return None
        if event.delivered_at is not None:
            return event.stream_id
        if after_earlier and _has_earlier(event):
            return _EARLIER_FIRST
        event.attempts = (event.attempts or 0) + 1
        entries = stream_entries([event])[0]
    # What contributors wrote is committed before the XADD: a client told about a
    # notification can fetch it.
    stream_id, _fresh = redis_stream.append(event_id, entries)
    mark_delivered([(event_id, stream_id)])
    return stream_id


def stream_entries(events) -> list:
    """Each event's stream entries, in order: its own, then what each contributor adds (their
    rows are written in the caller's transaction)."""
    batch = [(event, json.loads(event.audience)) for event in events]
    entries = [[(event.type, keys, envelope(event))] for event, keys in batch]
    for contribute in current_app.extensions.get("event_delivery_contributors", ()):
        for own, added in zip(entries, contribute(batch), strict=True):
            own += added
    return entries


def mark_delivered(published) -> None:
    """Record [(event id, stream entry id)] as delivered, in one transaction."""
    update = (sa.update(OutboxEvent.__table__)
              .where(OutboxEvent.id == sa.bindparam("event_id"),
                     OutboxEvent.delivered_at.is_(None))
              .values(delivered_at=utcnow(), stream_id=sa.bindparam("entry_id")))
    with atomic():
        db.session.connection().execute(
            update, [{"event_id": event_id, "entry_id": entry_id}
                     for event_id, entry_id in published])


def pending_ids(grace_s: float, limit: int) -> list:
    """Ids of outbox events still undelivered ``grace_s`` seconds after they were written."""
    cutoff = utcnow() - timedelta(seconds=grace_s)
    return list(db.session.execute(
        sa.select(OutboxEvent.id)
        .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.created_at < cutoff)
        .order_by(OutboxEvent.created_at, OutboxEvent.id).limit(limit)).scalars())


def relay_pending() -> int:
    """Deliver what the after-commit enqueue missed (broker down, lost task); return how many."""
    config = current_app.config
    delivered = 0
    for event_id in pending_ids(config["OUTBOX_RELAY_GRACE_S"], config["OUTBOX_RELAY_BATCH"]):
        try:
            deliver_event(event_id)
            delivered += 1
        except redis.RedisError as exc:
            log.warning("outbox relay: Redis unavailable (%s); next run retries", exc)
            break
        except Exception:
            db.session.rollback()
            log.exception("outbox relay: could not deliver %s", event_id)
    if delivered:
        log.info("outbox relay delivered %d event(s)", delivered)
    return delivered
