"""tickets: tickets and their timeline

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("landlord_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("property_id", sa.String(length=40), nullable=False),
        sa.Column("contractor_id", sa.String(length=40), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("quote_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("quote_notes", sa.Text(), nullable=True),
        sa.Column("quote_submitted_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('OPEN', 'TRIAGED', 'QUOTED', 'APPROVED', 'IN_PROGRESS', 'COMPLETED', "
            "'AUDITED', 'CANCELLED')", name=op.f("ck_tickets_status")),
        sa.CheckConstraint("priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')",
                           name=op.f("ck_tickets_priority")),
        sa.CheckConstraint("quote_amount IS NULL OR quote_amount > 0",
                           name=op.f("ck_tickets_quote_amount")),
        sa.ForeignKeyConstraint(["contractor_id"], ["contractors.id"],
                                name=op.f("fk_tickets_contractor_id_contractors")),
        sa.ForeignKeyConstraint(["landlord_id"], ["landlords.id"],
                                name=op.f("fk_tickets_landlord_id_landlords")),
        sa.ForeignKeyConstraint(["property_id"], ["properties.id"],
                                name=op.f("fk_tickets_property_id_properties")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenancies.id"],
                                name=op.f("fk_tickets_tenant_id_tenancies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_contractor_id"), ["contractor_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_landlord_id"), ["landlord_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_property_id"), ["property_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "ticket_timeline",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.String(length=40), nullable=False),
        sa.Column("ticket_version", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"],
                                name=op.f("fk_ticket_timeline_actor_id_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_ticket_timeline_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_timeline")),
        sa.UniqueConstraint("ticket_id", "ticket_version",
                            name=op.f("uq_ticket_timeline_ticket_id_ticket_version")),
    )


def downgrade():
    op.drop_table("ticket_timeline")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_tickets_property_id"))
        batch_op.drop_index(batch_op.f("ix_tickets_landlord_id"))
        batch_op.drop_index(batch_op.f("ix_tickets_contractor_id"))
        batch_op.drop_index("ix_tickets_created_at_id")
    op.drop_table("tickets")
