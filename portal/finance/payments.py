"""The payment webhook: verify → store the delivery → enqueue → wait; and the task's processing."""
import json
import time
from datetime import timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from portal.database import atomic, money_json, new_id, read_only, utcnow
from portal.errors import BadRequest, Unauthorized, ValidationFailed
from portal.events.dispatch import send_best_effort
from portal.extensions import db
from portal.finance import money, signature
from portal.finance.models import Invoice, Payment, WebhookDelivery
from portal.finance.schemas import WebhookPaymentSchema
from portal.finance.service import record_invoice_event
from portal.http import require_json_object


PROCESS_TASK = "payments.process_delivery"
REQUEUE_BATCH = 500


def verify_signature(raw: bytes, header) -> None:
    """401 unless the body is validly signed (or unsigned calls are allowed and it has none).

    Production never accepts an unsigned call, whatever WEBHOOK_ALLOW_UNSIGNED says."""
    config = current_app.config
    unsigned_ok = config.get("WEBHOOK_ALLOW_UNSIGNED") and config["PORTAL_ENV"] != "production"
    if not header and unsigned_ok:
        return
    try:
        signature.verify(raw, header, signature.parse_secrets(config["PAYMENT_WEBHOOK_SECRET"]),
                         config["WEBHOOK_TOLERANCE_S"])
    except signature.SignatureError as exc:
        raise Unauthorized(exc.message, code=exc.code)


