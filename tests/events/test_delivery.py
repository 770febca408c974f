"""deliver_event: notifications once per (event, user), one stream entry, safe to rerun."""
import json
import time
from datetime import timedelta

import pytest

from portal.events import delivery
from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.notifications.models import Notification
from tests.events.factories import invoice_event, ticket_event
from tests.events.observe import entries, queued_deliveries


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


def recipients_of(event_id):
    return {n.user_id for n in db.session.execute(
        db.select(Notification).where(Notification.event_id == event_id)).scalars()}


def test_ticket_event_notifies_everyone_who_sees_it_but_the_actor(ctx, demo):
    users = demo["users"]
    event_id = ticket_event(demo, contractor=True, by="tenant")
    stream_id = delivery.deliver_event(event_id)
    assert recipients_of(event_id) == {users["landlord"], users["contractor"], users["ops"]}
    row = db.session.get(OutboxEvent, event_id)
    assert row.delivered_at is not None and row.stream_id == stream_id
    published = entries()
    assert published[0][0] == stream_id
    main = published[0][1]
    assert main["t"] == "ticket.created"
    assert set(main["a"].split()) == {f"landlord:{demo['ll1']}", f"tenant:{demo['ten1']}",
                                      "role:OPS", f"contractor:{demo['ctr']}"}
    assert json.loads(main["d"])["id"] == event_id
    badges = [fields for _id, fields in published[1:]]
    assert [f["t"] for f in badges] == ["notification.created"] * 3
    assert {f["a"] for f in badges} == {f"user:{u}" for u in recipients_of(event_id)}


def test_invoice_event_notifies_landlord_and_tenancy_only(ctx, demo):
    users = demo["users"]
    event_id = invoice_event(demo, landlord="ll2", by=None)
    delivery.deliver_event(event_id)
    assert recipients_of(event_id) == {users["landlord2"], users["tenant2"]}


def test_delivering_twice_adds_no_notification_and_no_stream_entry(ctx, demo):
    event_id = ticket_event(demo, by="landlord")
    first = delivery.deliver_event(event_id)
    before = (len(entries()), len(recipients_of(event_id)))
    # As if the task died after publishing and before marking the row delivered.
    db.session.get(OutboxEvent, event_id).delivered_at = None
    db.session.commit()
    assert delivery.deliver_event(event_id) == first
    assert delivery.deliver_event(event_id) == first
    assert (len(entries()), len(recipients_of(event_id))) == before == (3, 2)
    assert db.session.get(OutboxEvent, event_id).attempts == 2


def test_notification_envelopes_carry_ids_types_and_times_only(ctx, demo):
    event_id = ticket_event(demo, by="tenant")
    delivery.deliver_event(event_id)
    for _id, fields in entries():
        data = json.loads(fields["d"])
        assert set(data) == {"id", "type", "actorRole", "landlordId", "tenantId", "resources",
                             "version", "at"}
        text = fields["d"]
        assert "@example.com" not in text and "Tess" not in text and "ticket was" not in text


def test_relay_delivers_only_rows_left_undelivered_past_the_grace_period(ctx, demo, app):
    old = ticket_event(demo)
    fresh = ticket_event(demo)
    db.session.get(OutboxEvent, old).created_at -= timedelta(seconds=60)
    db.session.commit()
    assert delivery.relay_pending() == 1
    assert db.session.get(OutboxEvent, old).delivered_at is not None
    assert db.session.get(OutboxEvent, fresh).delivered_at is None
    assert delivery.relay_pending() == 0


def wait_delivered(event_id, timeout=20):
    """The outbox row's delivered_at once the worker has delivered it (None after ``timeout``)."""
    deadline = time.time() + timeout
    while True:
        delivered = db.session.get(OutboxEvent, event_id).delivered_at
        # Ends the read transaction: on SQLite it holds the write lock the worker needs.
        db.session.rollback()
        if delivered is not None or time.time() > deadline:
            return delivered
        time.sleep(0.05)


def test_a_committed_event_is_delivered_without_the_caller_enqueueing_it(ctx, demo,
                                                                         celery_worker):
    event_id = ticket_event(demo)  # record_event + commit, nothing else
    assert wait_delivered(event_id) is not None
    assert db.session.get(OutboxEvent, event_id).stream_id == entries()[0][0]


def test_a_rolled_back_event_is_not_enqueued_and_the_next_commit_sends_only_its_own(
        ctx, demo, redis_url):
    from portal.auth.principal import Principal
    from portal.events.outbox import record_event
    from portal.auth.models import User
    actor = Principal.from_user(db.session.get(User, demo["users"]["tenant"]))
    gone = record_event("ticket.created", actor, landlord_id=demo["ll1"], tenant_id=demo["ten1"],
                        resources=[{"type": "ticket", "id": "tkt_gone"}],
                        audience=[f"landlord:{demo['ll1']}"], version=1).id
    db.session.rollback()
    kept = ticket_event(demo)  # no worker runs: the messages stay on the broker to be read
    assert db.session.get(OutboxEvent, gone) is None
    assert queued_deliveries(redis_url) == [kept]
