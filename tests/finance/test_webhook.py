"""The payment webhook over HTTP, processed by a real Celery worker on the run's own Redis."""
import json
import time
from decimal import Decimal

import pytest

from portal.extensions import db
from portal.finance import signature
from portal.finance.models import Payment, WebhookDelivery
from tests.helpers import run_together, wait_until
from tests.finance.conftest import (SECRET, count, deliveries, invoice_row, outbox,
                                    payment_body, payments_of, post_webhook)


# --- signatures: refused before anything is stored ---------------------------------------

def _refused(app, response, code):
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert count(app, WebhookDelivery) == 0 and count(app, Payment) == 0


def test_missing_signature_is_401(client, app, invoice):
    _refused(app, post_webhook(client, payment_body(invoice["id"]), sign=False),
             "missing_signature")


def test_wrong_secret_is_401(client, app, invoice):
    _refused(app, post_webhook(client, payment_body(invoice["id"]), secret="whsec_guess"),
             "invalid_signature")


@pytest.mark.parametrize("direction", [-1, 1])
def test_stale_or_future_timestamp_is_401(client, app, invoice, direction):
    # A minute beyond the tolerance, so the seconds the request takes cannot bring it back inside
    # (the exact edge, 300 s in and 301 s out, is pinned with a fixed clock in test_money.py).
    skew = direction * (app.config["WEBHOOK_TOLERANCE_S"] + 60)
    body = payment_body(invoice["id"])
    _refused(app, post_webhook(client, body, timestamp=int(time.time()) + skew), "stale_signature")


def test_tampered_body_is_401(client, app, invoice):
    body = payment_body(invoice["id"], amount="1.00")
    header = signature.sign(SECRET, body)
    tampered = body.replace(b"1.00", b"1500.00")
    _refused(app, post_webhook(client, tampered, headers={signature.HEADER: header}),
             "invalid_signature")


@pytest.mark.parametrize("header", ["garbage", "t=notanumber,v1=ab", "v1=abcdef", "t=1700000000"])
def test_malformed_signature_header_is_401(client, app, invoice, header):
    _refused(app, post_webhook(client, payment_body(invoice["id"]),
                               headers={signature.HEADER: header}), "invalid_signature")


def test_unsigned_calls_need_the_development_setting(client, app, invoice, monkeypatch,
                                                     celery_worker):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_UNSIGNED", True)
    response = post_webhook(client, payment_body(invoice["id"], amount="10.00"), sign=False)
    assert response.status_code == 200, response.get_json()
    # A signature that is present must still be right.
    _bad = post_webhook(client, payment_body(invoice["id"]), secret="whsec_wrong")
    assert _bad.status_code == 401 and count(app, WebhookDelivery) == 1


def test_production_refuses_unsigned_calls_even_when_the_setting_says_yes(client, app, invoice,
                                                                         monkeypatch):
    # The config class already forces the setting off; an app configured by hand (overrides,
    # a settings file) must not get around it either.
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_UNSIGNED", True)
    _refused(app, post_webhook(client, payment_body(invoice["id"]), sign=False),
             "missing_signature")


def test_secret_rotation_accepts_old_and_new(client, app, invoice, monkeypatch, celery_worker):
    monkeypatch.setitem(app.config, "PAYMENT_WEBHOOK_SECRET", "whsec_new, " + SECRET)
    old = post_webhook(client, payment_body(invoice["id"], amount="10.00"), secret=SECRET)
    new = post_webhook(client, payment_body(invoice["id"], amount="20.00"), secret="whsec_new")
    assert old.status_code == new.status_code == 200
    monkeypatch.setitem(app.config, "PAYMENT_WEBHOOK_SECRET", "whsec_new")
    retired = post_webhook(client, payment_body(invoice["id"], amount="30.00"), secret=SECRET)
    assert retired.status_code == 401
    assert invoice_row(app, invoice["id"]).amount_paid == 30


# --- bodies: refused before anything is stored ---------------------------------------------

@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00", '"abc"', '"10.00"', "true", "null",
                                    "NaN", "Infinity", "10.001", "[1]"])
def test_bad_amounts_are_422(client, app, invoice, amount):
    response = post_webhook(client, payment_body(invoice["id"], amount=amount))
    assert response.status_code == 422, (amount, response.get_json())
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and "amount" in error["details"]
    assert count(app, WebhookDelivery) == 0


