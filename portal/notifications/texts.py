"""What a notification says: what happened to what ("Leaking faucet in kitchen: quote submitted
(150.00)"), written when the worker delivers the event. Only the recipient's inbox holds this
text; the event stream carries ids, types and versions only."""

import sqlalchemy as sa

from portal.auth.service import user_names
from portal.directory.models import Property, Tenancy
from portal.directory.service import firm_names
from portal.events.outbox import first_resource
from portal.extensions import db
from portal.finance.models import Invoice
from portal.tickets.describe import change_text, details_of
from portal.tickets.models import Ticket, TimelineEntry

GENERIC = ("Update", "Something changed.")

INVOICE_CHANGES = {
    "invoice.created": lambda inv: f"issued ({_money(inv.amount, inv)}, due {_day(inv.due_date)})",
    "invoice.paid": lambda inv: f"paid in full ({_money(inv.amount, inv)})",
    "invoice.partially_paid": lambda inv: (f"payment received ({_money(inv.amount_paid, inv)} "
                                           f"of {_money(inv.amount, inv)})"),
    "invoice.overdue": lambda inv: f"overdue (was due {_day(inv.due_date)})",
    "invoice.voided": lambda inv: "voided",
    "invoice.refunded": lambda inv: f"refund recorded (paid now {_money(inv.amount_paid, inv)})",
    "invoice.late_fee_added": lambda inv: f"late fee added (now {_money(inv.amount, inv)})",
}

# Ticket events that change nothing on the ticket itself, so have no timeline entry to describe.
# (Never the comment's text: the inbox says that there is one, the thread shows it.)
TICKET_NEWS = {
    "ticket.comment_added": "new comment",
    "ticket.attachment_added": "new photo or file",
    "ticket.sla_breached": "overdue (past its response time)",
}


def _money(amount, invoice) -> str:
    return f"{amount:,.2f} {invoice.currency}"


def _day(value) -> str:
    return value.strftime("%d %b %Y")


def _property_name(property_id) -> str:
    prop = db.session.get(Property, property_id) if property_id else None
    return prop.name if prop is not None else ""


def _ticket_text(event, ticket_id, found):
    ticket = found.tickets.get(ticket_id)
    if ticket is None:
        return None
    title, property_name = ticket
    change = TICKET_NEWS.get(event.type)
    if change is None:
        entry = found.entries.get((ticket_id, event.version))
        if entry is None:
            return None
        details = details_of(entry)
        change = change_text(entry.event_type, details, found.firms)
    by = found.actors.get(event.actor_id)
    return f"{title}: {change}", (property_name or "") + (f" · by {by}" if by else "")


class _TicketFacts:
    """What the ticket texts of a batch need, read once for the whole batch: each ticket's
    title and property name, the timeline entry of each change's version, the names of the
    firms those entries mention, and the names of the events' actors."""

    def __init__(self, events, resources):
        ticket_events = [(event, resource_id) for event, (kind, resource_id)
                         in zip(events, resources) if kind == "ticket" and resource_id]
        self.tickets = self._titles({ticket_id for _event, ticket_id in ticket_events})
        self.entries = self._entries({(ticket_id, event.version)
                                      for event, ticket_id in ticket_events
                                      if event.type not in TICKET_NEWS and event.version})
        self.firms = firm_names(details_of(entry).get("contractorId")
                                for entry in self.entries.values())
        self.actors = user_names([event.actor_id for event in events])

    @staticmethod
    def _titles(ticket_ids) -> dict:
        """{ticket id: (title, property name)}."""
        if not ticket_ids:
            return {}
        rows = db.session.execute(
            sa.select(Ticket.id, Ticket.title, Property.name.label("property_name"))
            .outerjoin(Property, Property.id == Ticket.property_id)
            .where(Ticket.id.in_(sorted(ticket_ids))))
        return {row.id: (row.title, row.property_name) for row in rows}

    @staticmethod
    def _entries(changes) -> dict:
        """{(ticket id, version): timeline entry}."""
        if not changes:
            return {}
        entries = db.session.scalars(sa.select(TimelineEntry).where(
            sa.tuple_(TimelineEntry.ticket_id, TimelineEntry.ticket_version)
            .in_(sorted(changes))))
        return {(entry.ticket_id, entry.ticket_version): entry for entry in entries}


def _invoice_text(event, invoice_id, _found):
    invoice = db.session.get(Invoice, invoice_id)
    change = INVOICE_CHANGES.get(event.type)
    if invoice is None or change is None:
        return None
    tenancy = db.session.get(Tenancy, invoice.tenancy_id)
    body = _property_name(tenancy.property_id if tenancy else None)
    return f"Invoice {invoice.number}: {change(invoice)}", body


def describe(events) -> list:
    """(title, body) of the notifications of each outbox event. What the ticket texts need is
    read once for all of them; an invoice's text reads its invoice."""
    resources = [first_resource(event) for event in events]
    found = _TicketFacts(events, resources)
    texts = []
    for event, (kind, resource_id) in zip(events, resources):
        describer = _DESCRIBERS.get(kind)
        text = describer(event, resource_id, found) if describer else None
        texts.append(text or GENERIC)
    return texts


_DESCRIBERS = {"ticket": _ticket_text, "invoice": _invoice_text}
