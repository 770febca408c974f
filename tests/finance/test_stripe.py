"""Stripe's own events at /api/finance/payments/webhook/stripe, signed as Stripe signs them
(the header is computed here), applied by a real Celery worker on the run's own Redis."""
import json
import time

import pytest
import sqlalchemy as sa

from portal.finance.models import Payment, Refund, WebhookDelivery
from tests.finance.conftest import (STRIPE_SECRET, STRIPE_WEBHOOK, charge, count, hmac_header,
                                    invoice_row, outbox, payment_intent, post_stripe, query,
                                    stripe_event)
from tests.helpers import run_together

PAID = "payment_intent.succeeded"
REFUNDED = "charge.refunded"


def _nothing_stored(app):
    return count(app, WebhookDelivery) == 0 and count(app, Payment) == 0 \
        and count(app, Refund) == 0


def _payments(client, headers, invoice_id):
    response = client.get(f"/api/finance/payments?invoiceId={invoice_id}", headers=headers)
    return response.get_json()["items"]


# --- refused before anything is stored ------------------------------------------------------

def test_a_wrong_secret_is_401_and_nothing_is_stored(client, app, invoice):
    event = stripe_event(PAID, payment_intent(invoice["id"], 150000))
    response = post_stripe(client, event, secret="whsec_someone_else")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert _nothing_stored(app)


@pytest.mark.parametrize("skew", [-301, 301, -86400])
def test_a_stale_timestamp_is_401_and_nothing_is_stored(client, app, invoice, skew):
    event = stripe_event(PAID, payment_intent(invoice["id"], 150000))
    response = post_stripe(client, event, timestamp=int(time.time()) + skew)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "stale_signature"
    assert _nothing_stored(app)


def test_a_tampered_body_is_401_and_nothing_is_stored(client, app, invoice):
    signed = json.dumps(stripe_event(PAID, payment_intent(invoice["id"], 100))).encode()
    tampered = signed.replace(b'"amount_received": 100', b'"amount_received": 150000')
    assert tampered != signed
    response = client.post(STRIPE_WEBHOOK, data=tampered, content_type="application/json",
                           headers={"Stripe-Signature": hmac_header(STRIPE_SECRET, signed)})
    assert response.status_code == 401
    assert _nothing_stored(app)


def test_no_signature_is_401_even_where_unsigned_generic_calls_are_allowed(client, app, invoice,
                                                                          monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_UNSIGNED", True)
    body = json.dumps(stripe_event(PAID, payment_intent(invoice["id"], 100))).encode()
    response = client.post(STRIPE_WEBHOOK, data=body, content_type="application/json")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "missing_signature"
    assert _nothing_stored(app)


def test_a_body_that_is_not_utf8_is_400_and_a_non_ascii_header_401(client, app):
    raw = b'{"id": "evt_\xff"}'
    response = client.post(STRIPE_WEBHOOK, data=raw, content_type="application/json",
                           headers={"Stripe-Signature": hmac_header(STRIPE_SECRET, raw)})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"
    body = json.dumps(stripe_event(PAID, payment_intent("inv_x", 100))).encode()
    header = hmac_header(STRIPE_SECRET, body) + ",v1=\u00e9"
    response = client.post(STRIPE_WEBHOOK, data=body, content_type="application/json",
                           headers={"Stripe-Signature": header.encode("latin-1")})
    assert response.status_code == 401
    assert _nothing_stored(app)


def test_the_generic_secret_does_not_sign_stripe_events(client, app, invoice):
    from tests.finance.conftest import SECRET
    response = post_stripe(client, stripe_event(PAID, payment_intent(invoice["id"], 100)),
                           secret=SECRET)
    assert response.status_code == 401 and _nothing_stored(app)


@pytest.mark.parametrize("event_type", ["customer.created", "invoice.paid", "charge.succeeded",
                                        "payment_intent.created"])
def test_other_event_types_are_acknowledged_and_ignored(client, app, invoice, event_type):
    response = post_stripe(client, stripe_event(event_type, {"id": "obj_1", "object": "thing"}))
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "ignored": True}
    assert _nothing_stored(app)


def test_a_payment_for_no_invoice_of_ours_is_ignored(client, app):
    response = post_stripe(client, stripe_event(PAID, payment_intent(None, 100)))
    assert response.status_code == 200 and response.get_json()["ignored"] is True
    assert _nothing_stored(app)


@pytest.mark.parametrize("change", [
    {"amount_received": "100"}, {"amount_received": 1.5}, {"amount_received": -1},
    {"amount_received": 0}, {"currency": "pounds"}, {"id": None},
])
def test_a_malformed_payment_event_is_422_and_nothing_is_stored(client, app, invoice, change):
    event = stripe_event(PAID, {**payment_intent(invoice["id"], 100), **change})
    response = post_stripe(client, event)
    assert response.status_code == 422, response.get_json()
    assert _nothing_stored(app)


# --- payments ---------------------------------------------------------------------------------

