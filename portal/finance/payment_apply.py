"""Applying a stored webhook delivery (worker): exactly once, with the invoice row locked."""
import json
from datetime import timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from marshmallow import ValidationError

from portal.database import atomic, read_only, utcnow
from portal.errors import DomainError, ValidationFailed
from portal.events.enqueue import send_best_effort
from portal.extensions import db
from portal.finance import ledger, stripe_events
from portal.finance.models import WebhookDelivery
from portal.finance.schemas import WebhookPaymentSchema
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
        try:
            # The intake verified, guarded and validated these very bytes before storing them.
            body = json.loads(delivery.raw_body, parse_float=Decimal, parse_constant=Decimal)
            status, answer = 200, APPLIERS[delivery.scheme](delivery, body)
            delivery.status = "PROCESSED"
        except DomainError as exc:  # raised before anything was written
            error = {"code": exc.code, "message": exc.message, "details": exc.details or {}}
            status, answer = exc.status, {"error": error}
            delivery.status = "FAILED"
        delivery.outcome = json.dumps({"status": status, "body": answer})
        delivery.processed_at = utcnow()


def _apply_generic(delivery, body) -> dict:
    payload = load_payload(body)  # 422 only if the schema changed since it was stored
    return ledger.pay(delivery, payload["invoice_id"], payload["currency"], payload["amount"],
                      payload["paid_at"] or delivery.received_at, delivery.provider,
                      delivery.provider_ref)


APPLIERS = {"generic": _apply_generic, "stripe": stripe_events.apply}


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
