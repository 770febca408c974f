"""Late fees: a landlord's policy over HTTP, and one fee line per invoice past due + grace,
however often the check runs (never on a PAID or VOID invoice)."""
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.database import utcnow
from portal.finance import late_fees
from portal.extensions import db
from portal.finance.models import Invoice, InvoiceLine, LateFeePolicy
from tests.finance.conftest import (INVOICES, invoice_row, make_invoice, outbox, payment_body,
                                    post_webhook, query)
from tests.helpers import run_together, wait_until

POLICY = "/api/finance/late-fee-policy"


def _days(n) -> str:
    return (utcnow().date() + timedelta(days=n)).isoformat()


def _fee_lines(app, invoice_id):
    return query(app, sa.select(InvoiceLine.description, InvoiceLine.amount).where(
        InvoiceLine.invoice_id == invoice_id, InvoiceLine.kind == "late_fee"))


def test_a_landlord_sets_and_reads_its_policy(client, auth):
    headers = auth("landlord")
    assert client.get(POLICY, headers=headers).status_code == 404
    response = client.put(POLICY, headers=headers, json={"graceDays": 3, "flat": 25.00,
                                                         "percent": 2.5})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert {k: body[k] for k in ("graceDays", "flat", "percent")} == {
        "graceDays": 3, "flat": 25.00, "percent": 2.5}
    assert client.get(POLICY, headers=headers).get_json() == body
    replaced = client.put(POLICY, headers=headers, json={"graceDays": 0, "percent": 5}).get_json()
    assert (replaced["flat"], replaced["percent"]) == (None, 5.0)
    assert client.get(POLICY, headers=auth("landlord2")).status_code == 404


@pytest.mark.parametrize("name", ["tenant", "contractor", "ops"])
def test_only_landlords_have_a_policy(client, app, auth, name):
    assert client.put(POLICY, headers=auth(name), json={"graceDays": 1, "flat": 5}
                      ).status_code == 403
    assert client.get(POLICY, headers=auth(name)).status_code == 403
    assert query(app, sa.select(LateFeePolicy.landlord_id)) == []


@pytest.mark.parametrize("body, field", [
    ({"flat": 5}, "graceDays"), ({"graceDays": -1, "flat": 5},
                                                             "graceDays"),
    ({"graceDays": 3, "flat": -5}, "flat"), ({"graceDays": 3, "flat": 5.001}, "flat"),
    ({"graceDays": 3, "percent": 101}, "percent"), ({"graceDays": 3, "flat": "5"}, "flat"),
    ({"graceDays": 3.5, "flat": 5}, "graceDays"), ({"graceDays": 3, "flat": 5, "x": 1}, "x"),
])
def test_bad_policies_are_422(client, app, auth, body, field):
    response = client.put(POLICY, headers=auth("landlord"), json=body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    assert query(app, sa.select(LateFeePolicy.landlord_id)) == []


def test_one_fee_per_invoice_however_often_the_check_runs(client, app, auth, demo,
                                                          celery_worker):
    headers = auth("landlord")
    client.put(POLICY, headers=headers, json={"graceDays": 3, "flat": 25.00, "percent": 2})
    late = make_invoice(client, headers, demo["ten1"], issue=_days(-30), due=_days(-10))
    partly = make_invoice(client, headers, demo["ten1"], issue=_days(-30), due=_days(-10))
    in_grace = make_invoice(client, headers, demo["ten1"], issue=_days(-30), due=_days(-3))
    paid = make_invoice(client, headers, demo["ten1"], issue=_days(-30), due=_days(-10))
    void = make_invoice(client, headers, demo["ten1"], issue=_days(-30), due=_days(-10))
    not_due = make_invoice(client, headers, demo["ten1"], issue=_days(-30), due=_days(5))
    no_policy = make_invoice(client, auth("landlord2"), demo["ten2"], issue=_days(-30),
                             due=_days(-10))
    assert post_webhook(client, payment_body(partly["id"], amount="500.00")).status_code == 200
    assert post_webhook(client, payment_body(paid["id"], amount="1500.00")).status_code == 200
    assert client.post(f"{INVOICES}/{void['id']}/void", headers=headers).status_code == 200

    def check(_i, _client):
        with app.app_context():
            return late_fees.add_late_fees()
    added = [i for run in run_together(app, 10, check) for i in run]
    with app.app_context():
        for _ in range(3):
            added += late_fees.add_late_fees()

    assert sorted(added) == sorted([late["id"], partly["id"]])
    assert _fee_lines(app, late["id"]) == [
        (f"Late fee – unpaid after {_days(-10)} + 3 days' grace", Decimal("55.00"))]
    assert [amount for _, amount in _fee_lines(app, partly["id"])] == [Decimal("45.00")]
    for other in (in_grace, paid, void, not_due, no_policy):
        assert _fee_lines(app, other["id"]) == []
    assert invoice_row(app, late["id"]).amount == Decimal("1555.00")
    shown = client.get(f"{INVOICES}/{late['id']}", headers=auth("tenant")).get_json()
    assert (shown["amount"], shown["status"]) == (1555.00, "OVERDUE")
    assert shown["lines"][-1]["description"].startswith("Late fee")
    events = outbox(app, "invoice.late_fee_added")
    assert sorted(e["resources"][0]["id"] for e in events) == sorted([late["id"], partly["id"]])
    assert {e["actorRole"] for e in events} == {"SYSTEM"}

    # A day later the third is past its grace days: the beat's task (via the worker) adds it.
    with app.app_context():
        db.session.execute(sa.update(Invoice).where(Invoice.id == in_grace["id"])
                           .values(due_date=utcnow().date() - timedelta(days=4)))
        db.session.commit()
    app.extensions["celery"].send_task("invoices.add_late_fees")
    wait_until(lambda: len(outbox(app, "invoice.late_fee_added")) == 3, what="three fees")
    assert len(_fee_lines(app, in_grace["id"])) == 1 and len(_fee_lines(app, late["id"])) == 1


@pytest.mark.parametrize("policy", [{"graceDays": 0, "flat": 0, "percent": 0},
                                    {"graceDays": 0}])
def test_a_policy_of_nothing_adds_nothing(client, app, auth, demo, policy):
    headers = auth("landlord")
    assert client.put(POLICY, headers=headers, json=policy).status_code == 200
    make_invoice(client, headers, demo["ten1"], issue=_days(-30), due=_days(-10))
    with app.app_context():
        assert late_fees.add_late_fees() == []
    assert outbox(app, "invoice.late_fee_added") == []
