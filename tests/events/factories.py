"""Outbox events as the areas write them: record_event + commit (no HTTP, no Redis)."""
from portal.auth.models import User
from portal.auth.principal import Principal
from portal.events import audience
from portal.events.outbox import record_event
from portal.extensions import db


def actor(name):
    """The principal of a demo user by short name (``tenant``, ``ops``…), or None."""
    if name is None:
        return None
    user = db.session.execute(
        db.select(User).where(User.email == f"{name}@example.com")).scalar_one()
    return Principal.from_user(user)


def ticket_keys(demo, landlord="ll1", contractor=False) -> list:
    """A demo ticket's audience (landlord 1 or 2, its tenancy, OPS, the firm if assigned)."""
    tenant = "ten1" if landlord == "ll1" else "ten2"
    keys = [audience.landlord(demo[landlord]), audience.tenant(demo[tenant]), audience.role("OPS")]
    return keys + ([audience.contractor(demo["ctr"])] if contractor else [])


def invoice_keys(demo, landlord="ll1") -> list:
    """A demo invoice's audience: landlord 1 or 2 and its tenancy."""
    tenant = "ten1" if landlord == "ll1" else "ten2"
    return [audience.landlord(demo[landlord]), audience.tenant(demo[tenant])]


def ticket_event(demo, landlord="ll1", contractor=False, event_type="ticket.created",
                 by="tenant", version=1, resource_id="tkt_test"):
    """Commit a ticket event of landlord 1 or 2 (and its tenancy); return the outbox id."""
    tenant = "ten1" if landlord == "ll1" else "ten2"
    row = record_event(
        event_type, actor(by), landlord_id=demo[landlord], tenant_id=demo[tenant],
        resources=[{"type": "ticket", "id": resource_id}], version=version,
        audience=ticket_keys(demo, landlord, contractor))
    db.session.commit()
    return row.id


def invoice_event(demo, landlord="ll1", event_type="invoice.created", by="landlord",
                  resource_id="inv_test"):
    """Commit an invoice event of landlord 1 or 2; return the outbox id."""
    tenant = "ten1" if landlord == "ll1" else "ten2"
    row = record_event(
        event_type, actor(by), landlord_id=demo[landlord], tenant_id=demo[tenant],
        resources=[{"type": "invoice", "id": resource_id}], version=1,
        audience=invoice_keys(demo, landlord))
    db.session.commit()
    return row.id
