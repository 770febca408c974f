"""outbox_events.resource_key: a resource's events are published in version order

Revision ID: 0007_failsafe_outbox_resource
Revises: 0006
"""
import json

from alembic import op
import sqlalchemy as sa


revision = "0007_failsafe_outbox_resource"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource_key", sa.String(length=100), nullable=True))
        batch_op.create_index("ix_outbox_events_resource", ["resource_key", "version"],
                              unique=False)
    # Only undelivered events are ever ordered against each other: fill in those.
    outbox = sa.table("outbox_events", sa.column("id"), sa.column("resources"),
                      sa.column("version"), sa.column("delivered_at"), sa.column("resource_key"))
    conn = op.get_bind()
    rows = conn.execute(sa.select(outbox.c.id, outbox.c.resources).where(
        outbox.c.delivered_at.is_(None), outbox.c.version.is_not(None))).all()
    for row_id, resources in rows:
        first = (json.loads(resources or "[]") or [{}])[0]
        if first.get("type") and first.get("id"):
            conn.execute(sa.update(outbox).where(outbox.c.id == row_id).values(
                resource_key=f"{first['type']}:{first['id']}"))


def downgrade():
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_resource")
        batch_op.drop_column("resource_key")
