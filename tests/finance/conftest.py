"""Finance test helpers: invoice factory, signed webhook calls, database and outbox reads."""
import hashlib
import hmac
import json
import time
import uuid

import pytest
import sqlalchemy as sa

from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.finance import signature
from portal.finance.models import Invoice, Payment, WebhookDelivery

SECRET = "whsec_test_finance_0123456789"
STRIPE_SECRET = "whsec_test_stripe_9876543210"
WEBHOOK = "/api/finance/payments/webhook"
STRIPE_WEBHOOK = "/api/finance/payments/webhook/stripe"
INVOICES = "/api/finance/invoices"


@pytest.fixture(autouse=True)
def webhook_config(app, monkeypatch):
    """Pin the webhook settings each test relies on (restored afterwards)."""
    monkeypatch.setitem(app.config, "PAYMENT_WEBHOOK_SECRET", SECRET)
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_UNSIGNED", False)
    monkeypatch.setitem(app.config, "WEBHOOK_WAIT_S", 10.0)


def hmac_header(secret: str, body: bytes, timestamp=None) -> str:
    """``t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` computed here, independently of the
    library the server checks it with."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def invoice_body(tenancy_id, lines=None, issue="2025-11-01", due="2099-11-30", **extra) -> dict:
    """A valid create-invoice body (rent with no tax by default)."""
    body = {"tenancyId": tenancy_id, "issueDate": issue, "dueDate": due,
            "lines": lines or [{"description": "Rent November", "qty": 1, "unitPrice": 1500.00,
                                "taxRate": 0}]}
    body.update(extra)
    return body


def make_invoice(client, headers, tenancy_id, **kwargs) -> dict:
    """Create an invoice over HTTP and return its JSON."""
    response = client.post(INVOICES, json=invoice_body(tenancy_id, **kwargs), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def invoice(client, auth, demo):
    """A SENT invoice of 1500.00 from landlord 1 to tenancy 1."""
    return make_invoice(client, auth("landlord"), demo["ten1"])


def payment_body(invoice_id, amount="100.00", ref=None, provider="stripe", **extra) -> bytes:
    """A webhook body; ``amount`` is spliced in as raw JSON text (so bad literals can be sent)."""
    payload = {"invoiceId": invoice_id, "amount": "__AMOUNT__", "paidAt": "2025-11-06T09:00:00Z",
               "providerRef": ref or "pi_" + uuid.uuid4().hex[:12], "provider": provider, **extra}
    return json.dumps(payload).replace('"__AMOUNT__"', amount).encode()


def post_webhook(client, body: bytes, secret=SECRET, timestamp=None, headers=None, sign=True):
    """POST a body to the webhook, signed with ``secret`` unless ``sign`` is False."""
    all_headers = dict(headers or {})
    if sign:
        all_headers.setdefault(signature.HEADER, hmac_header(secret, body, timestamp))
    return client.post(WEBHOOK, data=body, headers=all_headers, content_type="application/json")


def query(app, statement):
    """Run a select in a fresh app context; return the rows as a list."""
    with app.app_context():
        result = db.session.execute(statement).all()
        db.session.rollback()
        return result


def count(app, model, *where) -> int:
    return query(app, sa.select(sa.func.count()).select_from(model).where(*where))[0][0]


def invoice_row(app, invoice_id):
    return query(app, sa.select(Invoice.status, Invoice.amount, Invoice.amount_paid,
                                Invoice.version).where(Invoice.id == invoice_id))[0]


def deliveries(app):
    return query(app, sa.select(WebhookDelivery.id, WebhookDelivery.status,
                                WebhookDelivery.outcome, WebhookDelivery.provider_ref))


def payments_of(app, invoice_id):
    return query(app, sa.select(Payment.id, Payment.amount, Payment.provider_ref)
                 .where(Payment.invoice_id == invoice_id))


def outbox(app, event_type=None) -> list:
    """Outbox rows as dicts (audience and resources decoded), oldest first."""
    statement = sa.select(OutboxEvent).order_by(OutboxEvent.created_at, OutboxEvent.id)
    if event_type:
        statement = statement.where(OutboxEvent.type == event_type)
    with app.app_context():
        rows = [{"type": r.type, "landlordId": r.landlord_id, "tenantId": r.tenant_id,
                 "actorRole": r.actor_role, "version": r.version,
                 "audience": json.loads(r.audience), "resources": json.loads(r.resources)}
                for r in db.session.execute(statement).scalars()]
        db.session.rollback()
    return rows


# --- Stripe's events, shaped as its API reference documents them -----------------------------

def _stripe_id(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def stripe_event(event_type, obj, event_id=None, created=None) -> dict:
    """An Event object (``object: "event"``) carrying ``obj`` in ``data.object``."""
    return {"id": event_id or _stripe_id("evt"), "object": "event", "api_version": "2024-06-20",
            "created": created or int(time.time()), "data": {"object": obj},
            "livemode": False, "pending_webhooks": 1,
            "request": {"id": _stripe_id("req"), "idempotency_key": None}, "type": event_type}


def payment_intent(invoice_id, amount_minor, intent_id=None, currency="gbp") -> dict:
    """A succeeded PaymentIntent for ``invoice_id`` (in ``metadata.invoiceId``)."""
    intent_id = intent_id or _stripe_id("pi")
    metadata = {"invoiceId": invoice_id} if invoice_id else {}
    return {"id": intent_id, "object": "payment_intent", "amount": amount_minor,
            "amount_capturable": 0, "amount_details": {"tip": {}},
            "amount_received": amount_minor, "automatic_payment_methods": None,
            "capture_method": "automatic", "client_secret": f"{intent_id}_secret_x",
            "confirmation_method": "automatic", "created": int(time.time()) - 60,
            "currency": currency, "customer": None, "description": None,
            "latest_charge": _stripe_id("ch"), "livemode": False, "metadata": metadata,
            "payment_method": _stripe_id("pm"), "payment_method_types": ["card"],
            "status": "succeeded"}


def charge(intent_id, amount_minor, refunded_minor, charge_id, currency="gbp") -> dict:
    """A Charge of ``intent_id`` with ``refunded_minor`` refunded so far (Stripe's running
    total, ``amount_refunded``)."""
    return {"id": charge_id, "object": "charge", "amount": amount_minor,
            "amount_captured": amount_minor, "amount_refunded": refunded_minor,
            "balance_transaction": _stripe_id("txn"), "captured": True,
            "created": int(time.time()) - 30, "currency": currency, "customer": None,
            "disputed": False, "livemode": False, "metadata": {}, "paid": True,
            "payment_intent": intent_id, "payment_method": _stripe_id("pm"),
            "refunded": refunded_minor >= amount_minor, "status": "succeeded"}


def post_stripe(client, event, secret=STRIPE_SECRET, timestamp=None, body=None, headers=None):
    """POST an event to the Stripe endpoint, signed as Stripe signs (computed here)."""
    raw = body if body is not None else json.dumps(event).encode()
    all_headers = {"Stripe-Signature": hmac_header(secret, raw, timestamp), **(headers or {})}
    return client.post(STRIPE_WEBHOOK, data=raw, headers=all_headers,
                       content_type="application/json")
