"""Notification rules: write one per (event, recipient), list, count and mark the caller's own."""
import json

import sqlalchemy as sa

from portal.database import atomic, insert_for, new_id, utcnow
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.notifications.models import Notification
from portal.pagination import paginate

# A short text per event type for the recipient's inbox (never sent on the event stream).
TEXTS = {
    "ticket.created": ("New maintenance ticket", "A new maintenance ticket was raised."),
    "ticket.assigned": ("Ticket assigned", "A contractor was assigned to a ticket."),
    "ticket.status_changed": ("Ticket updated", "A ticket's status changed."),
    "ticket.completed": ("Ticket completed", "A ticket was marked as completed."),
    "ticket.quote_submitted": ("Quote submitted", "A contractor submitted a quote."),
    "ticket.approved": ("Quote approved", "A quote was approved; work can start."),
    "ticket.comment_added": ("New comment", "Someone commented on a ticket."),
    "ticket.attachment_added": ("New photo or file", "A photo or file was added to a ticket."),
    "ticket.sla_breached": ("Ticket overdue", "A ticket is past its response time."),
    "invoice.created": ("New invoice", "A new invoice was issued."),
    "invoice.voided": ("Invoice voided", "An invoice was voided."),
    "invoice.paid": ("Invoice paid", "An invoice was paid in full."),
    "invoice.partially_paid": ("Payment received", "A part payment was received on an invoice."),
    "invoice.overdue": ("Invoice overdue", "An invoice is past its due date."),
}


def text_for(event_type: str):
    """(title, body) for an event type; a generic text for types without their own."""
    return TEXTS.get(event_type, ("Update", "Something changed: " + event_type.replace("_", " ")))


def _insert_ignoring_duplicates(rows):
    """INSERT … ON CONFLICT (event_id, user_id) DO NOTHING, on PostgreSQL and SQLite."""
    stmt = insert_for(Notification).values(rows).on_conflict_do_nothing(
        index_elements=["event_id", "user_id"])
    db.session.execute(stmt)


def create_for_event(event, user_ids) -> list:
    """Add the event's notifications for these users (no commit); return all of the event's."""
    title, body = text_for(event.type)
    resources = json.loads(event.resources) if event.resources else []
    resource = resources[0] if resources else {}
    now = utcnow()
    rows = [{"id": new_id("ntf"), "user_id": user_id, "event_id": event.id, "type": event.type,
             "title": title, "body": body, "resource_type": resource.get("type"),
             "resource_id": resource.get("id"), "created_at": now}
            for user_id in sorted(set(user_ids))]
    if rows:
        _insert_ignoring_duplicates(rows)
    return db.session.execute(
        db.select(Notification).where(Notification.event_id == event.id)
        .order_by(Notification.user_id)).scalars().all()


def _own(principal):
    return db.select(Notification).where(Notification.user_id == principal.user_id)


def list_notifications(principal, *, unread=False, limit=20, cursor=None) -> dict:
    """The caller's notifications, newest first, optionally only the unread ones."""
    query = _own(principal)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return paginate(query, Notification, limit, cursor)


def unread_count(principal) -> int:
    """How many of the caller's notifications are unread."""
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Notification).where(
            Notification.user_id == principal.user_id, Notification.read_at.is_(None))).scalar_one()


def mark_read(principal, *, ids=None, all_=False) -> int:
    """Mark the caller's unread notifications read (by id, or all); return how many changed."""
    if not all_ and not ids:
        raise ValidationFailed(details={"ids": ["Give a non-empty list of ids, or all: true."]})
    stmt = sa.update(Notification).where(
        Notification.user_id == principal.user_id, Notification.read_at.is_(None))
    if not all_:
        stmt = stmt.where(Notification.id.in_(sorted(set(ids))))
    with atomic():
        result = db.session.execute(stmt.values(read_at=utcnow()))
    return result.rowcount or 0
