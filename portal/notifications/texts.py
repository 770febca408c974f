"""What a notification says: what happened to what ("Leaking faucet in kitchen: quote submitted
(150.00)"), written when the worker delivers the event. Only the recipient's inbox holds this
text; the event stream carries ids, types and versions only."""
import json

import sqlalchemy as sa

from portal.auth.service import user_names
from portal.directory.models import Property, Tenancy
from portal.directory.service import firm_names
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


def _ticket_text(event, ticket_id, actors):
    # The ticket, its property's name and the timeline entry of this version, in one query.
    news = TICKET_NEWS.get(event.type)
    query = (sa.select(Ticket, Property.name)
             .outerjoin(Property, Property.id == Ticket.property_id).where(Ticket.id == ticket_id))
    if news is None:
        query = query.add_columns(TimelineEntry).outerjoin(TimelineEntry, sa.and_(
            TimelineEntry.ticket_id == Ticket.id, TimelineEntry.ticket_version == event.version))
    row = db.session.execute(query).first()
    if row is None:
        return None
    ticket, property_name, change = row[0], row[1] or "", news
    if change is None:
        entry = row[2]
        if entry is None:
            return None
        details = details_of(entry)
        change = change_text(entry.event_type, details, firm_names([details.get("contractorId")]))
    by = actors.get(event.actor_id)
    body = property_name + (f" · by {by}" if by else "")
    return f"{ticket.title}: {change}", body


def _invoice_text(event, invoice_id, _actors):
    invoice = db.session.get(Invoice, invoice_id)
    change = INVOICE_CHANGES.get(event.type)
    if invoice is None or change is None:
        return None
    tenancy = db.session.get(Tenancy, invoice.tenancy_id)
    body = _property_name(tenancy.property_id if tenancy else None)
    return f"Invoice {invoice.number}: {change(invoice)}", body


def describe(events) -> list:
    """(title, body) of the notifications of each outbox event; their actors' names are read
    in one query."""
    actors = user_names([event.actor_id for event in events])
    texts = []
    for event in events:
        resources = json.loads(event.resources) if event.resources else []
        resource = resources[0] if resources else {}
        describer = _DESCRIBERS.get(resource.get("type"))
        text = describer(event, resource.get("id"), actors) if describer else None
        texts.append(text or GENERIC)
    return texts


_DESCRIBERS = {"ticket": _ticket_text, "invoice": _invoice_text}
