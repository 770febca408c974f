"""Recurring rent: one invoice per tenancy and month however many runs race, its settings, and
``flask finance bill-rent``."""
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.directory.models import Tenancy
from portal.extensions import db
from portal.finance import rent
from portal.finance.models import Invoice, RentBilling
from tests.finance.conftest import outbox, query
from tests.helpers import run_together, wait_until


def _tenancy(app, demo, landlord="ll1", start=date(2026, 1, 1), end=None, rent="900.00",
             billing=None) -> str:
    """A tenancy of a seeded landlord's property (and its billing settings, if given)."""
    with app.app_context():
        prop = db.session.get(Tenancy, demo["ten1" if landlord == "ll1" else "ten2"]).property_id
        tenancy = Tenancy(landlord_id=demo[landlord], property_id=prop, start_date=start,
                          end_date=end, monthly_rent=Decimal(rent))
        db.session.add(tenancy)
        db.session.flush()
        if billing:
            db.session.add(RentBilling(tenancy_id=tenancy.id, **billing))
        db.session.commit()
        return tenancy.id


def _rent_invoices(app, period=None):
    statement = sa.select(Invoice.tenancy_id, Invoice.landlord_id, Invoice.number,
                          Invoice.issue_date, Invoice.due_date, Invoice.amount, Invoice.status,
                          Invoice.rent_period).where(Invoice.rent_period.is_not(None))
    if period:
        statement = statement.where(Invoice.rent_period == period)
    return query(app, statement.order_by(Invoice.landlord_id, Invoice.number))


def _bill_concurrently(app, run_date, times=20):
    def bill(_i, _client):
        with app.app_context():  # each run its own app context and session, as a worker's
            return rent.bill_rent(run_date)
    return [invoice_id for created in run_together(app, times, bill) for invoice_id in created]


def test_twenty_concurrent_runs_bill_each_active_tenancy_once_a_month(app, demo):
    active = _tenancy(app, demo, start=date(2026, 6, 1))
    _tenancy(app, demo, start=date(2025, 6, 1), end=date(2027, 3, 31))    # ends before April
    _tenancy(app, demo, billing={"due_day": 1, "lead_days": 7, "enabled": False})
    later = _tenancy(app, demo, billing={"due_day": 20, "lead_days": 3, "enabled": True})
    _tenancy(app, demo, start=date(2027, 6, 15))                          # not started yet

    created = _bill_concurrently(app, date(2027, 3, 25))

    april = _rent_invoices(app, "2027-04")
    assert len(created) == len(april) == 3
    billed = {row.tenancy_id: row for row in april}
    assert set(billed) == {demo["ten1"], active, demo["ten2"]}
    ll1 = sorted(row.number for row in april if row.landlord_id == demo["ll1"])
    assert ll1 == ["INV-2027-000001", "INV-2027-000002"]  # consecutive, no gap, no duplicate
    assert billed[demo["ten2"]].number == "INV-2027-000001"  # its landlord's own sequence
    assert {(r.issue_date, r.due_date, r.status) for r in april} == {
        (date(2027, 3, 25), date(2027, 4, 1), "SENT")}
    assert (billed[demo["ten1"]].amount, billed[active].amount) == (Decimal("1500.00"),
                                                                    Decimal("900.00"))
    assert len(outbox(app, "invoice.created")) == 3
    assert later not in billed

    # A month later: the next month, numbered on from the last; the ended tenancy still not.
    created = _bill_concurrently(app, date(2027, 4, 25))
    may = _rent_invoices(app, "2027-05")
    assert len(created) == len(may) == 3
    assert {row.tenancy_id for row in may} == {demo["ten1"], active, demo["ten2"]}
    assert sorted(r.number for r in may if r.landlord_id == demo["ll1"]) == [
        "INV-2027-000003", "INV-2027-000004"]
    assert len(_rent_invoices(app)) == 6