def test_missing_fields_are_422(client, app, invoice):
    response = post_webhook(client, json.dumps({"invoiceId": invoice["id"]}).encode())
    assert response.status_code == 422
    assert set(response.get_json()["error"]["details"]) == {"amount", "providerRef", "provider"}
    assert count(app, WebhookDelivery) == 0


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_body_that_is_not_a_json_object_is_400(client, app, body):
    response = post_webhook(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert count(app, WebhookDelivery) == 0


@pytest.mark.parametrize("t", ["1" + "0" * 400, "9" * 5000, "1e10", "-5", "+1700000000",
                               "0x10", "\u0661\u0662"])
def test_timestamps_that_are_not_plain_seconds_are_401_not_500(client, app, invoice, t):
    body = payment_body(invoice["id"])
    response = post_webhook(client, body, headers={signature.HEADER: f"t={t},v1=" + "0" * 64})
    _refused(app, response, "invalid_signature")


def test_many_v1_entries_one_of_them_right_is_accepted(client, app, invoice, celery_worker):
    body = payment_body(invoice["id"])
    good = signature.sign(SECRET, body)
    header = ",".join(["v1=" + "0" * 64] * 50 + [good] + ["v1=zz", "v1=", "x=y", "junk"])
    assert post_webhook(client, body, headers={signature.HEADER: header}).status_code == 200


@pytest.mark.parametrize("extra", [
    {"paidAt": "9999-12-31T23:59:59-10:00"},  # past the last UTC datetime: was a 500
    {"paidAt": "0001-01-01T00:00:00+01:00"},  # before the first: was a 500
    {"providerRef": "pi\x00nul"}, {"providerRef": "\ud800"}, {"provider": "str\x00ipe"},
    {"invoiceId": "inv\x00"}, {"currency": "\ud800"}, {"note\x00": 1},
], ids=["paidAt-max", "paidAt-min", "ref-nul", "ref-surrogate", "provider-nul", "invoice-nul",
        "currency-surrogate", "key-nul"])
def test_unstorable_fields_are_422_and_nothing_is_stored(client, app, invoice, extra):
    body = payment_body(invoice["id"], **extra)
    response = post_webhook(client, body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "validation_error"
    assert count(app, WebhookDelivery) == 0 and count(app, Payment) == 0


def test_an_amount_over_the_limit_says_so(client, app, invoice):
    response = post_webhook(client, payment_body(invoice["id"], amount="1e400"))
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["amount"] != ["Must be greater than 0."]


def test_no_transaction_is_held_while_the_task_is_enqueued(client, app, invoice, monkeypatch):
    # On SQLite every transaction holds the write lock: one open across the enqueue (a Redis
    # round trip) and the wait would stall the worker that has to write the outcome.
    from portal.finance import payment_intake
    seen = []
    original = payment_intake.enqueue_processing

    def spy(delivery_id):
        seen.append(db.session().in_transaction())
        return original(delivery_id)
    monkeypatch.setattr(payment_intake, "enqueue_processing", spy)
    monkeypatch.setitem(app.config, "WEBHOOK_WAIT_S", 0.1)
    assert post_webhook(client, payment_body(invoice["id"])).status_code == 202
    assert seen == [False]


# --- processing ---------------------------------------------------------------------------

def test_full_payment_answers_200_and_marks_paid(client, app, demo, invoice, celery_worker):
    body = payment_body(invoice["id"], amount="1500.00", ref="pi_full")
    response = post_webhook(client, body)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert list(result) == ["success", "duplicate", "payment", "invoice"]
    assert result["success"] is True and result["duplicate"] is False
    assert result["payment"]["id"].startswith("pay_")
    assert result["payment"] == {"id": result["payment"]["id"], "invoiceId": invoice["id"],
                                 "amount": 1500.00, "status": "CONFIRMED"}
    assert result["invoice"] == {"id": invoice["id"], "status": "PAID", "amountPaid": 1500.00}
    row = invoice_row(app, invoice["id"])
    assert (row.status, row.amount_paid, row.version) == ("PAID", 1500, 2)
    [(delivery_id, status, outcome, ref)] = deliveries(app)
    assert (status, ref) == ("PROCESSED", "pi_full")
    [event] = outbox(app, "invoice.paid")
    assert event["resources"] == [{"type": "invoice", "id": invoice["id"]},
                                  {"type": "payment", "id": result["payment"]["id"]}]
    assert event["audience"] == sorted([f"landlord:{demo['ll1']}", f"tenant:{demo['ten1']}"])
    assert event["version"] == 2 and event["actorRole"] == "SYSTEM"


def test_partial_then_rest_gives_paid(client, app, invoice, celery_worker):
    first = post_webhook(client, payment_body(invoice["id"], amount="1000.10")).get_json()
    assert first["invoice"] == {"id": invoice["id"], "status": "PARTIALLY_PAID",
                                "amountPaid": 1000.10}
    second = post_webhook(client, payment_body(invoice["id"], amount="499.90")).get_json()
    assert second["invoice"] == {"id": invoice["id"], "status": "PAID", "amountPaid": 1500.00}
    assert [e["type"] for e in outbox(app) if e["type"].startswith("invoice.p")] == [
        "invoice.partially_paid", "invoice.paid"]
    assert sorted(p.amount for p in payments_of(app, invoice["id"])) == [
        Decimal("499.90"), Decimal("1000.10")]
    assert invoice_row(app, invoice["id"]).amount_paid == 1500


def test_redelivery_answers_the_same_with_duplicate_true(client, app, invoice, celery_worker):
    body = payment_body(invoice["id"], amount="100.00", ref="pi_again")
    first = post_webhook(client, body).get_json()
    again = post_webhook(client, body)
    assert again.status_code == 200
    assert again.get_json() == {**first, "duplicate": True}
    assert len(payments_of(app, invoice["id"])) == 1
    assert invoice_row(app, invoice["id"]).amount_paid == 100
    assert len(outbox(app, "invoice.partially_paid")) == 1


def test_twenty_concurrent_deliveries_apply_one_payment(app, invoice, celery_worker):
    body = payment_body(invoice["id"], amount="250.00", ref="pi_storm")

    def deliver(_i, client):
        response = post_webhook(client, body)
        return response.status_code, response.get_json()

    results = run_together(app, 20, deliver)
    assert len(results) == 20
    assert [status for status, _ in results] == [200] * 20, results
    assert sorted(body["duplicate"] for _, body in results) == [False] + [True] * 19
    assert len({body["payment"]["id"] for _, body in results}) == 1
    assert len(payments_of(app, invoice["id"])) == 1 and len(deliveries(app)) == 1
    assert invoice_row(app, invoice["id"]).amount_paid == 250
    assert len(outbox(app, "invoice.partially_paid")) == 1


def test_unknown_invoice_is_422_and_the_delivery_is_kept_failed(client, app, celery_worker):
    body = payment_body("inv_doesnotexist", ref="pi_lost")
    response = post_webhook(client, body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "unknown_invoice" and error["details"]["duplicate"] is False
    [(delivery_id, status, outcome, ref)] = deliveries(app)
    assert status == "FAILED" and json.loads(outcome)["status"] == 422
    assert error["details"]["deliveryId"] == delivery_id
    again = post_webhook(client, body)
    assert again.status_code == 422 and again.get_json()["error"]["details"]["duplicate"] is True
    assert count(app, Payment) == 0 and len(deliveries(app)) == 1


def test_void_invoice_is_409(client, app, auth, invoice, celery_worker):
    client.post(f"/api/finance/invoices/{invoice['id']}/void", headers=auth("landlord"))
    response = post_webhook(client, payment_body(invoice["id"]))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "invoice_void"
    assert count(app, Payment) == 0
    assert [status for _, status, _, _ in deliveries(app)] == ["FAILED"]
    assert invoice_row(app, invoice["id"]).status == "VOID"


def test_a_partly_paid_invoice_cannot_be_voided(client, app, auth, invoice, celery_worker):
    post_webhook(client, payment_body(invoice["id"], amount="1.00"))
    response = client.post(f"/api/finance/invoices/{invoice['id']}/void", headers=auth("landlord"))
    assert response.status_code == 409
    assert response.get_json()["error"]["details"] == {"status": "PARTIALLY_PAID"}


def test_currency_mismatch_is_422(client, app, invoice, celery_worker):
    response = post_webhook(client, payment_body(invoice["id"], currency="EUR"))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "currency_mismatch"
    assert count(app, Payment) == 0


def test_overpayment_is_recorded_and_the_invoice_is_paid(client, app, invoice, celery_worker):
    result = post_webhook(client, payment_body(invoice["id"], amount="1600.00")).get_json()
    assert result["invoice"] == {"id": invoice["id"], "status": "PAID", "amountPaid": 1600.00}


# --- asynchronous answers ------------------------------------------------------------------

def test_prefer_respond_async_answers_202_at_once(client, app, invoice, celery_worker):
    response = post_webhook(client, payment_body(invoice["id"], amount="1500.00"),
                            headers={"Prefer": "respond-async, wait=10"})
    assert response.status_code == 202
    body = response.get_json()
    assert body == {"success": True, "status": "QUEUED", "deliveryId": body["deliveryId"],
                    "duplicate": False}
    assert body["deliveryId"].startswith("whd_")
    assert response.headers["Preference-Applied"] == "respond-async"
    wait_until(lambda: invoice_row(app, invoice["id"]).status == "PAID", what="processing")


def test_worker_stopped_gives_202_then_a_worker_applies_it(client, app, invoice, monkeypatch,
                                                            request):
    monkeypatch.setitem(app.config, "WEBHOOK_WAIT_S", 0.5)
    body = payment_body(invoice["id"], amount="1500.00", ref="pi_later")
    response = post_webhook(client, body)
    assert response.status_code == 202
    assert response.get_json()["status"] == "QUEUED"
    assert [s for _, s, _, _ in deliveries(app)] == ["RECEIVED"] and count(app, Payment) == 0
    # A redelivery meanwhile is recognised too.
    again = post_webhook(client, body)
    assert again.status_code == 202 and again.get_json()["duplicate"] is True
    request.getfixturevalue("celery_worker")  # the worker starts now
    wait_until(lambda: invoice_row(app, invoice["id"]).status == "PAID", what="the payment")
    assert len(payments_of(app, invoice["id"])) == 1
    final = post_webhook(client, body)
    assert final.status_code == 200 and final.get_json()["duplicate"] is True


def test_broker_down_keeps_the_delivery_and_the_beat_requeues_it(app, invoice, celery_worker):
    from portal import create_app
    from tests.helpers import free_port

    # A second web app whose broker is unreachable (the worker and Redis themselves are fine).
    down = create_app("testing", {
        key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "REDIS_PREFIX")
    } | {"CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
         "PAYMENT_WEBHOOK_SECRET": SECRET, "WEBHOOK_WAIT_S": 10.0})
    app.extensions["celery"].set_default()
    started = time.monotonic()
    response = post_webhook(down.test_client(), payment_body(invoice["id"], amount="1500.00"))
    assert response.status_code == 202 and time.monotonic() - started < 8
    delivery_id = response.get_json()["deliveryId"]
    assert [(d, s) for d, s, _, _ in deliveries(app)] == [(delivery_id, "RECEIVED")]
    time.sleep(0.5)
    assert invoice_row(app, invoice["id"]).status == "SENT"  # nothing was queued
    # The beat's task, on the healthy broker, finds it and sends it on.
    app.extensions["celery"].send_task("payments.requeue_stuck_deliveries", args=[0])
    wait_until(lambda: invoice_row(app, invoice["id"]).status == "PAID", what="the requeue")
    assert [s for _, s, _, _ in deliveries(app)] == ["PROCESSED"]
    with down.app_context():
        db.engine.dispose()


def test_processing_twice_changes_nothing(client, app, invoice, celery_worker):
    from portal.events.models import OutboxEvent
    from portal.finance import payment_apply
    body = post_webhook(client, payment_body(invoice["id"], amount="10.00")).get_json()
    [(delivery_id, _, _, _)] = deliveries(app)
    with app.app_context():
        events_before = db.session.query(OutboxEvent).count()
        payment_apply.process_delivery(delivery_id)
        assert db.session.query(OutboxEvent).count() == events_before
    assert len(payments_of(app, invoice["id"])) == 1
    assert invoice_row(app, invoice["id"]).amount_paid == 10
    assert body["invoice"]["amountPaid"] == 10.00


def test_payments_of_an_invisible_invoice_are_404(client, auth, invoice, celery_worker):
    post_webhook(client, payment_body(invoice["id"], amount="5.00"))
    path = f"/api/finance/payments?invoiceId={invoice['id']}"
    for name in ("landlord2", "tenant2"):
        assert client.get(path, headers=auth(name)).status_code == 404
        assert client.get("/api/finance/payments",
                          headers=auth(name)).get_json() == {"items": [], "nextCursor": None}
    assert len(client.get("/api/finance/payments",
                          headers=auth("tenant")).get_json()["items"]) == 1
