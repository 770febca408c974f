"""Audience keys: who an event is for, as database filters (worker) and set tests (hub)."""
import sqlalchemy as sa

from portal.auth.models import User

_COLUMNS = {
    "user": User.id,
    "role": User.role,
    "landlord": User.landlord_id,
    "tenant": User.tenant_id,
    "contractor": User.contractor_id,
}


def recipient_ids(session, audience, exclude=None) -> list:
    """Ids of the users matching any audience key (``session:`` keys name no user), sorted."""
    conditions = []
    for key in audience:
        kind, _, value = key.partition(":")
        column = _COLUMNS.get(kind)
        if column is not None and value:
            conditions.append(column == value)
    if not conditions:
        return []
    query = sa.select(User.id).where(sa.or_(*conditions))
    if exclude:
        query = query.where(User.id != exclude)
    return sorted(session.execute(query).scalars())


def visible(subscriber_keys, event_keys) -> bool:
    """True when a subscriber's keys and an event's audience meet."""
    return not subscriber_keys.isdisjoint(event_keys)