def test_a_succeeded_payment_intent_pays_the_invoice(client, app, auth, invoice, celery_worker):
    intent = payment_intent(invoice["id"], 150000)
    event = stripe_event(PAID, intent)
    response = post_stripe(client, event)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["duplicate"] is False
    assert body["invoice"] == {"id": invoice["id"], "status": "PAID", "amountPaid": 1500.00}
    [payment] = _payments(client, auth("tenant"), invoice["id"])
    assert (payment["amount"], payment["provider"], payment["providerRef"], payment["status"]) \
        == (1500.00, "stripe", intent["id"], "CONFIRMED")
    [(_, status, _, ref)] = query(app, sa.select(
        WebhookDelivery.id, WebhookDelivery.status, WebhookDelivery.outcome,
        WebhookDelivery.provider_ref))
    assert (status, ref) == ("PROCESSED", event["id"])
    assert [e["type"] for e in outbox(app, "invoice.paid")] == ["invoice.paid"]


def test_the_same_event_twenty_times_at_once_gives_one_payment(app, invoice, celery_worker):
    event = stripe_event(PAID, payment_intent(invoice["id"], 25000))

    def deliver(_i, client):
        response = post_stripe(client, event)
        return response.status_code, response.get_json()

    results = run_together(app, 20, deliver)
    assert [status for status, _ in results] == [200] * 20, results
    assert sorted(body["duplicate"] for _, body in results) == [False] + [True] * 19
    assert len({body["payment"]["id"] for _, body in results}) == 1
    assert count(app, Payment) == 1 and count(app, WebhookDelivery) == 1
    assert invoice_row(app, invoice["id"]).amount_paid == 250
    assert len(outbox(app, "invoice.partially_paid")) == 1


def test_a_second_event_for_the_same_payment_intent_adds_nothing(client, app, invoice,
                                                                celery_worker):
    intent = payment_intent(invoice["id"], 25000)
    first = post_stripe(client, stripe_event(PAID, intent)).get_json()
    second = post_stripe(client, stripe_event(PAID, intent)).get_json()
    assert second["payment"] == first["payment"] and second["duplicate"] is False
    assert count(app, Payment) == 1 and invoice_row(app, invoice["id"]).amount_paid == 250


def test_an_unknown_invoice_is_422_and_the_delivery_is_kept_failed(client, app, celery_worker):
    response = post_stripe(client, stripe_event(PAID, payment_intent("inv_nope", 100)))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "unknown_invoice"
    assert count(app, WebhookDelivery) == 1 and count(app, Payment) == 0


# --- refunds ----------------------------------------------------------------------------------

def test_a_partial_refund_reopens_a_paid_invoice(client, app, auth, invoice, celery_worker):
    intent = payment_intent(invoice["id"], 150000)
    assert post_stripe(client, stripe_event(PAID, intent)).get_json()["invoice"]["status"] == "PAID"
    charge_id = intent["latest_charge"]
    partial = post_stripe(client, stripe_event(REFUNDED, charge(intent["id"], 150000, 50000,
                                                                charge_id)))
    assert partial.status_code == 200, partial.get_json()
    assert partial.get_json()["invoice"] == {"id": invoice["id"], "status": "PARTIALLY_PAID",
                                             "amountPaid": 1000.00}
    [payment] = _payments(client, auth("landlord"), invoice["id"])
    assert (payment["status"], payment["amountRefunded"]) == ("PARTIALLY_REFUNDED", 500.00)
    [event] = outbox(app, "invoice.refunded")
    assert event["resources"][0] == {"type": "invoice", "id": invoice["id"]}

    full = post_stripe(client, stripe_event(REFUNDED, charge(intent["id"], 150000, 150000,
                                                             charge_id))).get_json()
    assert full["invoice"] == {"id": invoice["id"], "status": "SENT", "amountPaid": 0.00}
    [payment] = _payments(client, auth("landlord"), invoice["id"])
    assert (payment["status"], payment["amountRefunded"]) == ("REFUNDED", 1500.00)


def _final_state(app, client, headers, invoice_id):
    invoice = client.get(f"/api/finance/invoices/{invoice_id}", headers=headers).get_json()
    [payment] = _payments(client, headers, invoice_id)
    refunds = sorted(r.amount for r in query(app, sa.select(Refund.amount).where(
        Refund.invoice_id == invoice_id)))
    return ((invoice["status"], invoice["amountPaid"]),
            (payment["status"], payment["amount"], payment["amountRefunded"]), refunds)


def _history(invoice_id):
    intent = payment_intent(invoice_id, 100000)
    charge_id = intent["latest_charge"]
    return [stripe_event(PAID, intent),
            stripe_event(REFUNDED, charge(intent["id"], 100000, 30000, charge_id)),
            stripe_event(REFUNDED, charge(intent["id"], 100000, 45000, charge_id))]


def test_refunds_before_their_payment_give_the_same_final_state(client, app, auth, demo,
                                                                celery_worker):
    from tests.finance.conftest import make_invoice
    headers = auth("landlord")
    in_order = make_invoice(client, headers, demo["ten1"])
    reversed_ = make_invoice(client, headers, demo["ten1"])
    for event in _history(in_order["id"]):
        assert post_stripe(client, event).status_code == 200
    events = _history(reversed_["id"])[::-1]
    early = post_stripe(client, events[0])
    assert early.status_code == 200
    assert early.get_json()["refund"]["status"] == "AWAITING_PAYMENT"
    assert invoice_row(app, reversed_["id"]).amount_paid == 0  # nothing counts without it
    for event in events[1:]:
        assert post_stripe(client, event).status_code == 200
    expected = (("PARTIALLY_PAID", 550.00), ("PARTIALLY_REFUNDED", 1000.00, 450.00),
                [150, 300])
    assert _final_state(app, client, headers, in_order["id"]) == expected
    assert _final_state(app, client, headers, reversed_["id"]) == expected
