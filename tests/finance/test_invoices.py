"""Invoices over HTTP: creation, exact money, numbering, validation, roles, visibility, void."""
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from portal.finance.models import Invoice, InvoiceCounter, InvoiceLine
from tests.helpers import run_together
from tests.finance.conftest import (INVOICES, count, invoice_body, invoice_row, make_invoice,
                                    outbox, query)

INVOICE_KEYS = {"id", "landlordId", "tenancyId", "number", "issueDate", "dueDate", "currency",
                "amount", "amountPaid", "status", "lines"}


def test_landlord_creates_an_invoice_with_exact_totals(client, auth, demo, app):
    lines = [{"description": "Rent", "qty": 1, "unitPrice": 1500.00, "taxRate": 0},
             {"description": "Boiler service", "qty": 2.5, "unitPrice": 19.99, "taxRate": 17.5},
             {"description": "Keys", "qty": 3, "unitPrice": 0.35, "taxRate": 5}]
    response = client.post(INVOICES, json=invoice_body(demo["ten1"], lines=lines),
                           headers=auth("landlord"))
    assert response.status_code == 201
    invoice = response.get_json()
    assert set(invoice) == INVOICE_KEYS
    assert invoice["id"].startswith("inv_")
    assert invoice["landlordId"] == demo["ll1"] and invoice["tenancyId"] == demo["ten1"]
    assert invoice["number"] == "INV-2025-000001"
    assert (invoice["issueDate"], invoice["dueDate"]) == ("2025-11-01", "2099-11-30")
    assert invoice["currency"] == "GBP" and invoice["status"] == "SENT"
    assert [line["amount"] for line in invoice["lines"]] == [1500.00, 58.72, 1.10]
    assert invoice["amount"] == 1559.82 and invoice["amountPaid"] == 0
    assert invoice["lines"][1] == {"description": "Boiler service", "qty": 2.5,
                                   "unitPrice": 19.99, "taxRate": 17.5, "amount": 58.72}
    # Stored exactly, as Decimal.
    status, amount, paid, version = invoice_row(app, invoice["id"])
    assert (status, amount, paid, version) == ("SENT", D("1559.82"), D("0.00"), 1)
    stored = query(app, sa.select(InvoiceLine.amount, InvoiceLine.qty, InvoiceLine.tax_rate)
                   .where(InvoiceLine.invoice_id == invoice["id"]).order_by(InvoiceLine.position))
    assert stored[1] == (D("58.72"), D("2.500"), D("17.50"))
    assert all(isinstance(value, D) for row in stored for value in row)
    [event] = outbox(app, "invoice.created")
    assert event["audience"] == sorted([f"landlord:{demo['ll1']}", f"tenant:{demo['ten1']}"])
    assert event["resources"] == [{"type": "invoice", "id": invoice["id"]}]
    assert (event["landlordId"], event["tenantId"], event["actorRole"]) == (
        demo["ll1"], demo["ten1"], "LANDLORD")
    # The same invoice reads back identically.
    assert client.get(f"{INVOICES}/{invoice['id']}", headers=auth("landlord")).get_json() == invoice


def test_numbers_are_per_landlord_and_issue_year(client, auth, demo):
    ll1, ll2 = auth("landlord"), auth("landlord2")
    numbers = [make_invoice(client, ll1, demo["ten1"])["number"],
               make_invoice(client, ll1, demo["ten1"])["number"],
               make_invoice(client, ll1, demo["ten1"], issue="2026-01-02",
                            due="2026-02-01")["number"],
               make_invoice(client, ll2, demo["ten2"])["number"],
               make_invoice(client, ll1, demo["ten1"])["number"]]
    assert numbers == ["INV-2025-000001", "INV-2025-000002", "INV-2026-000001",
                       "INV-2025-000001", "INV-2025-000003"]


def test_twenty_concurrent_creations_get_twenty_consecutive_numbers(app, auth, demo):
    headers, body = auth("landlord"), invoice_body(demo["ten1"])

    def create(_i, client):
        response = client.post(INVOICES, json=body, headers=headers)
        return response.status_code, response.get_json()

    results = run_together(app, 20, create)
    assert [status for status, _ in results] == [201] * 20
    numbers = sorted(body["number"] for _, body in results)
    assert numbers == [f"INV-2025-{n:06d}" for n in range(1, 21)]
    assert count(app, Invoice) == 20
    assert query(app, sa.select(InvoiceCounter.last_value))[0][0] == 20
    assert len(outbox(app, "invoice.created")) == 20


