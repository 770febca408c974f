"""A user's notification about one domain event."""
import sqlalchemy as sa

from portal.database import id_column, utcnow
from portal.extensions import db
from portal.plain_rows import Derived


class NotificationDerived(Derived):
    """Computed fields of a notification, mapped or a plain row."""

    @property
    def resource(self) -> dict:
        """What the notification is about: ``{"type", "id"}``."""
        return {"type": self.resource_type, "id": self.resource_id}


class Notification(NotificationDerived, db.Model):
    """One notification per (event, user): the unique pair makes redelivery add nothing."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "user_id"),
        sa.Index("ix_notifications_user_created", "user_id", "created_at", "id"),
        sa.Index("ix_notifications_user_unread", "user_id", "read_at"),
    )
    id = id_column("ntf")
    user_id = sa.Column(sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"),
                        nullable=False)
    # The outbox event's id; not a foreign key so the outbox can be purged on its own schedule.
    event_id = sa.Column(sa.String(40), nullable=False)
    type = sa.Column(sa.String(64), nullable=False)
    title = sa.Column(sa.String(200), nullable=False)
    body = sa.Column(sa.String(500), nullable=False)
    resource_type = sa.Column(sa.String(32), nullable=True)
    resource_id = sa.Column(sa.String(40), nullable=True)
    read_at = sa.Column(sa.DateTime, nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
