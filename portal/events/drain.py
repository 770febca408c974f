"""Deliver every pending outbox event, a batch at a time: what ``events.deliver`` runs.

A commit asks for a delivery only while none is queued or running (the wake flag,
``portal/events/enqueue.py``), so under load one task takes what many requests committed. Each
batch of up to ``DELIVERY_BATCH`` events costs three transactions and one Redis round trip,
where one event alone costs two transactions and a round trip:

1. claim: the oldest pending events no delivery has tried yet (``attempts`` 0), plus the event
   the task names, get ``attempts + 1`` in one committed ``UPDATE … RETURNING``. On PostgreSQL
   rows another delivery is claiming are skipped (``FOR UPDATE SKIP LOCKED``); on SQLite the
   write lock serialises claims. An event claimed and then not delivered (the worker died, a
   step below failed) is left to the beat's outbox relay, like an event whose task was lost,
   and the relay delivers event by event: one bad event cannot hold up the others.
2. the notifications of every event in the batch, in one transaction;
3. one pipeline of the publish-once script, in the batch's order;
4. every event marked delivered with its entry id, in one statement.

Order: a batch is in the order its events were written, each resource's versions in version
order (two hosts' clocks may disagree about which was written first). An
event with an earlier version still undelivered outside the batch (another delivery holds it)
is delivered after the batch by ``deliver_event``, which puts that earlier version in the stream
first; so are the later versions of the same resource in the batch.
"""
import sqlalchemy as sa
from flask import current_app

from portal.database import atomic
from portal.events import redis_stream
from portal.events.delivery import (deliver_event, mark_delivered, stream_entries,
                                    versioned_after_first)
from portal.events.enqueue import clear_wake, extend_wake
from portal.events.models import OutboxEvent
from portal.extensions import db


def drain(event_id=None) -> int:
    """Deliver ``event_id`` (if still undelivered) and every event pending, in batches, until
    none is left after the wake flag went; return how many were claimed."""
    size = current_app.config["DELIVERY_BATCH"]
    claimed, awake = 0, True
    try:
        while True:
            count = deliver_batch(size, event_id)
            claimed, event_id = claimed + count, None
            if count == size:  # a backlog: keep the flag, so commits ask for no more tasks
                if awake:
                    extend_wake()
                continue
            if not awake:
                return claimed
            # A commit that found the flag set, before it went, is seen by the next claim; one
            # after it sends a task of its own.
            clear_wake()
            awake = False
    except Exception:
        if awake:  # the next commit asks for a delivery at once, rather than after the TTL
            clear_wake()
        raise


def deliver_batch(size: int, event_id=None) -> int:
    """Claim up to ``size`` pending events and deliver them; return how many were claimed."""
    with atomic(keep_loaded=True):  # the events stay loaded for the next transaction
        events = _in_order(db.session.scalars(_claim(size, event_id)).all())
        now, later = _split_by_order(events)
        later_ids = [event.id for event in later]
    if now:
        with atomic():
            batch = list(zip([event.id for event in now], stream_entries(now)))
        published = redis_stream.append_many(batch)
        mark_delivered([(delivered_id, entry_id) for (delivered_id, _entries), (entry_id, _fresh)
                        in zip(batch, published)])
    db.session.expire_all()  # what deliver_event reads is the database's, not the claim's
    for later_id in later_ids:
        deliver_event(later_id)
    return len(events)


def _in_order(events) -> list:
    """The events in the order they were written; each resource's in version order, which the
    write times of two hosts whose clocks differ need not follow."""
    events = sorted(events, key=lambda event: (event.created_at, event.id))
    places = {}
    for place, event in enumerate(events):
        if event.resource_key is not None and event.version is not None:
            places.setdefault(event.resource_key, []).append(place)
    for key_places in places.values():
        versions = sorted((events[place] for place in key_places), key=lambda e: e.version)
        for place, event in zip(key_places, versions):
            events[place] = event
    return events


def _claim(size: int, event_id):
    pending = OutboxEvent.delivered_at.is_(None)
    fresh = OutboxEvent.attempts == 0
    if event_id:
        fresh = sa.or_(fresh, OutboxEvent.id == event_id)
    # The named event first: a retried task takes its own event in its first batch.
    named_first = [sa.case((OutboxEvent.id == event_id, 0), else_=1)] if event_id else []
    # Materialized: as a plain subquery PostgreSQL may run it again for each row it updates,
    # and then claim more than ``size``.
    ids = (sa.select(OutboxEvent.id).where(pending, fresh)
           .order_by(*named_first, OutboxEvent.created_at, OutboxEvent.id).limit(size)
           .with_for_update(skip_locked=True)
           .cte("claimable").prefix_with("MATERIALIZED", dialect="postgresql"))
    return (sa.update(OutboxEvent).where(OutboxEvent.id.in_(sa.select(ids.c.id)), pending)
            .values(attempts=OutboxEvent.attempts + 1).returning(OutboxEvent)
            .execution_options(synchronize_session=False, populate_existing=True))


def _split_by_order(events) -> tuple:
    """(events to deliver in this batch, events to deliver one by one after it): a versioned
    event waits when an earlier version of its resource is undelivered outside the batch."""
    keys = {event.resource_key for event in events if versioned_after_first(event)}
    if not keys:
        return events, []
    earliest_outside = dict(db.session.execute(
        sa.select(OutboxEvent.resource_key, sa.func.min(OutboxEvent.version))
        .where(OutboxEvent.resource_key.in_(sorted(keys)), OutboxEvent.delivered_at.is_(None),
               OutboxEvent.id.notin_([event.id for event in events]))
        .group_by(OutboxEvent.resource_key)).all())
    now, later, waiting = [], [], set()
    for event in events:
        first = earliest_outside.get(event.resource_key)
        if event.resource_key in waiting or (first is not None and first < (event.version or 0)):
            waiting.add(event.resource_key)
            later.append(event)
        else:
            now.append(event)
    return now, later