@pytest.mark.parametrize("change, field", [
    ({"tenancyId": None}, "tenancyId"),
    ({"issueDate": "2025-13-01"}, "issueDate"),
    ({"dueDate": "2025-10-01"}, "dueDate"),
    ({"currency": "pounds"}, "currency"),
    ({"lines": []}, "lines"),
    ({"surprise": 1}, "surprise"),
    ({"lines": [{"description": "x", "qty": 1, "unitPrice": 10.001}]}, "lines"),
    ({"lines": [{"description": "x", "qty": 1, "unitPrice": "10.00"}]}, "lines"),
    ({"lines": [{"description": "x", "qty": True, "unitPrice": 10}]}, "lines"),
    ({"lines": [{"description": "x", "qty": 1, "unitPrice": -10}]}, "lines"),
    ({"lines": [{"description": "x", "qty": 0, "unitPrice": 10}]}, "lines"),
    ({"lines": [{"description": "x", "qty": 1, "unitPrice": 10, "taxRate": 101}]}, "lines"),
    ({"lines": [{"description": "", "qty": 1, "unitPrice": 10}]}, "lines"),
    ({"lines": [{"description": "free", "qty": 1, "unitPrice": 0}]}, "lines"),
    ({"lines": [{"description": "x", "qty": 1000000, "unitPrice": 9999999999.99}]}, "lines"),
])
def test_invalid_bodies_answer_422_and_use_no_number(client, auth, demo, app, change, field):
    body = invoice_body(demo["ten1"])
    body.update(change)
    if body.get("tenancyId") is None:
        body.pop("tenancyId")
    response = client.post(INVOICES, json=body, headers=auth("landlord"))
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]
    assert count(app, Invoice) == 0
    # Nothing was consumed: the next invoice is still number 1.
    assert make_invoice(client, auth("landlord"), demo["ten1"])["number"] == "INV-2025-000001"


def test_nan_and_infinity_are_refused(client, auth, demo):
    raw = ('{"tenancyId": "%s", "issueDate": "2025-11-01", "dueDate": "2025-11-30", '
           '"lines": [{"description": "x", "qty": 1, "unitPrice": %s}]}')
    for literal in ("NaN", "Infinity", "-Infinity"):
        response = client.post(INVOICES, data=raw % (demo["ten1"], literal),
                               content_type="application/json", headers=auth("landlord"))
        assert response.status_code in (400, 422), literal
        assert "error" in response.get_json()


def test_another_landlords_tenancy_looks_like_no_tenancy(client, auth, demo, app):
    theirs = client.post(INVOICES, json=invoice_body(demo["ten2"]), headers=auth("landlord"))
    none = client.post(INVOICES, json=invoice_body("ten_nope"), headers=auth("landlord"))
    assert theirs.status_code == none.status_code == 422
    assert theirs.get_json() == none.get_json()
    assert theirs.get_json()["error"]["details"] == {"tenancyId": ["No such tenancy."]}
    assert count(app, Invoice) == 0


