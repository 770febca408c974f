"""Notification rules: write one per (event, recipient), list, count and mark the caller's own."""

import sqlalchemy as sa

from portal.database import atomic, insert_for, new_id, utcnow
from portal.errors import ValidationFailed
from portal.events.outbox import first_resource
from portal.extensions import db
from portal.notifications.models import Notification
from portal.notifications.texts import describe
from portal.pagination import paginate


def _insert_ignoring_duplicates(rows) -> list:
    """INSERT … ON CONFLICT (event_id, user_id) DO NOTHING, on PostgreSQL and SQLite; return
    the notifications it inserted."""
    # The rows as parameters, not in the statement: its compiled form is cached, and
    # SQLAlchemy still sends one INSERT … VALUES (…), (…) … RETURNING ("insertmanyvalues").
    stmt = insert_for(Notification).on_conflict_do_nothing(
        index_elements=["event_id", "user_id"]).returning(Notification)
    return db.session.scalars(stmt, rows).all()


def create_for_events(recipients) -> list:
    """Add the notifications of [(event, user ids)] in one INSERT (no commit); return each
    event's notifications, all of them, ordered by user."""
    wanted = [(event, sorted(set(user_ids))) for event, user_ids in recipients if user_ids]
    rows = [row for (event, user_ids), text in zip(wanted, describe([e for e, _ in wanted]))
            for row in _rows(event, user_ids, text)]
    inserted = {}
    for notification in (_insert_ignoring_duplicates(rows) if rows else ()):
        inserted.setdefault(notification.event_id, []).append(notification)
    counts = {event.id: len(user_ids) for event, user_ids in wanted}
    created = []
    for event, _user_ids in recipients:
        mine = inserted.get(event.id, [])
        if event.attempts == 1 and len(mine) == counts.get(event.id, 0):
            # The first attempt, and no delivery of the same event ran alongside it: these are
            # all of the event's notifications, without reading them back.
            created.append(sorted(mine, key=lambda notification: notification.user_id))
        else:
            created.append(db.session.execute(
                db.select(Notification).where(Notification.event_id == event.id)
                .order_by(Notification.user_id)).scalars().all())
    return created


def _rows(event, user_ids, text) -> list:
    title, body = text
    resource_type, resource_id = first_resource(event)
    now = utcnow()
    return [{"id": new_id("ntf"), "user_id": user_id, "event_id": event.id, "type": event.type,
             "title": title, "body": body, "resource_type": resource_type,
             "resource_id": resource_id, "created_at": now}
            for user_id in user_ids]


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
