"""Tickets and their timeline."""
import sqlalchemy as sa

from portal.database import TimestampMixin, id_column, one_of, utcnow
from portal.money import Money
from portal.extensions import db
from portal.plain_rows import Derived
from portal.tickets.state import FINISHED, PRIORITIES, STATUSES


class TicketDerived(Derived):
    """What a ticket's columns tell, for the mapped ticket and a list page's plain rows alike."""

    @property
    def quote(self):
        """The submitted quote as a dict, or None."""
        if self.quote_submitted_at is None:
            return None
        return {"amount": self.quote_amount, "notes": self.quote_notes,
                "submitted_at": self.quote_submitted_at}

    @property
    def overdue(self) -> bool:
        """Past ``due_at`` and still not COMPLETED, AUDITED or CANCELLED."""
        return self.status not in FINISHED and self.due_at is not None \
            and self.due_at < utcnow()


class Ticket(TicketDerived, TimestampMixin, db.Model):
    """A maintenance request filed by a tenancy about its property."""

    __tablename__ = "tickets"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", STATUSES), name="status"),
        sa.CheckConstraint(one_of("priority", PRIORITIES), name="priority"),
        sa.CheckConstraint("quote_amount IS NULL OR quote_amount > 0", name="quote_amount"),
        sa.Index("ix_tickets_created_at_id", "created_at", "id"),
        # Each party's newest-first list walks its own index, however deep the cursor.
        sa.Index("ix_tickets_landlord_created", "landlord_id", "created_at", "id"),
        sa.Index("ix_tickets_landlord_status_created", "landlord_id", "status", "created_at", "id"),
        sa.Index("ix_tickets_tenant_created", "tenant_id", "created_at", "id"),
        sa.Index("ix_tickets_contractor_created", "contractor_id", "created_at", "id"),
    )
    id = id_column("tkt")
    landlord_id = sa.Column(sa.String(40), sa.ForeignKey("landlords.id"), nullable=False,
                            index=True)
    tenant_id = sa.Column(sa.String(40), sa.ForeignKey("tenancies.id"), nullable=False, index=True)
    property_id = sa.Column(sa.String(40), sa.ForeignKey("properties.id"), nullable=False,
                            index=True)
    contractor_id = sa.Column(sa.String(40), sa.ForeignKey("contractors.id"), nullable=True,
                              index=True)
    title = sa.Column(sa.String(200), nullable=False)
    category = sa.Column(sa.String(50), nullable=True)
    description = sa.Column(sa.Text, nullable=False)
    priority = sa.Column(sa.String(10), nullable=False)
    status = sa.Column(sa.String(20), nullable=False, default="OPEN")
    quote_amount = sa.Column(Money, nullable=True)
    quote_notes = sa.Column(sa.Text, nullable=True)
    quote_submitted_at = sa.Column(sa.DateTime, nullable=True)
    version = sa.Column(sa.Integer, nullable=False)
    # When a response is due (createdAt + the priority's response time, portal/tickets/sla.py).
    due_at = sa.Column(sa.DateTime, nullable=False, index=True)

    # SQLAlchemy turns every flush of a change into UPDATE ... WHERE id = ? AND version = ?
    # (and raises StaleDataError when another transaction won): the compare-and-set.
    __mapper_args__ = {"version_id_col": version}


@sa.event.listens_for(Ticket, "before_insert")
def _due_by_priority(_mapper, _connection, ticket):
    # Every way a ticket is inserted (the service, the seed, a test factory) gets its dueAt,
    # counted from the very createdAt stored (column defaults run in no guaranteed order).
    from portal.tickets.sla import due_at
    if ticket.created_at is None:
        ticket.created_at = utcnow()
    if ticket.due_at is None:
        ticket.due_at = due_at(ticket.priority, ticket.created_at)


class TimelineEntry(db.Model):
    """One recorded change of a ticket, written in the same transaction as the change."""

    __tablename__ = "ticket_timeline"
    __table_args__ = (sa.UniqueConstraint("ticket_id", "ticket_version"),)
    id = id_column("tl")
    ticket_id = sa.Column(sa.String(40), sa.ForeignKey("tickets.id"), nullable=False)
    # The ticket's version after the change: orders the timeline and forbids a double entry.
    ticket_version = sa.Column(sa.Integer, nullable=False)
    event_type = sa.Column(sa.String(32), nullable=False)
    actor_id = sa.Column(sa.String(40), sa.ForeignKey("users.id"), nullable=True)
    details = sa.Column(sa.Text, nullable=False, default="{}")  # JSON-encoded, served as a string
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class TicketComment(db.Model):
    """A comment on a ticket; ``internal`` ones are among landlord, contractor and OPS only."""

    __tablename__ = "ticket_comments"
    __table_args__ = (sa.Index("ix_ticket_comments_ticket_created", "ticket_id", "created_at",
                               "id"),)
    id = id_column("cmt")
    ticket_id = sa.Column(sa.String(40), sa.ForeignKey("tickets.id"), nullable=False)
    author_id = sa.Column(sa.String(40), sa.ForeignKey("users.id"), nullable=False)
    author_role = sa.Column(sa.String(20), nullable=False)
    body = sa.Column(sa.Text, nullable=False)
    internal = sa.Column(sa.Boolean, nullable=False, default=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class SlaBreach(db.Model):
    """The marker that a ticket's response time was breached and announced: one per ticket,
    so the announcement happens once however many checks run, concurrently or not."""

    __tablename__ = "ticket_sla_breaches"
    ticket_id = sa.Column(sa.String(40), sa.ForeignKey("tickets.id"), primary_key=True)
    due_at = sa.Column(sa.DateTime, nullable=False)
    breached_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
