"""The transactional outbox: one row per domain event, written with the change it records."""
import sqlalchemy as sa

from portal.database import id_column, utcnow
from portal.extensions import db


class OutboxEvent(db.Model):
    """A domain event envelope plus its audience keys, waiting to be delivered."""

    __tablename__ = "outbox_events"
    id = id_column("evt")
    type = sa.Column(sa.String(64), nullable=False)
    actor_id = sa.Column(sa.String(40), nullable=True)
    actor_role = sa.Column(sa.String(20), nullable=True)
    landlord_id = sa.Column(sa.String(40), nullable=True)
    tenant_id = sa.Column(sa.String(40), nullable=True)
    # JSON-encoded: [{"type": "ticket", "id": "tkt_…"}] and ["landlord:ll_1", "role:OPS", …].
    resources = sa.Column(sa.Text, nullable=False)
    audience = sa.Column(sa.Text, nullable=False)
    version = sa.Column(sa.Integer, nullable=True)
    # "<type>:<id>" of the first resource of a versioned event: its events go out in version order.
    resource_key = sa.Column(sa.String(100), nullable=True)
    occurred_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    delivered_at = sa.Column(sa.DateTime, nullable=True)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    # The Redis stream entry id once published (the SSE ``id:``).
    stream_id = sa.Column(sa.String(40), nullable=True)

    __table_args__ = (sa.Index("ix_outbox_events_pending", "delivered_at", "created_at"),
                      sa.Index("ix_outbox_events_resource", "resource_key", "version"))
