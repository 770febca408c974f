"""What money received or given back does to an invoice (worker side, in the caller's
transaction): payments, refunds, and the amountPaid and status that follow from them.

``amountPaid`` is always recomputed from the rows (payments minus the refunds counted against
them), never nudged by a delta, so the same rows give the same invoice whatever order they
were written in.
"""
from decimal import Decimal

import sqlalchemy as sa

from portal.database import new_id, utcnow
from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.finance import money
from portal.finance.models import Invoice, Payment, Refund
from portal.finance.service import record_invoice_event
from portal.money import money_json, to_cents


def lock_reference(provider: str, ref: str) -> None:
    """Serialize the work on one provider payment (its payment and its refunds) until commit.

    A refund can arrive before its payment, when there is no row yet to lock. PostgreSQL takes
    a transaction-scoped advisory lock on the reference; SQLite's writers already queue at
    BEGIN IMMEDIATE, one at a time.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                           {"key": f"payment:{provider}:{ref}"})


def lock_invoice(invoice_id):
    """The invoice row, locked until commit (None when there is no such invoice)."""
    if invoice_id is None:
        return None
    return db.session.execute(sa.select(Invoice).where(Invoice.id == invoice_id)
                              .with_for_update()).scalar_one_or_none()


def payable_invoice(invoice_id, currency=None) -> Invoice:
    """The invoice a payment is for, locked; refused (before anything is written) when there is
    none (422), it is VOID (409) or the payment's currency is not its own (422)."""
    invoice = lock_invoice(invoice_id)
    if invoice is None:
        raise ValidationFailed("No invoice has this invoiceId.", code="unknown_invoice",
                               details={"invoiceId": ["No such invoice."]})
    if invoice.status == "VOID":
        raise Conflict("The invoice is void; nothing was applied.", code="invoice_void",
                       details={"status": "VOID"})
    if currency and currency != invoice.currency:
        raise ValidationFailed("The payment's currency is not the invoice's.",
                               code="currency_mismatch",
                               details={"currency": [f"Must be {invoice.currency}."]})
    return invoice


def find_payment(provider: str, ref: str):
    """The payment a provider knows as ``ref``, or None."""
    return db.session.execute(sa.select(Payment).where(
        Payment.provider == provider, Payment.provider_ref == ref)).scalar_one_or_none()


def _total(query) -> Decimal:
    # Summed here, exactly: SQLite's SUM over NUMERIC adds binary floats.
    return to_cents(sum(db.session.execute(query).scalars(), Decimal(0)))


def settle(invoice: Invoice) -> None:
    """Recompute amountPaid (payments − their refunds) and the status; bump the version."""
    paid = _total(sa.select(Payment.amount).where(Payment.invoice_id == invoice.id))
    refunded = _total(sa.select(Refund.amount).where(Refund.invoice_id == invoice.id,
                                                     Refund.payment_id.is_not(None)))
    invoice.amount_paid = paid - refunded
    invoice.status = money.settled_status(invoice.amount, invoice.amount_paid, invoice.status,
                                          invoice.due_date < utcnow().date())
    invoice.version += 1


def _count_refunds(payment: Payment) -> list:
    """Attach the refunds waiting for ``payment`` and total them on it; return those attached."""
    waiting = db.session.execute(sa.select(Refund).where(
        Refund.provider == payment.provider, Refund.payment_ref == payment.provider_ref,
        Refund.payment_id.is_(None))).scalars().all()
    for refund in waiting:
        refund.payment_id, refund.invoice_id = payment.id, payment.invoice_id
    db.session.flush()
    payment.amount_refunded = _total(sa.select(Refund.amount)
                                     .where(Refund.payment_id == payment.id))
    payment.status = money.refunded_status(payment.amount, payment.amount_refunded)
    return waiting


def pay(delivery, invoice_id, currency, amount, paid_at, provider, provider_ref) -> dict:
    """Apply a provider's payment once per (provider, providerRef); return the outcome body."""
    lock_reference(provider, provider_ref)
    payment = find_payment(provider, provider_ref)
    if payment is not None:  # another delivery already recorded this very payment
        return outcome(payment, db.session.get(Invoice, payment.invoice_id))
    invoice = payable_invoice(invoice_id, currency)
    return record_payment(invoice, delivery, amount, paid_at, provider, provider_ref)


def record_payment(invoice, delivery, amount, paid_at, provider, provider_ref) -> dict:
    """Add a confirmed payment to a locked invoice; return the delivery's outcome body."""
    payment = Payment(
        id=new_id("pay"), invoice_id=invoice.id, delivery_id=delivery.id, amount=amount,
        currency=invoice.currency, status="CONFIRMED", amount_refunded=to_cents(0),
        provider=provider, provider_ref=provider_ref, paid_at=paid_at, created_at=utcnow())
    db.session.add(payment)
    db.session.flush()
    refunded_early = _count_refunds(payment)
    settle(invoice)
    event_type = "invoice.paid" if invoice.status == "PAID" else "invoice.partially_paid"
    record_invoice_event(invoice, event_type, None, [{"type": "payment", "id": payment.id}])
    if refunded_early:  # refunds reported before this payment count from now on
        record_invoice_event(invoice, "invoice.refunded", None,
                             [{"type": "payment", "id": payment.id}])
    return outcome(payment, invoice)


def record_refund_level(delivery, provider, payment_ref, source_ref, level, currency,
                        refunded_at):
    """Record that ``source_ref`` (a charge of payment ``payment_ref``) has ``level`` refunded in
    all, under lock_reference; return the payment it counts against (None while it waits)."""
    payment = find_payment(provider, payment_ref)
    known = db.session.execute(sa.select(Refund.id).where(
        Refund.provider == provider, Refund.source_ref == source_ref,
        Refund.level == level)).first()
    if known is not None or level <= 0:
        return payment  # already counted (or nothing refunded)
    db.session.add(Refund(
        id=new_id("rfd"), provider=provider, payment_ref=payment_ref, source_ref=source_ref,
        level=level, amount=level, currency=currency, delivery_id=delivery.id,
        refunded_at=refunded_at, created_at=utcnow()))
    db.session.flush()
    # Each level adds what lies above the level below it, whichever arrived first.
    below = to_cents(0)
    for refund in db.session.execute(sa.select(Refund).where(
            Refund.provider == provider, Refund.source_ref == source_ref)
            .order_by(Refund.level)).scalars():
        refund.amount, below = refund.level - below, refund.level
    if payment is not None:
        invoice = lock_invoice(payment.invoice_id)
        _count_refunds(payment)
        settle(invoice)
        record_invoice_event(invoice, "invoice.refunded", None,
                             [{"type": "payment", "id": payment.id}])
    return payment


def outcome(payment, invoice) -> dict:
    """The body a delivery's answer carries once applied."""
    body = {"payment": {"id": payment.id, "invoiceId": invoice.id,
                        "amount": money_json(payment.amount), "status": payment.status}}
    if payment.amount_refunded:
        body["payment"]["amountRefunded"] = money_json(payment.amount_refunded)
    body["invoice"] = {"id": invoice.id, "status": invoice.status,
                       "amountPaid": money_json(invoice.amount_paid)}
    return body
