"""A tenancy's statement: who may read it, its lines and running balance (JSON and CSV), and a
property-based check that the balance always equals its lines and the invoices' own books."""
import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from portal.database import utcnow
from portal.directory.models import Tenancy
from portal.extensions import db
from portal.finance import late_fees, payment_apply
from tests.finance.conftest import (charge, make_invoice, payment_body, payment_intent,
                                    post_stripe, post_webhook, stripe_event)

POLICY = "/api/finance/late-fee-policy"


def _statement(client, headers, tenancy_id, query="", accept="application/json"):
    return client.get(f"/api/tenancies/{tenancy_id}/statement{query}",
                      headers={**headers, "Accept": accept})


def _days(n) -> str:
    return (utcnow().date() + timedelta(days=n)).isoformat()


@pytest.mark.parametrize("name, status", [("tenant", 200), ("landlord", 200), ("tenant2", 404),
                                          ("landlord2", 404), ("contractor", 403), ("ops", 403)])
def test_only_the_tenancys_tenant_and_landlord_read_it(client, auth, demo, name, status):
    response = _statement(client, auth(name), demo["ten1"])
    assert response.status_code == status
    if status != 200:
        assert "error" in response.get_json()


def test_an_unknown_tenancy_is_404(client, auth):
    assert _statement(client, auth("landlord"), "ten_nope").status_code == 404


def test_lines_in_date_order_with_a_running_balance(client, app, auth, demo, celery_worker):
    headers = auth("landlord")
    client.put(POLICY, headers=headers, json={"graceDays": 0, "flat": 20.00})
    first = make_invoice(client, headers, demo["ten1"], issue="2026-01-01", due="2026-01-10")
    second = make_invoice(client, headers, demo["ten1"], issue="2026-02-01", due="2099-02-10")
    void = make_invoice(client, headers, demo["ten1"], issue="2026-01-15", due="2099-01-20")
    client.post(f"/api/finance/invoices/{void['id']}/void", headers=headers)
    post_webhook(client, payment_body(first["id"], amount="1000.00", ref="pi_first",
                                      paidAt="2026-01-05T10:00:00Z"))
    intent = payment_intent(second["id"], 150000)
    post_stripe(client, stripe_event("payment_intent.succeeded", intent))
    post_stripe(client, stripe_event("charge.refunded", charge(intent["id"], 150000, 20000,
                                                               intent["latest_charge"])))
    with app.app_context():
        late_fees.add_late_fees()

    body = _statement(client, auth("tenant"), demo["ten1"]).get_json()
    today = utcnow().date().isoformat()
    kinds = [(line["date"], line["kind"], line["amount"], line["balance"])
             for line in body["lines"]]
    assert kinds[:3] == [("2026-01-01", "invoice", 1500.00, 1500.00),
                         ("2026-01-05", "payment", -1000.00, 500.00),
                         ("2026-02-01", "invoice", 1500.00, 2000.00)]
    # Today: the late fee on the first, the Stripe payment of the second, its refund.
    assert kinds[3:] == [(today, "late_fee", 20.00, 2020.00), (today, "payment", -1500.00, 520.00),
                         (today, "refund", 200.00, 720.00)]
    assert body["openingBalance"] == 0 and body["closingBalance"] == 720.00
    assert body["lines"][0]["reference"] == first["number"]
    assert body["lines"][1]["reference"] == "pi_first"
    assert body["lines"][3]["description"].startswith("Late fee")

    # From a date on: what came before is the opening balance.
    later = _statement(client, headers, demo["ten1"], "?from=2026-01-06&to=2026-02-01").get_json()
    assert (later["from"], later["to"], later["openingBalance"]) == ("2026-01-06", "2026-02-01",
                                                                     500.00)
    assert [line["kind"] for line in later["lines"]] == ["invoice"]
    assert later["closingBalance"] == 2000.00

    text = _statement(client, headers, demo["ten1"], accept="text/csv")
    assert text.status_code == 200 and text.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(text.get_data(as_text=True))))
    assert rows[0] == ["date", "kind", "reference", "description", "amount", "balance"]
    assert rows[1] == ["2026-01-01", "invoice", first["number"], "Rent November", "1500.00",
                       "1500.00"]
    assert [row[5] for row in rows[1:]] == [f"{line['balance']:.2f}" for line in body["lines"]]


