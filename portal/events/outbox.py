"""Write an event to the outbox inside the caller's transaction (no commit, no Redis here)."""
import json

from portal.database import new_id, utcnow
from portal.events.enqueue import mark_pending
from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.fields import iso


def ticket_audience(landlord_id, tenant_id, contractor_id=None):
    """Who sees ticket events: the landlord's users, the tenancy's, the assigned firm's, OPS."""
    keys = [f"landlord:{landlord_id}", f"tenant:{tenant_id}", "role:OPS"]
    if contractor_id:
        keys.append(f"contractor:{contractor_id}")
    return keys


def ticket_staff_audience(landlord_id, contractor_id=None):
    """Who sees a ticket's internal notes: its audience without the tenancy."""
    return [key for key in ticket_audience(landlord_id, None, contractor_id)
            if not key.startswith("tenant:")]


def ticket_landlord_audience(landlord_id):
    """Who is told that a ticket is late: the landlord's users and OPS."""
    return [f"landlord:{landlord_id}", "role:OPS"]


def invoice_audience(landlord_id, tenancy_id):
    """Who sees invoice events: the landlord's and the tenancy's users only."""
    return [f"landlord:{landlord_id}", f"tenant:{tenancy_id}"]


def record_event(event_type, principal, *, landlord_id, tenant_id, resources, audience,
                 version=None) -> OutboxEvent:
    """Add an outbox row to the current session; its commit makes it durable and enqueues its
    delivery (portal/events/enqueue.py)."""
    row = OutboxEvent(
        id=new_id("evt"), type=event_type,
        actor_id=principal.user_id if principal else None,
        actor_role=principal.role if principal else "SYSTEM",
        landlord_id=landlord_id, tenant_id=tenant_id,
        resources=json.dumps(resources), audience=json.dumps(sorted(set(audience))),
        version=version, occurred_at=utcnow())
    db.session.add(row)
    mark_pending(db.session(), row.id)
    return row


def envelope(row: OutboxEvent) -> dict:
    """The event as clients see it: ids, types, versions and times only."""
    return {
        "id": row.id, "type": row.type, "actorRole": row.actor_role,
        "landlordId": row.landlord_id, "tenantId": row.tenant_id,
        "resources": json.loads(row.resources), "version": row.version,
        "at": iso(row.occurred_at),
    }
