"""Write an event to the outbox inside the caller's transaction (no commit, no Redis here)."""
import json

from portal.database import new_id, utcnow
from portal.events.enqueue import mark_pending
from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.fields import iso


def resource_key(resources, version):
    """What a versioned event orders against: ``"<type>:<id>"`` of its first resource."""
    if version is None or not resources:
        return None
    return f"{resources[0]['type']}:{resources[0]['id']}"


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
        version=version, resource_key=resource_key(resources, version), occurred_at=utcnow())
    db.session.add(row)
    mark_pending(db.session(), row.id)
    return row


def build_envelope(event_id, event_type, *, actor_role, landlord_id, tenant_id, resources,
                   version, at) -> dict:
    """Every event as clients see it: ids, types, versions and times only, never personal data."""
    return {
        "id": event_id, "type": event_type, "actorRole": actor_role,
        "landlordId": landlord_id, "tenantId": tenant_id,
        "resources": resources, "version": version, "at": at,
    }


def envelope(row: OutboxEvent) -> dict:
    """An outbox event's envelope."""
    return build_envelope(row.id, row.type, actor_role=row.actor_role,
                          landlord_id=row.landlord_id, tenant_id=row.tenant_id,
                          resources=json.loads(row.resources), version=row.version,
                          at=iso(row.occurred_at))


def first_resource(row: OutboxEvent) -> tuple:
    """(type, id) of an outbox event's first resource, (None, None) without one."""
    resources = json.loads(row.resources) if row.resources else []
    resource = resources[0] if resources else {}
    return resource.get("type"), resource.get("id")
