"""Response times: when a ticket is due by its priority, which tickets are overdue, and the
beat's breach check that announces each late ticket once."""
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.database import atomic, insert_for, utcnow
from portal.events import audience
from portal.events.outbox import record_event
from portal.extensions import db
from portal.roles import OPS
from portal.tickets.state import FINISHED

# The setting holding each priority's response time, in seconds.
RESPONSE_TIME_SETTINGS = {
    "URGENT": "TICKET_DUE_URGENT_S",
    "HIGH": "TICKET_DUE_HIGH_S",
    "MEDIUM": "TICKET_DUE_MEDIUM_S",
    "LOW": "TICKET_DUE_LOW_S",
}
BREACH_BATCH = 200


def due_at(priority: str, created_at: datetime) -> datetime:
    """When a ticket of this priority filed at ``created_at`` is due."""
    seconds = current_app.config[RESPONSE_TIME_SETTINGS[priority]]
    return created_at + timedelta(seconds=seconds)


def overdue_clause(model, now=None):
    """SQL: the ticket is past its due time and not finished."""
    return sa.and_(model.due_at < (now or utcnow()), model.status.not_in(FINISHED))


def mark_breaches(now=None) -> list:
    """Announce each overdue ticket not yet announced (``ticket.sla_breached``, to the
    landlord's users and OPS); return the ids announced by this run.

    The marker row is inserted with ON CONFLICT DO NOTHING in the same transaction as the
    event: of two concurrent runs, the one whose insert lands writes the event and the other
    inserts nothing (on PostgreSQL it waits for the first to commit, then finds the row), so a
    breach is announced exactly once without any lock that could expire.
    """
    from portal.tickets.models import SlaBreach, Ticket
    now = now or utcnow()
    announced = []
    while True:
        with atomic():
            tickets = db.session.execute(
                sa.select(Ticket).where(overdue_clause(Ticket, now), ~sa.exists().where(
                    SlaBreach.ticket_id == Ticket.id))
                .order_by(Ticket.due_at, Ticket.id).limit(BREACH_BATCH)).scalars().all()
            for ticket in tickets:
                inserted = db.session.execute(
                    insert_for(SlaBreach).values(ticket_id=ticket.id, due_at=ticket.due_at,
                                                 breached_at=now)
                    .on_conflict_do_nothing(index_elements=["ticket_id"])
                    .returning(SlaBreach.ticket_id)).scalar_one_or_none()
                if inserted is None:
                    continue  # another run announced it
                record_event("ticket.sla_breached", None, landlord_id=ticket.landlord_id,
                             tenant_id=ticket.tenant_id,
                             resources=[{"type": "ticket", "id": ticket.id}],
                             audience=[audience.landlord(ticket.landlord_id),
                                       audience.role(OPS)])
                announced.append(ticket.id)
        if len(tickets) < BREACH_BATCH:
            return announced
