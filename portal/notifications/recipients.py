"""Who gets a notification for an event: every user matching its audience, but its actor."""
import sqlalchemy as sa

from portal.auth.models import User
from portal.events import audience

_COLUMNS = {
    audience.USER: User.id,
    audience.ROLE: User.role,
    audience.LANDLORD: User.landlord_id,
    audience.TENANT: User.tenant_id,
    audience.CONTRACTOR: User.contractor_id,
}


def recipient_ids(session, keys, exclude=None) -> list:
    """Ids of the users matching any audience key (``session:`` keys name no user), sorted."""
    conditions = []
    for key in keys:
        kind, value = audience.parse(key)
        column = _COLUMNS.get(kind)
        if column is not None and value:
            conditions.append(column == value)
    if not conditions:
        return []
    # A UNION of one indexed lookup per key: an OR across columns is a scan of every user.
    selects = [sa.select(User.id).where(condition) for condition in conditions]
    if exclude:
        selects = [select.where(User.id != exclude) for select in selects]
    return sorted(set(session.execute(sa.union(*selects)).scalars()))
