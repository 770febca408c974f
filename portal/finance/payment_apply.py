"""Applying a stored webhook delivery (worker): exactly once, with the invoice row locked."""
import json
from datetime import timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from marshmallow import ValidationError

from portal.database import atomic, new_id, read_only, utcnow
from portal.errors import ValidationFailed
from portal.events.enqueue import send_best_effort
from portal.extensions import db
from portal.finance import money
from portal.finance.models import Invoice, Payment, WebhookDelivery
from portal.finance.schemas import WebhookPaymentSchema
from portal.finance.service import record_invoice_event
from portal.money import money_json
from portal.tasks import PROCESS_PAYMENT

REQUEUE_BATCH = 500


def load_payload(body: dict) -> dict:
    """The provider's JSON object as validated values (paidAt in naive UTC); 422 when bad."""
    try:
        payload = WebhookPaymentSchema().load(body)
    except ValidationError as exc:
        raise ValidationFailed(details=exc.messages)
    if payload["paid_at"] is not None:
        try:
            payload["paid_at"] = payload["paid_at"].astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the last UTC datetime
            raise ValidationFailed(details={"paidAt": ["Not a valid datetime."]})
    return payload


def process_delivery(delivery_id: str) -> None:
    """Apply one stored delivery exactly once (its commit announces the invoice's event)."""
    with atomic():
        # The delivery's lock makes a second run wait, then see it processed and do nothing.
        delivery = db.session.execute(sa.select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id).with_for_update()).scalar_one_or_none()
        if delivery is None or delivery.status != "RECEIVED":
            return
        delivery.attempts += 1
        _apply(delivery)
        delivery.processed_at = utcnow()


def _apply(delivery) -> None:
    try:
        # The intake verified, guarded and validated these very bytes before storing them.
        payload = load_payload(json.loads(delivery.raw_body, parse_float=Decimal,
                                          parse_constant=Decimal))
    except ValidationFailed as exc:  # only if the schema changed since it was stored
        return _fail(delivery, exc.status, exc.code, exc.message, exc.details)
    invoice = db.session.execute(sa.select(Invoice).where(
        Invoice.id == payload["invoice_id"]).with_for_update()).scalar_one_or_none()
    if invoice is None:
        return _fail(delivery, 422, "unknown_invoice", "No invoice has this invoiceId.",
                     {"invoiceId": ["No such invoice."]})
    if invoice.status == "VOID":
        return _fail(delivery, 409, "invoice_void", "The invoice is void; nothing was applied.",
                     {"status": "VOID"})
    if payload["currency"] and payload["currency"] != invoice.currency:
        return _fail(delivery, 422, "currency_mismatch",
                     "The payment's currency is not the invoice's.",
                     {"currency": [f"Must be {invoice.currency}."]})
    payment = Payment(
        id=new_id("pay"), invoice_id=invoice.id, delivery_id=delivery.id,
        amount=payload["amount"], currency=invoice.currency, status="CONFIRMED",
        provider=delivery.provider, provider_ref=delivery.provider_ref,
        paid_at=payload["paid_at"] or delivery.received_at, created_at=utcnow())
    db.session.add(payment)
    invoice.amount_paid = money.to_cents(invoice.amount_paid + payload["amount"])
    invoice.status = money.payment_status(invoice.amount, invoice.amount_paid, invoice.status)
    invoice.version += 1
    event_type = "invoice.paid" if invoice.status == "PAID" else "invoice.partially_paid"
    record_invoice_event(invoice, event_type, None, [{"type": "payment", "id": payment.id}])
    delivery.status = "PROCESSED"
    delivery.outcome = json.dumps({"status": 200, "body": {
        "payment": {"id": payment.id, "invoiceId": invoice.id,
                    "amount": money_json(payment.amount), "status": payment.status},
        "invoice": {"id": invoice.id, "status": invoice.status,
                    "amountPaid": money_json(invoice.amount_paid)}}})


def _fail(delivery, status, code, message, details=None) -> None:
    delivery.status = "FAILED"
    error = {"code": code, "message": message, "details": details or {}}
    delivery.outcome = json.dumps({"status": status, "body": {"error": error}})


def requeue_stuck(older_than_s=None) -> int:
    """Enqueue again the deliveries still RECEIVED after a while; return how many were sent."""
    if older_than_s is None:
        older_than_s = current_app.config["WEBHOOK_REQUEUE_AFTER_S"]
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with read_only():
        ids = db.session.execute(sa.select(WebhookDelivery.id).where(
            WebhookDelivery.status == "RECEIVED", WebhookDelivery.received_at <= cutoff)
            .order_by(WebhookDelivery.received_at).limit(REQUEUE_BATCH)).scalars().all()
    sent = 0
    for delivery_id in ids:
        if not send_best_effort(PROCESS_PAYMENT, delivery_id):
            break  # the broker is down: the next run sends them
        sent += 1
    return sent
