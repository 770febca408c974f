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
WEBHOOK = "/api/finance/payments/webhook"
INVOICES = "/api/finance/invoices"


@pytest.fixture(autouse=True)
def webhook_config(app, monkeypatch):
    """Pin the webhook settings each test relies on (restored afterwards)."""
    monkeypatch.setitem(app.config, "PAYMENT_WEBHOOK_SECRET", SECRET)
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
