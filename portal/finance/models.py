"""Invoices, their lines, payments, refunds, webhook deliveries, the per-landlord-per-year
counter, and the settings that bill rent and late fees."""
import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.database import TimestampMixin, id_column, one_of, utcnow
from portal.money import Money
from portal.extensions import db

INVOICE_STATUSES = ("SENT", "PARTIALLY_PAID", "PAID", "OVERDUE", "VOID")
DELIVERY_STATUSES = ("RECEIVED", "PROCESSED", "FAILED")
PAYMENT_STATUSES = ("CONFIRMED", "PARTIALLY_REFUNDED", "REFUNDED")
LINE_KINDS = ("charge", "late_fee")
# How a stored delivery's raw body is read: the generic payment notice or a Stripe event.
DELIVERY_SCHEMES = ("generic", "stripe")


class InvoiceCounter(db.Model):
    """The last invoice number of one landlord in one year (incremented under a row lock)."""

    __tablename__ = "invoice_counters"
    landlord_id = sa.Column(sa.String(40), sa.ForeignKey("landlords.id"), primary_key=True)
    year = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    last_value = sa.Column(sa.Integer, nullable=False, default=0)


class Invoice(TimestampMixin, db.Model):
    """A bill from a landlord to one tenancy."""

    __tablename__ = "invoices"
    id = id_column("inv")
    landlord_id = sa.Column(sa.String(40), sa.ForeignKey("landlords.id"), nullable=False, index=True)
    tenancy_id = sa.Column(sa.String(40), sa.ForeignKey("tenancies.id"), nullable=False, index=True)
    number = sa.Column(sa.String(20), nullable=False)
    issue_date = sa.Column(sa.Date, nullable=False)
    due_date = sa.Column(sa.Date, nullable=False)
    currency = sa.Column(sa.String(3), nullable=False)
    amount = sa.Column(Money, nullable=False)
    amount_paid = sa.Column(Money, nullable=False)
    status = sa.Column(sa.String(16), nullable=False)
    version = sa.Column(sa.Integer, nullable=False, default=1)
    created_by = sa.Column(sa.String(40), nullable=True)
    voided_at = sa.Column(sa.DateTime, nullable=True)
    # "YYYY-MM" on the rent invoice the beat issued for that month; unique per tenancy, so a
    # month is billed once whatever the number of runs (NULL on invoices typed by hand).
    rent_period = sa.Column(sa.String(7), nullable=True)

    lines = relationship("InvoiceLine", order_by="InvoiceLine.position", lazy="selectin",
                         cascade="all, delete-orphan")

    __table_args__ = (
        sa.UniqueConstraint("landlord_id", "number"),
        sa.UniqueConstraint("tenancy_id", "rent_period"),
        sa.CheckConstraint(one_of("status", INVOICE_STATUSES), name="status"),
        sa.Index("ix_invoices_status_due_date", "status", "due_date"),
        sa.Index("ix_invoices_landlord_created", "landlord_id", "created_at", "id"),
        sa.Index("ix_invoices_tenancy_created", "tenancy_id", "created_at", "id"),
    )


class InvoiceLine(db.Model):
    """One line of an invoice; ``amount`` is computed once, when the invoice is created."""

    __tablename__ = "invoice_lines"
    id = id_column("invl")
    invoice_id = sa.Column(sa.String(40), sa.ForeignKey("invoices.id"), nullable=False, index=True)
    position = sa.Column(sa.Integer, nullable=False)
    description = sa.Column(sa.String(500), nullable=False)
    qty = sa.Column(sa.Numeric(12, 3), nullable=False)
    unit_price = sa.Column(Money, nullable=False)
    tax_rate = sa.Column(sa.Numeric(5, 2), nullable=False)
    amount = sa.Column(Money, nullable=False)
    kind = sa.Column(sa.String(12), nullable=False, default="charge", server_default="charge")
    # When a line was added after the invoice was issued (the late fee); NULL otherwise.
    added_at = sa.Column(sa.DateTime, nullable=True)

    __table_args__ = (
        sa.CheckConstraint(one_of("kind", LINE_KINDS), name="kind"),
        # One late fee per invoice, whatever the number of beats that race to add it.
        sa.Index("uq_invoice_lines_one_late_fee", "invoice_id", unique=True,
                 sqlite_where=sa.text("kind = 'late_fee'"),
                 postgresql_where=sa.text("kind = 'late_fee'")),
    )


