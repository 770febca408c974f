"""A file attached to a ticket (the bytes live in the storage backend, under ``storage_key``)."""
import sqlalchemy as sa

from portal.database import id_column, utcnow
from portal.extensions import db


class Attachment(db.Model):
    """One uploaded file: its type decided from its content, its size and (images) dimensions."""

    __tablename__ = "ticket_attachments"
    __table_args__ = (sa.Index("ix_ticket_attachments_ticket_created", "ticket_id", "created_at",
                               "id"),)
    id = id_column("att")
    ticket_id = sa.Column(sa.String(40), sa.ForeignKey("tickets.id"), nullable=False)
    uploaded_by = sa.Column(sa.String(40), sa.ForeignKey("users.id"), nullable=False)
    filename = sa.Column(sa.String(255), nullable=False)
    content_type = sa.Column(sa.String(100), nullable=False)
    size = sa.Column(sa.Integer, nullable=False)
    width = sa.Column(sa.Integer, nullable=True)
    height = sa.Column(sa.Integer, nullable=True)
    storage_key = sa.Column(sa.String(255), nullable=False, unique=True)
    # Set by the thumbnail task once it has stored the thumbnail (images only).
    thumbnail_key = sa.Column(sa.String(255), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
