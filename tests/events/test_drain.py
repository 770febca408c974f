"""The worker's deliveries: one task while one is queued or running, every pending event in
batches, each resource's versions in order, and what a failed batch leaves to the relay."""
import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.database import utcnow
from portal.events import delivery, drain
from portal.events.models import OutboxEvent
from portal.extensions import db, redis_client
from portal.notifications.models import Notification
from tests.events.factories import invoice_event, ticket_event
from tests.events.observe import entries, queued_deliveries

WAKE = "events:delivery_wake"


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


def published_ids():
    """The outbox ids of the stream's event entries (not the notification badges), in order."""
    return [json.loads(fields["d"])["id"] for _id, fields in entries()
            if fields["t"] != "notification.created"]


def row(event_id):
    db.session.expire_all()
    return db.session.get(OutboxEvent, event_id)


def change(*event_ids, **values):
    """Commit new values for these outbox rows."""
    db.session.execute(sa.update(OutboxEvent).where(OutboxEvent.id.in_(event_ids))
                       .values(**values))
    db.session.commit()


def notified(event_id) -> int:
    return len(db.session.execute(
        db.select(Notification).where(Notification.event_id == event_id)).scalars().all())


def test_commits_while_a_delivery_is_queued_send_no_more_tasks_and_it_takes_them_all(
        ctx, demo, redis_url):
    first = ticket_event(demo, resource_id="tkt_a")
    others = [ticket_event(demo, resource_id=f"tkt_{n}") for n in "bcd"]
    # No worker runs: the messages stay on the broker to be read.
    assert queued_deliveries(redis_url) == [first]
    assert redis_client.conn.exists(redis_client.key(WAKE))

    assert drain.drain(first) == 4  # what the queued task runs
    assert published_ids() == [first, *others]
    for event_id in [first, *others]:
        assert row(event_id).delivered_at is not None and row(event_id).attempts == 1
        assert notified(event_id) == 2  # landlord and OPS; the tenant acted
    # The delivery cleared the flag on its way out: the next commit asks for its own.
    assert not redis_client.conn.exists(redis_client.key(WAKE))
    last = invoice_event(demo)
    assert sorted(queued_deliveries(redis_url)) == sorted([first, last])


def test_a_backlog_goes_out_in_batches_in_commit_order(ctx, demo, app, monkeypatch):
    monkeypatch.setitem(app.config, "DELIVERY_BATCH", 2)
    ids = [ticket_event(demo, resource_id=f"tkt_{n}") for n in range(2)]
    ids.append(invoice_event(demo, resource_id="inv_1"))
    ids += [ticket_event(demo, resource_id=f"tkt_{n}") for n in range(2, 5)]
    assert drain.deliver_batch(2) == 2
    assert published_ids() == ids[:2]
    assert drain.drain() == 4
    assert published_ids() == ids
    assert all(row(event_id).stream_id for event_id in ids)


def test_a_tickets_later_versions_wait_for_an_earlier_one_another_delivery_holds(ctx, demo):
    v1 = ticket_event(demo, resource_id="tkt_o", version=1)
    other = invoice_event(demo, resource_id="inv_o")
    v2 = ticket_event(demo, resource_id="tkt_o", version=2, event_type="ticket.status_changed",
                      by="landlord")
    v3 = ticket_event(demo, resource_id="tkt_o", version=3, event_type="ticket.status_changed",
                      by="landlord")
    # As if another delivery had claimed v1 and not yet published it: no batch takes it.
    change(v1, attempts=1)
    assert drain.drain() == 3
    # v2 and v3 went out after v1, which their own delivery put in the stream first.
    assert published_ids() == [other, v1, v2, v3]
    assert all(row(event_id).delivered_at is not None for event_id in (v1, v2, v3, other))


def test_a_tickets_versions_go_out_in_version_order_when_clocks_disagree(ctx, demo):
    v1 = ticket_event(demo, resource_id="tkt_c", version=1)
    v2 = ticket_event(demo, resource_id="tkt_c", version=2, event_type="ticket.status_changed",
                      by="landlord")
    other = invoice_event(demo, resource_id="inv_c")
    # v2 written on a host whose clock is behind: it reads as older than v1 and the invoice.
    change(v2, created_at=utcnow() - timedelta(seconds=5))
    assert drain.drain() == 3
    # The ticket's versions in order, in the places its events took in the batch.
    assert published_ids() == [v1, v2, other]


def test_a_retried_task_takes_its_own_event_in_its_first_batch(ctx, demo, app, monkeypatch):
    monkeypatch.setitem(app.config, "DELIVERY_BATCH", 2)
    older = [ticket_event(demo, resource_id=f"tkt_r{n}") for n in range(3)]
    named = ticket_event(demo, resource_id="tkt_named")
    change(named, attempts=1)  # its first try failed; Celery retries the task that names it
    assert drain.deliver_batch(2, named) == 2
    assert published_ids() == [older[0], named]


def test_an_event_already_tried_is_left_to_the_relay_unless_its_task_names_it(ctx, demo):
    tried, named = ticket_event(demo, resource_id="tkt_t"), ticket_event(demo, resource_id="tkt_n")
    change(tried, named, attempts=1)
    assert drain.drain() == 0
    assert drain.drain(named) == 1  # a retried task delivers its own event
    assert published_ids() == [named]
    change(tried, created_at=utcnow() - timedelta(seconds=60))
    assert delivery.relay_pending() == 1
    assert published_ids() == [named, tried]


def test_a_batch_that_fails_is_delivered_by_the_relay_event_by_event(ctx, demo, app):
    good = ticket_event(demo, resource_id="tkt_good")
    bad = invoice_event(demo, resource_id="inv_bad")

    def refuse(batch):
        if any(event.id == bad for event, _keys in batch):
            raise RuntimeError("this event cannot be described")
        return [[] for _ in batch]
    contributors = app.extensions["event_delivery_contributors"]
    contributors.append(refuse)
    try:
        assert redis_client.conn.exists(redis_client.key(WAKE))  # the commits' flag
        with pytest.raises(RuntimeError):
            drain.drain()
        db.session.rollback()
        # The failed delivery dropped the flag: the next commit asks for one at once.
        assert not redis_client.conn.exists(redis_client.key(WAKE))
        # Nothing of the batch was written; both are claimed, so no batch retries them.
        assert (notified(good), notified(bad), published_ids()) == (0, 0, [])
        assert drain.drain() == 0
        change(good, bad, created_at=utcnow() - timedelta(seconds=60))
        delivery.relay_pending()
    finally:
        contributors.remove(refuse)
    assert published_ids() == [good]
    assert row(good).delivered_at is not None and row(bad).delivered_at is None


def test_a_flag_left_by_a_worker_that_died_expires(ctx, demo, app, redis_url, monkeypatch):
    monkeypatch.setitem(app.config, "DELIVERY_WAKE_TTL_S", 0.2)
    redis_client.conn.set(redis_client.key(WAKE), "1", px=200)  # set, and no task sent
    waiting = ticket_event(demo, resource_id="tkt_w")
    assert queued_deliveries(redis_url) == []
    time.sleep(0.3)
    later = ticket_event(demo, resource_id="tkt_l")
    assert queued_deliveries(redis_url) == [later]
    drain.drain(later)
    assert published_ids() == [waiting, later]
