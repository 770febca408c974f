"""Stripe's own events: which ones we act on, what they say, and applying them (worker side).

``payment_intent.succeeded`` (the invoice in ``metadata.invoiceId``, amounts in minor units)
records a payment; ``charge.refunded`` records the charge's refunded total; every other type is
acknowledged and ignored. Both are keyed by the PaymentIntent's id, so a refund that arrives
before its payment waits for it and the final state is the same in any order.
"""
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Optional

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.finance import ledger
from portal.finance.models import Invoice
from portal.money import MAX_AMOUNT, to_cents

PROVIDER = "stripe"
PAYMENT_SUCCEEDED = "payment_intent.succeeded"
CHARGE_REFUNDED = "charge.refunded"
# Stripe's zero-decimal currencies: their amounts are whole units, not hundredths.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z

_ID = validate.Length(min=1, max=255)


class _StripeSchema(Schema):
    """Stripe's snake_case keys as they are (not our camelCase base); extra keys ignored."""

    class Meta:
        unknown = EXCLUDE


class EventSchema(_StripeSchema):
    id = fields.String(required=True, validate=_ID)
    type = fields.String(required=True, validate=validate.Length(min=1, max=255))
    created = fields.Integer(strict=True, required=True,
                             validate=validate.Range(min=0, max=LAST_SECOND))
    data = fields.Dict(required=True)


class _MoneyObjectSchema(_StripeSchema):
    id = fields.String(required=True, validate=_ID)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z]{3}$"))
    metadata = fields.Dict(keys=fields.String(), load_default=dict)


class PaymentIntentSchema(_MoneyObjectSchema):
    amount = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
    amount_received = fields.Integer(strict=True, load_default=None,
                                     validate=validate.Range(min=0))


class ChargeSchema(_MoneyObjectSchema):
    amount_refunded = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
    payment_intent = fields.String(load_default=None, allow_none=True, validate=_ID)


@dataclass(frozen=True)
class StripeEvent:
    """One event we act on, in our terms (amounts in major units, times naive UTC)."""

    event_id: str
    type: str
    created: datetime
    payment_ref: str  # the PaymentIntent's id
    amount: Decimal  # the payment's amount, or the charge's refunded total
    currency: str
    invoice_id: Optional[str] = None
    charge_id: Optional[str] = None


def _load(schema, data, where):
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(details={where: exc.messages} if where else exc.messages)


def _major_units(minor: int, currency: str) -> Decimal:
    amount = to_cents(Decimal(minor).scaleb(0 if currency in ZERO_DECIMAL else -2))
    if amount > MAX_AMOUNT:
        raise ValidationFailed(details={"data": {"object": {"amount": ["Too large."]}}})
    return amount


def _text(value) -> Optional[str]:
    return str(value)[:40] if value else None


def read(body: dict) -> Optional[StripeEvent]:
    """The event as values (422 when one we act on is malformed); None when it is ignored: an
    event type we do not handle, or a payment that names no invoice of ours."""
    envelope = _load(EventSchema(), body, None)
    if envelope["type"] not in (PAYMENT_SUCCEEDED, CHARGE_REFUNDED):
        return None
    created = datetime.fromtimestamp(envelope["created"], timezone.utc).replace(tzinfo=None)
    obj = envelope["data"].get("object")
    if not isinstance(obj, dict):
        raise ValidationFailed(details={"data": {"object": ["Must be an object."]}})
    if envelope["type"] == PAYMENT_SUCCEEDED:
        intent = _load(PaymentIntentSchema(), obj, "data.object")
        invoice_id = intent["metadata"].get("invoiceId")
        if not invoice_id:
            return None  # not a payment for one of our invoices
        currency = intent["currency"].upper()
        received = intent["amount_received"]
        amount = _major_units(intent["amount"] if received is None else received, currency)
        if amount <= 0:
            raise ValidationFailed(details={"data.object": {"amount": ["Must be above 0."]}})
        return StripeEvent(envelope["id"], envelope["type"], created, intent["id"], amount,
                           currency, invoice_id=_text(invoice_id))
    charge = _load(ChargeSchema(), obj, "data.object")
    currency = charge["currency"].upper()
    return StripeEvent(envelope["id"], envelope["type"], created,
                       charge["payment_intent"] or charge["id"],
                       _major_units(charge["amount_refunded"], currency), currency,
                       invoice_id=_text(charge["metadata"].get("invoiceId")),
                       charge_id=charge["id"])


def apply(delivery, body: dict) -> dict:
    """Apply a stored Stripe event (the caller holds the delivery's lock); return its outcome."""
    event = read(body)
    if event.type == PAYMENT_SUCCEEDED:
        return ledger.pay(delivery, event.invoice_id, event.currency, event.amount,
                          event.created, PROVIDER, event.payment_ref)
    ledger.lock_reference(PROVIDER, event.payment_ref)
    payment = ledger.record_refund_level(delivery, PROVIDER, event.payment_ref, event.charge_id,
                                         event.amount, event.currency, event.created)
    if payment is None:
        return {"refund": {"paymentRef": event.payment_ref, "status": "AWAITING_PAYMENT"}}
    return ledger.outcome(payment, db.session.get(Invoice, payment.invoice_id))