class WebhookDelivery(db.Model):
    """A verified webhook call, stored before processing; its outcome answers every redelivery."""

    __tablename__ = "webhook_deliveries"
    id = id_column("whd")
    provider = sa.Column(sa.String(64), nullable=False)
    provider_ref = sa.Column(sa.String(255), nullable=False)
    scheme = sa.Column(sa.String(12), nullable=False, default="generic", server_default="generic")
    raw_body = sa.Column(sa.Text, nullable=False)
    signature = sa.Column(sa.String(1000), nullable=True)
    invoice_id = sa.Column(sa.String(40), nullable=True)
    status = sa.Column(sa.String(12), nullable=False, default="RECEIVED")
    # JSON {"status": <http status>, "body": {...}} once processed (or failed).
    outcome = sa.Column(sa.Text, nullable=True)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    received_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    processed_at = sa.Column(sa.DateTime, nullable=True)

    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_ref"),
        sa.CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
        sa.CheckConstraint(one_of("scheme", DELIVERY_SCHEMES), name="scheme"),
        sa.Index("ix_webhook_deliveries_status_received_at", "status", "received_at"),
    )


class Payment(db.Model):
    """Money received for an invoice; one per webhook delivery."""

    __tablename__ = "payments"
    id = id_column("pay")
    invoice_id = sa.Column(sa.String(40), sa.ForeignKey("invoices.id"), nullable=False, index=True)
    delivery_id = sa.Column(sa.String(40), sa.ForeignKey("webhook_deliveries.id"), nullable=True,
                            unique=True)
    amount = sa.Column(Money, nullable=False)
    currency = sa.Column(sa.String(3), nullable=False)
    status = sa.Column(sa.String(20), nullable=False, default="CONFIRMED")
    amount_refunded = sa.Column(Money, nullable=False, default=0, server_default="0")
    provider = sa.Column(sa.String(64), nullable=False)
    provider_ref = sa.Column(sa.String(255), nullable=False)
    paid_at = sa.Column(sa.DateTime, nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_ref"),
        sa.CheckConstraint(one_of("status", PAYMENT_STATUSES), name="status"),
    )


class Refund(db.Model):
    """Money given back on a payment, as the provider reports it.

    Stripe reports a charge's refunds as a running total (``amount_refunded``); each total seen is
    one row (``level``), and its ``amount`` is what it adds to the level below. The rows of a
    charge are the same set whatever order the reports arrive in. A refund reported before its
    payment waits with ``payment_id`` NULL and counts from the moment the payment arrives.
    """

    __tablename__ = "refunds"
    id = id_column("rfd")
    provider = sa.Column(sa.String(64), nullable=False)
    payment_ref = sa.Column(sa.String(255), nullable=False)  # the refunded payment's providerRef
    source_ref = sa.Column(sa.String(255), nullable=False)  # the provider's charge id
    level = sa.Column(Money, nullable=False)
    amount = sa.Column(Money, nullable=False)
    currency = sa.Column(sa.String(3), nullable=False)
    payment_id = sa.Column(sa.String(40), sa.ForeignKey("payments.id"), nullable=True, index=True)
    invoice_id = sa.Column(sa.String(40), sa.ForeignKey("invoices.id"), nullable=True, index=True)
    delivery_id = sa.Column(sa.String(40), sa.ForeignKey("webhook_deliveries.id"), nullable=True)
    refunded_at = sa.Column(sa.DateTime, nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("provider", "source_ref", "level"),
        sa.Index("ix_refunds_provider_payment_ref", "provider", "payment_ref"),
    )


class RentBilling(db.Model):
    """How a tenancy's rent is billed; a tenancy without a row is billed with the defaults."""

    __tablename__ = "rent_billing"
    tenancy_id = sa.Column(sa.String(40), sa.ForeignKey("tenancies.id"), primary_key=True)
    due_day = sa.Column(sa.Integer, nullable=False)
    lead_days = sa.Column(sa.Integer, nullable=False)
    enabled = sa.Column(sa.Boolean, nullable=False)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint("due_day BETWEEN 1 AND 28", name="due_day"),
        sa.CheckConstraint("lead_days BETWEEN 0 AND 28", name="lead_days"),
    )


class LateFeePolicy(db.Model):
    """A landlord's late fee: ``flat`` plus ``percent`` of what is still owed, once per invoice,
    when it is still unpaid ``grace_days`` after its due date."""

    __tablename__ = "late_fee_policies"
    landlord_id = sa.Column(sa.String(40), sa.ForeignKey("landlords.id"), primary_key=True)
    grace_days = sa.Column(sa.Integer, nullable=False)
    flat = sa.Column(Money, nullable=True)
    percent = sa.Column(sa.Numeric(5, 2), nullable=True)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