@pytest.mark.parametrize("query", ["?from=2026-13-01", "?from=2026-02-01&to=2026-01-01",
                                   "?to=yesterday"])
def test_bad_dates_are_422(client, auth, demo, query):
    assert _statement(client, auth("landlord"), demo["ten1"], query).status_code == 422


# --- the property: any history, the balance adds up -------------------------------------------

OPS = st.lists(st.one_of(
    st.tuples(st.just("invoice"), st.integers(1, 300_000), st.booleans()),
    st.tuples(st.just("pay"), st.integers(0, 50), st.integers(1, 200_000)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 200_000)),
    st.tuples(st.just("void"), st.integers(0, 50)),
    st.tuples(st.just("fees"),),
), min_size=1, max_size=12)


def _apply_now(app, response):
    """Apply an accepted delivery here, as the worker would."""
    assert response.status_code == 202, response.get_json()
    with app.app_context():
        payment_apply.process_delivery(response.get_json()["deliveryId"])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS)
def test_the_running_balance_always_equals_the_lines(client, app, auth, demo, ops):
    headers = auth("landlord")
    client.put(POLICY, headers=headers, json={"graceDays": 0, "flat": 7.50, "percent": 1.25})
    with app.app_context():  # a tenancy of its own for each history
        tenancy = Tenancy(landlord_id=demo["ll1"], property_id=demo["prop1"],
                          start_date=date(2025, 1, 1), monthly_rent=Decimal("1.00"))
        db.session.add(tenancy)
        db.session.commit()
        tenancy_id = tenancy.id
    invoices, payments = [], []  # payments: [intent id, charge id, minor paid, minor refunded]
    async_ = {"Prefer": "respond-async"}
    for op in ops:
        if op[0] == "invoice":
            cents, past_due = op[1], op[2]
            invoices.append(make_invoice(client, headers, tenancy_id, issue=_days(-20),
                                         due=_days(-5 if past_due else 20), lines=[{
                                             "description": "Charge", "qty": 1,
                                             "unitPrice": cents / 100, "taxRate": 0}])["id"])
        elif op[0] == "pay" and invoices:
            intent = payment_intent(invoices[op[1] % len(invoices)], op[2])
            response = post_stripe(client, stripe_event("payment_intent.succeeded", intent),
                                   headers=async_)
            _apply_now(app, response)
            payments.append([intent["id"], intent["latest_charge"], op[2], 0])
        elif op[0] == "refund" and payments:
            payment = payments[op[1] % len(payments)]
            payment[3] = min(payment[2], payment[3] + op[2])
            refund = charge(payment[0], payment[2], payment[3], payment[1])
            _apply_now(app, post_stripe(client, stripe_event("charge.refunded", refund),
                                        headers=async_))
        elif op[0] == "void" and invoices:
            client.post(f"/api/finance/invoices/{invoices[op[1] % len(invoices)]}/void",
                        headers=headers)  # refused (409) once anything is paid: fine
        elif op[0] == "fees":
            with app.app_context():
                late_fees.add_late_fees()

    body = _statement(client, headers, tenancy_id).get_json()
    balance = Decimal(0)
    for line in body["lines"]:
        balance += Decimal(str(line["amount"]))
        assert Decimal(str(line["balance"])) == balance, body
    assert Decimal(str(body["closingBalance"])) == balance
    # The invoices' own books, read through the invoice API: what is owed on them.
    listed = client.get(f"/api/finance/invoices?tenancyId={tenancy_id}&limit=100",
                        headers=headers).get_json()["items"]
    owed = sum((Decimal(str(i["amount"])) - Decimal(str(i["amountPaid"]))
                for i in listed if i["status"] != "VOID"), Decimal(0))
    assert balance == owed
    kinds = {line["kind"] for line in body["lines"]}
    assert kinds <= {"invoice", "payment", "refund", "late_fee"}
