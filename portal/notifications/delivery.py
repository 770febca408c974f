"""The notifications' part of delivering an event: one notification per recipient, and a
``notification.created`` stream entry for each (registered with the event delivery)."""
import hashlib
import json

from portal.events import audience, delivery
from portal.events.outbox import build_envelope
from portal.extensions import db
from portal.fields import iso
from portal.notifications import service
from portal.notifications.recipients import recipient_ids


def notification_envelope(event, notification) -> dict:
    """The ``notification.created`` event for one recipient: ids, types and times only."""
    # Derived from (event, user) so a rerun publishes the very same id.
    digest = hashlib.sha256(f"{event.id}:{notification.user_id}".encode()).hexdigest()[:24]
    return build_envelope(
        "evt_" + digest, "notification.created", actor_role=event.actor_role,
        landlord_id=event.landlord_id, tenant_id=event.tenant_id,
        resources=[{"type": "notification", "id": notification.id}]
        + json.loads(event.resources or "[]"),
        version=None, at=iso(notification.created_at))


def stream_entries(batch) -> list:
    """Write the notifications of [(event, audience keys)] (no commit); return each event's
    stream entries. Events with the same audience and actor look their recipients up once."""
    audiences = [(tuple(sorted(keys)), event.actor_id) for event, keys in batch]
    recipients = {}
    for (event, keys), who in zip(batch, audiences):
        if who not in recipients:
            recipients[who] = recipient_ids(db.session, keys, exclude=event.actor_id)
    created = service.create_for_events(
        [(event, recipients[who]) for (event, _keys), who in zip(batch, audiences)])
    return [[("notification.created", [audience.user(n.user_id)], notification_envelope(event, n))
             for n in notifications]
            for (event, _keys), notifications in zip(batch, created)]


def init_app(app) -> None:
    """Register with the event delivery: every delivered event notifies its audience."""
    delivery.add_contributor(app, stream_entries)
