"""Ticket fixtures: a factory that puts a ticket in any status, HTTP helpers, DB snapshots."""
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.database import utcnow
from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.tickets.models import Ticket, TimelineEntry

# Which demo login acts in which role on the ticket of tenancy 1.
ACTOR = {"TENANT": "tenant", "LANDLORD": "landlord", "CONTRACTOR": "contractor", "OPS": "ops"}
STATUSES = ("OPEN", "TRIAGED", "QUOTED", "APPROVED", "IN_PROGRESS", "COMPLETED", "AUDITED",
            "CANCELLED")
QUOTED_OR_LATER = ("QUOTED", "APPROVED", "IN_PROGRESS", "COMPLETED", "AUDITED")


def ticket_body(demo, **overrides):
    """A valid create body for tenancy 1's property."""
    body = {"propertyId": demo["prop1"], "title": "Leaking tap", "category": "plumbing",
            "description": "The kitchen tap drips all night.", "priority": "HIGH"}
    body.update(overrides)
    return body


@pytest.fixture
def file_ticket(client, auth, demo):
    """``file_ticket(**overrides)`` → the JSON of a ticket filed over HTTP by a tenant."""
    def _file(tenant="tenant", **overrides):
        prop = demo["prop1"] if tenant == "tenant" else demo["prop2"]
        response = client.post("/api/tickets", json=ticket_body(demo, propertyId=prop, **overrides),
                               headers=auth(tenant))
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return _file


@pytest.fixture
def make_ticket(app, demo):
    """``make_ticket(status, contractor=True)`` → id of a tenancy-1 ticket stored in that status."""
    def _make(status="OPEN", contractor=True, tenancy="ten1"):
        prop = demo["prop1"] if tenancy == "ten1" else demo["prop2"]
        landlord = demo["ll1"] if tenancy == "ten1" else demo["ll2"]
        with app.app_context():
            ticket = Ticket(landlord_id=landlord, tenant_id=demo[tenancy], property_id=prop,
                            contractor_id=demo["ctr"] if contractor else None,
                            title="Broken boiler", description="No hot water.",
                            priority="URGENT", status=status)
            if status in QUOTED_OR_LATER or status == "CANCELLED":
                ticket.quote_amount, ticket.quote_notes = Decimal("250.50"), "parts and labour"
                ticket.quote_submitted_at = utcnow()
            db.session.add(ticket)
            db.session.commit()
            assert ticket.version == 1
            return ticket.id
    return _make


@pytest.fixture
def snapshot(app):
    """``snapshot()`` → everything a ticket change writes, to compare before and after."""
    def _snapshot():
        with app.app_context():
            tickets = [(t.id, t.status, t.version, t.contractor_id, t.quote_amount, t.updated_at)
                       for t in db.session.execute(sa.select(Ticket).order_by(Ticket.id)).scalars()]
            timeline = db.session.execute(sa.select(sa.func.count(TimelineEntry.id))).scalar()
            outbox = db.session.execute(sa.select(sa.func.count(OutboxEvent.id))).scalar()
            db.session.remove()
            return {"tickets": tickets, "timeline": timeline, "outbox": outbox}
    return _snapshot


@pytest.fixture
def events(app):
    """``events(ticket_id)`` → the outbox rows about that ticket, oldest first, as dicts."""
    def _events(ticket_id=None):
        with app.app_context():
            rows = db.session.execute(sa.select(OutboxEvent).order_by(
                OutboxEvent.version, OutboxEvent.created_at)).scalars().all()
            out = [{c.name: getattr(row, c.name) for c in OutboxEvent.__table__.columns}
                   for row in rows]
            db.session.remove()
        for row in out:
            row["resources"], row["audience"] = json.loads(row["resources"]), \
                json.loads(row["audience"])
        if ticket_id:
            out = [r for r in out if {"type": "ticket", "id": ticket_id} in r["resources"]]
        return out
    return _events


def stored(app, ticket_id):
    """The ticket row as stored (None when absent)."""
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        result = None if ticket is None else {
            c.name: getattr(ticket, c.name) for c in Ticket.__table__.columns}
        db.session.remove()
        return result