def test_non_json_body_is_400(client, auth):
    response = client.post(INVOICES, data="tenancyId=x", headers=auth("landlord"),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_roles_without_finance_get_403_and_tenants_cannot_bill(client, auth, demo):
    invoice = make_invoice(client, auth("landlord"), demo["ten1"])
    for name in ("contractor", "ops"):
        headers = auth(name)
        for path in (INVOICES, f"{INVOICES}/{invoice['id']}", f"{INVOICES}/inv_missing",
                     f"/api/finance/payments?invoiceId={invoice['id']}", "/api/finance/payments"):
            response = client.get(path, headers=headers)
            assert response.status_code == 403, (name, path)
            assert response.get_json()["error"]["code"] == "forbidden"
        assert client.post(f"{INVOICES}/{invoice['id']}/void",
                           headers=headers).status_code == 403
        assert client.post(INVOICES, json=invoice_body(demo["ten1"]),
                           headers=headers).status_code == 403
    assert client.post(INVOICES, json=invoice_body(demo["ten1"]),
                       headers=auth("tenant")).status_code == 403



def test_no_token_is_401(app):
    assert app.test_client().get(INVOICES).status_code == 401  # a client with no login cookie


def test_visibility_landlord_and_tenancy_only(client, auth, demo):
    mine = make_invoice(client, auth("landlord"), demo["ten1"])
    theirs = make_invoice(client, auth("landlord2"), demo["ten2"])
    path = f"{INVOICES}/{mine['id']}"
    assert client.get(path, headers=auth("tenant")).get_json() == mine
    for name in ("landlord2", "tenant2"):
        response = client.get(path, headers=auth(name))
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    missing = client.get(f"{INVOICES}/inv_doesnotexist", headers=auth("landlord2"))
    assert missing.get_json() == client.get(path, headers=auth("landlord2")).get_json()
    for name, expected in (("landlord", mine), ("tenant", mine), ("landlord2", theirs),
                           ("tenant2", theirs)):
        page = client.get(INVOICES, headers=auth(name)).get_json()
        assert page == {"items": [expected], "nextCursor": None}, name


def test_list_is_newest_first_with_cursor_and_filters(client, auth, demo):
    headers = auth("landlord")
    created = [make_invoice(client, headers, demo["ten1"]) for _ in range(3)]
    first = client.get(f"{INVOICES}?limit=2", headers=headers).get_json()
    assert [i["id"] for i in first["items"]] == [created[2]["id"], created[1]["id"]]
    second = client.get(f"{INVOICES}?limit=2&cursor={first['nextCursor']}",
                        headers=headers).get_json()
    assert [i["id"] for i in second["items"]] == [created[0]["id"]]
    assert second["nextCursor"] is None
    client.post(f"{INVOICES}/{created[1]['id']}/void", headers=headers)
    void = client.get(f"{INVOICES}?status=VOID", headers=headers).get_json()["items"]
    assert [i["id"] for i in void] == [created[1]["id"]]
    assert client.get(f"{INVOICES}?status=LOST", headers=headers).status_code == 422
    assert client.get(f"{INVOICES}?cursor=bogus", headers=headers).status_code == 422


def test_void_an_unpaid_invoice_once(client, auth, demo, app):
    invoice = make_invoice(client, auth("landlord"), demo["ten1"])
    path = f"{INVOICES}/{invoice['id']}/void"
    assert client.post(path, headers=auth("tenant")).status_code == 403
    assert client.post(path, headers=auth("landlord2")).status_code == 404
    assert client.post(f"{INVOICES}/inv_nope/void", headers=auth("landlord")).status_code == 404
    response = client.post(path, headers=auth("landlord"))
    assert response.status_code == 200
    assert response.get_json() == {**invoice, "status": "VOID"}
    again = client.post(path, headers=auth("landlord"))
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "invalid_transition"
    assert again.get_json()["error"]["details"] == {"status": "VOID"}
    [event] = outbox(app, "invoice.voided")
    assert event["version"] == 2
    assert event["resources"] == [{"type": "invoice", "id": invoice["id"]}]
    assert event["audience"] == sorted([f"landlord:{demo['ll1']}", f"tenant:{demo['ten1']}"])


def test_idempotency_key_replays_the_creation(client, auth, demo, app):
    headers = {**auth("landlord"), "Idempotency-Key": "create-inv-1"}
    first = client.post(INVOICES, json=invoice_body(demo["ten1"]), headers=headers)
    again = client.post(INVOICES, json=invoice_body(demo["ten1"]), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    assert count(app, Invoice) == 1


@pytest.mark.parametrize("body", [{}, {"junk": 1}, {"tenancyId": 5, "lines": None}])
def test_token_then_role_are_judged_before_the_body(app, client, auth, demo, body):
    # Was: a 422 describing the body to a caller with no token, or to a role with no finance.
    anonymous = app.test_client()  # no login cookies
    assert anonymous.post(INVOICES, json=body).status_code == 401
    for name in ("ops", "contractor"):
        response = client.post(INVOICES, json=body, headers=auth(name))
        assert response.status_code == 403, (name, response.get_json())
        response = client.get(f"{INVOICES}?limit=0&cursor=bogus", headers=auth(name))
        assert response.status_code == 403, (name, response.get_json())
    assert count(app, Invoice) == 0


def test_void_refuses_unknown_fields_and_replays_with_a_key(client, auth, demo, app):
    invoice = make_invoice(client, auth("landlord"), demo["ten1"])
    path = f"{INVOICES}/{invoice['id']}/void"
    refused = client.post(path, json={"reason": "typo"}, headers=auth("landlord"))
    assert refused.status_code == 422 and "reason" in refused.get_json()["error"]["details"]
    assert invoice_row(app, invoice["id"]).status == "SENT"
    headers = {**auth("landlord"), "Idempotency-Key": "void-1"}
    first = client.post(path, json={}, headers=headers)
    again = client.post(path, json={}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_data() == first.get_data()
    assert len(outbox(app, "invoice.voided")) == 1
    assert invoice_row(app, invoice["id"]).version == 2


def test_a_page_shows_each_invoice_and_its_lines_as_its_own_answer_does(client, auth, demo):
    # A page reads its invoices and their lines in one statement; each must come out as the
    # invoice's own answer does, lines in their order.
    lines = [{"description": f"Line {i}", "qty": i + 1, "unitPrice": 10.25 * (i + 1),
              "taxRate": 7.5 if i % 2 else 0} for i in range(3)]
    made = [make_invoice(client, auth("landlord"), demo["ten1"], lines=lines[:n])
            for n in (3, 1, 2)]
    for name in ("landlord", "tenant"):
        listed = {invoice["id"]: invoice for invoice in client.get(
            INVOICES + "?limit=100", headers=auth(name)).get_json()["items"]}
        for invoice in made:
            assert listed[invoice["id"]] == invoice == client.get(
                f"{INVOICES}/{invoice['id']}", headers=auth(name)).get_json()
    assert [line["description"] for line in listed[made[0]["id"]]["lines"]] == [
        "Line 0", "Line 1", "Line 2"]