def parse_payload(raw) -> dict:
    """The body as a validated dict: 400 when it is not a JSON object, 422 when a field is bad."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        # Numbers are read as exact Decimals (and NaN/Infinity as Decimals the schema refuses).
        body = json.loads(text, parse_float=Decimal, parse_constant=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError):
        body = None
    body = require_json_object(body)
    try:
        payload = WebhookPaymentSchema().load(body)
    except ValidationError as exc:
        raise ValidationFailed(details=exc.messages)
    if payload["paidAt"] is not None:
        try:
            payload["paidAt"] = payload["paidAt"].astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the last UTC datetime
            raise ValidationFailed(details={"paidAt": ["Not a valid datetime."]})
    return payload


def store_delivery(raw: bytes, header, payload: dict):
    """Insert the delivery and commit; return (delivery id, duplicate, stored outcome or None)."""
    delivery_id = new_id("whd")
    delivery = WebhookDelivery(
        id=delivery_id, provider=payload["provider"], provider_ref=payload["providerRef"],
        raw_body=raw.decode("utf-8"), signature=(header or None) and header[:1000],
        invoice_id=payload["invoiceId"], status="RECEIVED", attempts=0, received_at=utcnow())
    db.session.add(delivery)
    try:
        db.session.commit()
        # Not delivery.id: reading the expired row would open a transaction (on SQLite the
        # write lock the worker needs) and hold it across the enqueue.
        return delivery_id, False, None
    except IntegrityError:
        db.session.rollback()
    with read_only():
        row = db.session.execute(sa.select(WebhookDelivery.id, WebhookDelivery.status,
                                           WebhookDelivery.outcome).where(
            WebhookDelivery.provider == payload["provider"],
            WebhookDelivery.provider_ref == payload["providerRef"])).one()
    return row.id, True, _outcome(row)


def enqueue_processing(delivery_id: str) -> bool:
    """Send the processing task; False when the broker is down (the beat requeues it later)."""
    return send_best_effort(PROCESS_TASK, delivery_id)


def wait_for_outcome(delivery_id: str, timeout_s: float):
    """Poll the delivery until it has an outcome or the time is up (None)."""
    deadline = time.monotonic() + timeout_s
    step = 0.02
    while True:
        row = db.session.execute(sa.select(WebhookDelivery.status, WebhookDelivery.outcome)
                                 .where(WebhookDelivery.id == delivery_id)).one()
        # End the read transaction at once: on SQLite it holds the write lock the worker needs,
        # and a new transaction is what sees the worker's commit.
        db.session.rollback()
        outcome = _outcome(row)
        remaining = deadline - time.monotonic()
        if outcome is not None or remaining <= 0:
            return outcome
        time.sleep(min(step, remaining))  # cooperative under gunicorn's gevent worker
        step = min(step * 1.5, 0.25)


def receive_webhook(raw: bytes, header, respond_async: bool):
    """The whole intake; return (HTTP status, body)."""
    verify_signature(raw, header)
    payload = parse_payload(raw)
    delivery_id, duplicate, outcome = store_delivery(raw, header, payload)
    if outcome is None:
        # A redelivery of one still RECEIVED is enqueued again too: the first enqueue may have
        # been lost, and processing twice is harmless.
        queued = enqueue_processing(delivery_id)
        if queued and not respond_async:
            outcome = wait_for_outcome(delivery_id, current_app.config["WEBHOOK_WAIT_S"])
    return answer(delivery_id, outcome, duplicate)


def answer(delivery_id: str, outcome, duplicate: bool):
    """The HTTP answer for a delivery: its stored outcome, or 202 QUEUED."""
    if outcome is None:
        return 202, {"success": True, "status": "QUEUED", "deliveryId": delivery_id,
                     "duplicate": duplicate}
    status, body = outcome["status"], outcome["body"]
    if status < 300:
        return status, {"success": True, "duplicate": duplicate, **body}
    error = dict(body["error"])
    error["details"] = {**error.get("details", {}), "deliveryId": delivery_id,
                        "duplicate": duplicate}
    return status, {"error": error}


def _outcome(row):
    if row.status == "RECEIVED" or not row.outcome:
        return None
    return json.loads(row.outcome)


def process_delivery(delivery_id: str) -> list:
    """Apply one stored delivery exactly once; return the outbox event ids to deliver."""
    with atomic():
        # The delivery's lock makes a second run wait, then see it processed and do nothing.
        delivery = db.session.execute(sa.select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id).with_for_update()).scalar_one_or_none()
        if delivery is None or delivery.status != "RECEIVED":
            return []
        delivery.attempts += 1
        event_ids = _apply(delivery)
        delivery.processed_at = utcnow()
    return event_ids


def _apply(delivery) -> list:
    try:
        payload = parse_payload(delivery.raw_body.encode("utf-8"))
    except (BadRequest, ValidationFailed) as exc:  # validated at intake; kept for safety
        return _fail(delivery, exc.status, exc.code, exc.message, exc.details)
    invoice = db.session.execute(sa.select(Invoice).where(
        Invoice.id == payload["invoiceId"]).with_for_update()).scalar_one_or_none()
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
        paid_at=payload["paidAt"] or delivery.received_at, created_at=utcnow())
    db.session.add(payment)
    invoice.amount_paid = money.to_cents(invoice.amount_paid + payload["amount"])
    invoice.status = money.payment_status(invoice.amount, invoice.amount_paid, invoice.status)
    invoice.version += 1
    event_type = "invoice.paid" if invoice.status == "PAID" else "invoice.partially_paid"
    event_id = record_invoice_event(invoice, event_type, None,
                                    [{"type": "payment", "id": payment.id}])
    delivery.status = "PROCESSED"
    delivery.outcome = json.dumps({"status": 200, "body": {
        "payment": {"id": payment.id, "invoiceId": invoice.id,
                    "amount": money_json(payment.amount), "status": payment.status},
        "invoice": {"id": invoice.id, "status": invoice.status,
                    "amountPaid": money_json(invoice.amount_paid)}}})
    return [event_id]


def _fail(delivery, status, code, message, details=None) -> list:
    delivery.status = "FAILED"
    error = {"code": code, "message": message, "details": details or {}}
    delivery.outcome = json.dumps({"status": status, "body": {"error": error}})
    return []


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
        if not enqueue_processing(delivery_id):
            break  # the broker is down: the next run sends them
        sent += 1
    return sent
