"""The payment webhook's intake (web): verify → store the delivery → enqueue → wait → answer.
The worker's side, applying a stored delivery, is payment_apply.py."""
import json
import time
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal.database import new_id, read_only, utcnow
from portal.errors import Unauthorized
from portal.events.enqueue import send_best_effort
from portal.tasks import PROCESS_PAYMENT
from portal.extensions import db
from portal.finance import signature
from portal.finance.models import WebhookDelivery
from portal.finance.payment_apply import load_payload
from portal.http import require_json_object


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
    return load_payload(require_json_object(body))


def store_delivery(raw: bytes, header, payload: dict):
    """Insert the delivery and commit; return (delivery id, duplicate, stored outcome or None)."""
    delivery_id = new_id("whd")
    delivery = WebhookDelivery(
        id=delivery_id, provider=payload["provider"], provider_ref=payload["provider_ref"],
        raw_body=raw.decode("utf-8"), signature=(header or None) and header[:1000],
        invoice_id=payload["invoice_id"], status="RECEIVED", attempts=0, received_at=utcnow())
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
            WebhookDelivery.provider_ref == payload["provider_ref"])).one()
    return row.id, True, _outcome(row)


def enqueue_processing(delivery_id: str) -> bool:
    """Send the processing task; False when the broker is down (the beat requeues it later)."""
    return send_best_effort(PROCESS_PAYMENT, delivery_id)


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
