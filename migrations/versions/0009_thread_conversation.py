"""ticket conversation: comments, attachments, response times (dueAt, breach markers)

Revision ID: 0009_thread_conversation
Revises: 0008_money
"""
from datetime import timedelta

from alembic import op
import sqlalchemy as sa


revision = "0009_thread_conversation"
down_revision = "0008_money"
branch_labels = None
depends_on = None

# The default response times: tickets filed before this revision get their dueAt from these.
RESPONSE_TIMES_S = {"URGENT": 24 * 3600, "HIGH": 72 * 3600, "MEDIUM": 7 * 86400,
                    "LOW": 14 * 86400}


def upgrade():
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
    tickets = sa.table("tickets", sa.column("id", sa.String), sa.column("priority", sa.String),
                       sa.column("created_at", sa.DateTime), sa.column("due_at", sa.DateTime))
    bind = op.get_bind()
    rows = bind.execute(sa.select(tickets.c.id, tickets.c.priority, tickets.c.created_at)).all()
    if rows:  # one executemany, not a round trip per ticket
        bind.execute(
            tickets.update().where(tickets.c.id == sa.bindparam("ticket_id"))
            .values(due_at=sa.bindparam("due")),
            [{"ticket_id": ticket_id,
              "due": created_at + timedelta(seconds=RESPONSE_TIMES_S[priority])}
             for ticket_id, priority, created_at in rows])
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.alter_column("due_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.create_index(batch_op.f("ix_tickets_due_at"), ["due_at"], unique=False)

    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.String(length=40), nullable=False),
        sa.Column("author_id", sa.String(length=40), nullable=False),
        sa.Column("author_role", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"],
                                name=op.f("fk_ticket_comments_author_id_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_ticket_comments_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comments")),
    )
    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_comments_ticket_created",
                              ["ticket_id", "created_at", "id"], unique=False)

    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.String(length=40), nullable=False),
        sa.Column("uploaded_by", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_ticket_attachments_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"],
                                name=op.f("fk_ticket_attachments_uploaded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachments")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_ticket_attachments_storage_key")),
    )
    with op.batch_alter_table("ticket_attachments", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_attachments_ticket_created",
                              ["ticket_id", "created_at", "id"], unique=False)

    op.create_table(
        "ticket_sla_breaches",
        sa.Column("ticket_id", sa.String(length=40), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("breached_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_ticket_sla_breaches_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_sla_breaches")),
    )


def downgrade():
    op.drop_table("ticket_sla_breaches")
    with op.batch_alter_table("ticket_attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_attachments_ticket_created")
    op.drop_table("ticket_attachments")
    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_comments_ticket_created")
    op.drop_table("ticket_comments")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_due_at"))
        batch_op.drop_column("due_at")
