"""money: rent billing, late-fee policies, refunds, Stripe deliveries

Revision ID: 0008_money
Revises: 0007_failsafe_outbox_resource
"""
from alembic import op
import sqlalchemy as sa


revision = "0008_money"
down_revision = "0007_failsafe_outbox_resource"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=12, scale=2)


def upgrade():
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rent_period", sa.String(length=7), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_invoices_tenancy_id_rent_period"),
                                          ["tenancy_id", "rent_period"])
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=12), server_default="charge",
                                      nullable=False))
        batch_op.add_column(sa.Column("added_at", sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(batch_op.f("ck_invoice_lines_kind"),
                                         "kind IN ('charge', 'late_fee')")
        batch_op.create_index("uq_invoice_lines_one_late_fee", ["invoice_id"], unique=True,
                              sqlite_where=sa.text("kind = 'late_fee'"),
                              postgresql_where=sa.text("kind = 'late_fee'"))
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheme", sa.String(length=12), server_default="generic",
                                      nullable=False))
        batch_op.create_check_constraint(batch_op.f("ck_webhook_deliveries_scheme"),
                                         "scheme IN ('generic', 'stripe')")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(length=12),
                              type_=sa.String(length=20), existing_nullable=False)
        batch_op.add_column(sa.Column("amount_refunded", MONEY, server_default="0",
                                      nullable=False))
        batch_op.create_check_constraint(
            batch_op.f("ck_payments_status"),
            "status IN ('CONFIRMED', 'PARTIALLY_REFUNDED', 'REFUNDED')")

    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("payment_ref", sa.String(length=255), nullable=False),
        sa.Column("source_ref", sa.String(length=255), nullable=False),
        sa.Column("level", MONEY, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("invoice_id", sa.String(length=40), nullable=True),
        sa.Column("delivery_id", sa.String(length=40), nullable=True),
        sa.Column("refunded_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"],
                                name=op.f("fk_refunds_delivery_id_webhook_deliveries")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"],
                                name=op.f("fk_refunds_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"],
                                name=op.f("fk_refunds_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("provider", "source_ref", "level",
                            name=op.f("uq_refunds_provider_source_ref_level")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_refunds_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index("ix_refunds_provider_payment_ref", ["provider", "payment_ref"],
                              unique=False)

    op.create_table(
        "rent_billing",
        sa.Column("tenancy_id", sa.String(length=40), nullable=False),
        sa.Column("due_day", sa.Integer(), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("due_day BETWEEN 1 AND 28", name=op.f("ck_rent_billing_due_day")),
        sa.CheckConstraint("lead_days BETWEEN 0 AND 28", name=op.f("ck_rent_billing_lead_days")),
        sa.ForeignKeyConstraint(["tenancy_id"], ["tenancies.id"],
                                name=op.f("fk_rent_billing_tenancy_id_tenancies")),
        sa.PrimaryKeyConstraint("tenancy_id", name=op.f("pk_rent_billing")),
    )
    op.create_table(
        "late_fee_policies",
        sa.Column("landlord_id", sa.String(length=40), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("flat", MONEY, nullable=True),
        sa.Column("percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["landlord_id"], ["landlords.id"],
                                name=op.f("fk_late_fee_policies_landlord_id_landlords")),
        sa.PrimaryKeyConstraint("landlord_id", name=op.f("pk_late_fee_policies")),
    )


def downgrade():
    op.drop_table("late_fee_policies")
    op.drop_table("rent_billing")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_provider_payment_ref")
        batch_op.drop_index(batch_op.f("ix_refunds_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_refunds_payment_id"))
    op.drop_table("refunds")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_payments_status"), type_="check")
        batch_op.drop_column("amount_refunded")
        batch_op.alter_column("status", existing_type=sa.String(length=20),
                              type_=sa.String(length=12), existing_nullable=False)
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_webhook_deliveries_scheme"), type_="check")
        batch_op.drop_column("scheme")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index("uq_invoice_lines_one_late_fee")
        batch_op.drop_constraint(batch_op.f("ck_invoice_lines_kind"), type_="check")
        batch_op.drop_column("added_at")
        batch_op.drop_column("kind")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_invoices_tenancy_id_rent_period"), type_="unique")
        batch_op.drop_column("rent_period")