def test_a_tenancy_is_billed_in_its_own_window_with_one_rent_line(client, app, auth, demo):
    tenancy = _tenancy(app, demo, billing={"due_day": 20, "lead_days": 3, "enabled": True})
    for day in (16, 21):  # before the window opens, after the due day
        with app.app_context():
            assert tenancy not in {r.tenancy_id for r in _rent_invoices(app)}
            rent.bill_rent(date(2027, 1, day))
    assert tenancy not in {r.tenancy_id for r in _rent_invoices(app)}
    with app.app_context():
        rent.bill_rent(date(2027, 1, 17))
        rent.bill_rent(date(2027, 1, 20))
    [row] = [r for r in _rent_invoices(app) if r.tenancy_id == tenancy]
    assert (row.issue_date, row.due_date, row.rent_period) == (date(2027, 1, 17),
                                                              date(2027, 1, 20), "2027-01")
    invoice = client.get("/api/finance/invoices?tenancyId=" + tenancy,
                         headers=auth("landlord")).get_json()["items"][0]
    assert [(line["description"], line["qty"], line["unitPrice"], line["amount"])
            for line in invoice["lines"]] == [("Rent – January 2027", 1.0, 900.00, 900.00)]


def test_never_billed_for_a_month_due_after_the_end_date(app, demo):
    ends = _tenancy(app, demo, end=date(2027, 4, 30))
    with app.app_context():
        rent.bill_rent(date(2027, 3, 25))
        rent.bill_rent(date(2027, 4, 25))
    assert [r.rent_period for r in _rent_invoices(app) if r.tenancy_id == ends] == ["2027-04"]


def test_the_beat_task_bills_through_a_worker(app, demo, celery_worker):
    app.extensions["celery"].send_task("invoices.bill_rent", args=["2027-03-25"])
    wait_until(lambda: len(_rent_invoices(app, "2027-04")) == 2, what="two rent invoices")


def test_bill_rent_command(app, demo):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["finance", "bill-rent", "--date", "2027-03-25"])
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0] == "rent invoices issued: 2"
    again = runner.invoke(args=["finance", "bill-rent", "--date", "2027-03-25"])
    assert again.output.splitlines() == ["rent invoices issued: 0"]
    assert runner.invoke(args=["finance", "bill-rent", "--date", "2027-13-01"]).exit_code == 2


# --- billing settings over HTTP ---------------------------------------------------------------

def _billing(demo, name="ten1"):
    return f"/api/tenancies/{demo[name]}/billing"


def test_the_landlord_sets_billing_and_both_sides_read_it(client, app, auth, demo):
    assert client.get(_billing(demo), headers=auth("tenant")).get_json() == {
        "tenancyId": demo["ten1"], "dueDay": 1, "leadDays": 7, "enabled": True}
    response = client.post(_billing(demo), headers=auth("landlord"),
                           json={"dueDay": 15, "leadDays": 10, "enabled": True})
    assert response.status_code == 200, response.get_json()
    expected = {"tenancyId": demo["ten1"], "dueDay": 15, "leadDays": 10, "enabled": True}
    assert response.get_json() == expected
    assert client.get(_billing(demo), headers=auth("tenant")).get_json() == expected
    off = client.post(_billing(demo), headers=auth("landlord"), json={"dueDay": 15,
                                                                      "enabled": False})
    assert off.get_json() == {**expected, "enabled": False}  # leadDays kept when not given
    with app.app_context():
        assert rent.bill_rent(date(2027, 3, 10)) == []


@pytest.mark.parametrize("name, status", [("tenant", 403), ("landlord2", 404), ("tenant2", 404),
                                          ("contractor", 403), ("ops", 403)])
def test_only_its_landlord_sets_billing(client, app, auth, demo, name, status):
    response = client.post(_billing(demo), headers=auth(name), json={"dueDay": 5,
                                                                     "enabled": False})
    assert response.status_code == status
    assert query(app, sa.select(RentBilling.tenancy_id)) == []


@pytest.mark.parametrize("body, field", [
    ({"dueDay": 29, "enabled": True}, "dueDay"), ({"dueDay": 0, "enabled": True}, "dueDay"),
    ({"dueDay": "5", "enabled": True}, "dueDay"), ({"enabled": True}, "dueDay"),
    ({"dueDay": 5}, "enabled"), ({"dueDay": 5, "enabled": True, "leadDays": 29}, "leadDays"),
    ({"dueDay": 5, "enabled": True, "leadDays": -1}, "leadDays"),
    ({"dueDay": 5, "enabled": True, "extra": 1}, "extra"),
])
def test_bad_billing_settings_are_422(client, app, auth, demo, body, field):
    response = client.post(_billing(demo), headers=auth("landlord"), json=body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    assert query(app, sa.select(RentBilling.tenancy_id)) == []


def test_billing_of_an_unknown_tenancy_is_404(client, auth):
    assert client.get("/api/tenancies/ten_nope/billing",
                      headers=auth("landlord")).status_code == 404
