"""Invoices, their lines, payments, webhook deliveries and the per-landlord-per-year counter."""
import sqlalchemy as sa
from sqlalchemy.orm import relationship

from portal.database import TimestampMixin, id_column, one_of, utcnow
from portal.money import Money
from portal.extensions import db

INVOICE_STATUSES = ("SENT", "PARTIALLY_PAID", "PAID", "OVERDUE", "VOID")
DELIVERY_STATUSES = ("RECEIVED", "PROCESSED", "FAILED")


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

    lines = relationship("InvoiceLine", order_by="InvoiceLine.position", lazy="selectin",
                         cascade="all, delete-orphan")

    __table_args__ = (
        sa.UniqueConstraint("landlord_id", "number"),
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


class WebhookDelivery(db.Model):
    """A verified webhook call, stored before processing; its outcome answers every redelivery."""

    __tablename__ = "webhook_deliveries"
    id = id_column("whd")
    provider = sa.Column(sa.String(64), nullable=False)
    provider_ref = sa.Column(sa.String(255), nullable=False)
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
    status = sa.Column(sa.String(12), nullable=False, default="CONFIRMED")
    provider = sa.Column(sa.String(64), nullable=False)
    provider_ref = sa.Column(sa.String(255), nullable=False)
    paid_at = sa.Column(sa.DateTime, nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("provider", "provider_ref"),)
