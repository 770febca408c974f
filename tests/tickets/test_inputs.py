"""Bodies of the actions: money kept exact, and bad input that writes nothing."""
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db


def _quote(client, auth, ticket_id, body):
    return client.post(f"/api/tickets/{ticket_id}/quote", json=body, headers=auth("contractor"))


@pytest.mark.parametrize("amount,stored_as,shown_as", [
    (1500, Decimal("1500.00"), 1500.0),
    (0.1, Decimal("0.10"), 0.1),
    (0.01, Decimal("0.01"), 0.01),
    (19.99, Decimal("19.99"), 19.99),
    (1234567.89, Decimal("1234567.89"), 1234567.89),
    (9999999999.99, Decimal("9999999999.99"), 9999999999.99),
])
def test_quote_amounts_are_stored_exactly(client, auth, app, make_ticket, amount, stored_as,
                                          shown_as):
    ticket_id = make_ticket("TRIAGED")
    response = _quote(client, auth, ticket_id, {"amount": amount, "notes": ""})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["quote"]["amount"] == shown_as
    assert '"amount":' + repr(shown_as) in response.get_data(as_text=True).replace(" ", "")
    with app.app_context():
        raw = db.session.execute(sa.text("SELECT quote_amount FROM tickets WHERE id = :id"),
                                 {"id": ticket_id}).scalar_one()
        db.session.remove()
    assert Decimal(str(raw)) == stored_as


@pytest.mark.parametrize("body,field", [
    ({"amount": -5, "notes": "x"}, "amount"),
    ({"amount": 0, "notes": "x"}, "amount"),
    ({"amount": 12.345, "notes": "x"}, "amount"),
    ({"amount": 0.001, "notes": "x"}, "amount"),
    ({"amount": "12.50", "notes": "x"}, "amount"),
    ({"amount": "abc", "notes": "x"}, "amount"),
    ({"amount": True, "notes": "x"}, "amount"),
    ({"amount": None, "notes": "x"}, "amount"),
    ({"amount": [1], "notes": "x"}, "amount"),
    ({"amount": 1e12, "notes": "x"}, "amount"),
    ({"amount": 10000000000, "notes": "x"}, "amount"),
    ({"notes": "x"}, "amount"),
    ({"amount": 10}, "notes"),
    ({"amount": 10, "notes": 5}, "notes"),
    ({"amount": 10, "notes": "x" * 5001}, "notes"),
    ({"amount": 10, "notes": "x", "currency": "GBP"}, "currency"),
])
def test_bad_quotes_are_422_and_write_nothing(client, auth, make_ticket, snapshot, body, field):
    ticket_id = make_ticket("TRIAGED")
    before = snapshot()
    response = _quote(client, auth, ticket_id, body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"]
    assert snapshot() == before


def test_non_finite_amounts_are_refused(client, auth, make_ticket, snapshot):
    ticket_id = make_ticket("TRIAGED")
    before = snapshot()
    for raw in ('{"amount": NaN, "notes": ""}', '{"amount": Infinity, "notes": ""}'):
        response = client.post(f"/api/tickets/{ticket_id}/quote", data=raw,
                               content_type="application/json", headers=auth("contractor"))
        assert response.status_code in (400, 422), response.get_json()
    assert snapshot() == before


@pytest.mark.parametrize("body,field", [
    ({"to": "DONE"}, "to"), ({"to": "open"}, "to"), ({"to": 3}, "to"), ({}, "to"),
    ({"to": "CANCELLED", "note": "n" * 2001}, "note"), ({"to": "CANCELLED", "note": 1}, "note"),
    ({"to": "CANCELLED", "version": 1}, "version"),
])
def test_bad_status_bodies_are_422_and_write_nothing(client, auth, make_ticket, snapshot, body,
                                                     field):
    ticket_id = make_ticket("OPEN")
    before = snapshot()
    response = client.patch(f"/api/tickets/{ticket_id}/status", json=body,
                            headers=auth("landlord"))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"]
    assert snapshot() == before


@pytest.mark.parametrize("body,field", [
    ({}, "contractorId"), ({"contractorId": 5}, "contractorId"),
    ({"contractorId": "ctr_doesnotexist"}, "contractorId"), ({"contractorId": ""}, "contractorId"),
])
def test_bad_assign_bodies_are_422_and_write_nothing(client, auth, make_ticket, snapshot, body,
                                                     field):
    ticket_id = make_ticket("OPEN", contractor=False)
    before = snapshot()
    response = client.post(f"/api/tickets/{ticket_id}/assign", json=body,
                           headers=auth("landlord"))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"]
    assert snapshot() == before


def test_approve_takes_an_empty_object_only(client, auth, make_ticket, snapshot):
    ticket_id = make_ticket("QUOTED")
    before = snapshot()
    response = client.post(f"/api/tickets/{ticket_id}/approve", json={"amount": 1},
                           headers=auth("landlord"))
    assert response.status_code == 422
    assert snapshot() == before
    response = client.post(f"/api/tickets/{ticket_id}/approve", headers=auth("landlord"))
    assert response.status_code == 200 and response.get_json()["status"] == "APPROVED"
