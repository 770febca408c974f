"""The payment webhooks' intake (web): verify → store the delivery → enqueue → wait → answer.

One mechanism for every provider: a WebhookSource says how its deliveries are signed and keyed
(the generic notice, Stripe's events). The worker's side, applying a stored delivery, is
payment_apply.py."""
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Optional

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal.database import new_id, read_only, utcnow
from portal.errors import BadRequest, Unauthorized
from portal.events.enqueue import send_best_effort
from portal.tasks import PROCESS_PAYMENT
from portal.extensions import db
from portal.finance import signature, stripe_events
from portal.finance.models import WebhookDelivery
from portal.finance.payment_apply import load_payload
from portal.http import require_json_object



@dataclass(frozen=True)
class DeliveryKey:
    """What a verified delivery is stored under: unique (provider, providerRef)."""

    provider: str
    provider_ref: str
    invoice_id: Optional[str] = None


@dataclass(frozen=True)
class WebhookSource:
    """One webhook's way in: how its deliveries are signed, keyed and later applied.

    ``read(text)`` validates the body before anything is stored and returns its DeliveryKey,
    or None for a notice that is acknowledged and ignored; ``scheme`` tells the worker how
    to apply the stored body (payment_apply.py).
    """

    scheme: str
    header: str
    secret_setting: str
    read: Callable[[str], Optional[DeliveryKey]]
    allow_unsigned_setting: Optional[str] = None


def verify_signature(source: WebhookSource, text: str, header) -> None:
    """401 unless the body is validly signed (or unsigned calls are allowed and it has none).

    Production never accepts an unsigned call, whatever the setting says."""
    config = current_app.config
    unsigned_ok = (source.allow_unsigned_setting and config.get(source.allow_unsigned_setting)
                   and config["PORTAL_ENV"] != "production")
    if not header and unsigned_ok:
        return
    try:
        signature.verify(text, header, signature.parse_secrets(config[source.secret_setting]),
                         config["WEBHOOK_TOLERANCE_S"])
    except signature.SignatureError as exc:
        raise Unauthorized(exc.message, code=exc.code)


def decode(raw: bytes) -> str:
    """The body's text; 400 when it is not UTF-8 (JSON always is, and signatures sign text)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid JSON.", code="invalid_json")


def parse_object(text: str) -> dict:
    """The body as a JSON object (numbers as exact Decimals); 400 / 422 as require_json_object."""
    try:
        # NaN/Infinity become Decimals too, which the schemas refuse.
        body = json.loads(text, parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, RecursionError):
        body = None
    return require_json_object(body)


def _read_generic(text: str) -> DeliveryKey:
    payload = load_payload(parse_object(text))
    return DeliveryKey(payload["provider"], payload["provider_ref"], payload["invoice_id"])


def _read_stripe(text: str) -> Optional[DeliveryKey]:
    event = stripe_events.read(parse_object(text))
    if event is None:
        return None
    # Deduplicated by Stripe's event id: a redelivered event is the same delivery.
    return DeliveryKey(stripe_events.PROVIDER, event.event_id, event.invoice_id)


GENERIC = WebhookSource(scheme="generic", header=signature.HEADER,
                        secret_setting="PAYMENT_WEBHOOK_SECRET", read=_read_generic,
                        allow_unsigned_setting="WEBHOOK_ALLOW_UNSIGNED")
# Stripe always signs: no setting accepts its events unsigned.
STRIPE = WebhookSource(scheme="stripe", header=signature.STRIPE_HEADER,
                       secret_setting="STRIPE_WEBHOOK_SECRET", read=_read_stripe)


def store_delivery(scheme: str, text: str, header, key: DeliveryKey):
    """Insert the delivery and commit; return (delivery id, duplicate, stored outcome or None)."""
    delivery_id = new_id("whd")
    delivery = WebhookDelivery(
        id=delivery_id, provider=key.provider, provider_ref=key.provider_ref, scheme=scheme,
        raw_body=text, signature=(header or None) and header[:1000],
        invoice_id=key.invoice_id, status="RECEIVED", attempts=0, received_at=utcnow())
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
            WebhookDelivery.provider == key.provider,
            WebhookDelivery.provider_ref == key.provider_ref)).one()
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


def receive_webhook(source: WebhookSource, raw: bytes, header, respond_async: bool):
    """The whole intake; return (HTTP status, body)."""
    text = decode(raw)
    verify_signature(source, text, header)
    key = source.read(text)
    if key is None:
        return 200, {"success": True, "ignored": True}
    delivery_id, duplicate, outcome = store_delivery(source.scheme, text, header, key)
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
