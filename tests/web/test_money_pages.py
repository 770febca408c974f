"""The money pages: the statement (tenant and landlord, live region and CSV), the landlord's
billing and late-fee forms, refunds on the invoice page."""
import csv
import io
import re

import pytest
import sqlalchemy as sa

from portal.finance.models import LateFeePolicy, RentBilling
from tests.finance.conftest import (STRIPE_SECRET, charge, make_invoice, payment_intent,
                                    post_stripe, query, stripe_event)
from tests.web.test_pages import csrf, sign_in


@pytest.fixture(autouse=True)
def stripe_secret(app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    monkeypatch.setitem(app.config, "WEBHOOK_WAIT_S", 10.0)


def _cells(html):
    """The statement table's rows as lists of cell texts."""
    rows = re.findall(r'<tr data-kind="[a-z_]+">(.*?)</tr>', html, re.S)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                          row, re.S)]
            for row in rows]


def test_the_tenant_sees_its_statement_with_payments_and_refunds(app, client, auth, demo,
                                                                 celery_worker):
    api = app.test_client()
    invoice = make_invoice(api, auth("landlord"), demo["ten1"], issue="2026-01-01")
    intent = payment_intent(invoice["id"], 150000)
    assert post_stripe(api, stripe_event("payment_intent.succeeded", intent)).status_code == 200
    refund = charge(intent["id"], 150000, 25000, intent["latest_charge"])
    assert post_stripe(api, stripe_event("charge.refunded", refund)).status_code == 200

    sign_in(client, "tenant")
    page = client.get("/statement")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-region="/fragments/statement?tenancyId={demo["ten1"]}"' in html
    rows = _cells(html)
    assert [(r[1], r[4], r[5]) for r in rows] == [("Invoice", "1,500.00", "1,500.00"),
                                                   ("Payment", "-1,500.00", "0.00"),
                                                   ("Refund", "250.00", "250.00")]
    # The live region alone, as the script fetches it.
    fragment = client.get(f"/fragments/statement?tenancyId={demo['ten1']}").get_data(as_text=True)
    assert fragment.startswith("<section") and _cells(fragment) == rows
    text = client.get("/statement.csv").get_data(as_text=True)
    assert list(csv.reader(io.StringIO(text)))[-1][-1] == "250.00"

    # The invoice page shows the refund and what it did to the payment.
    invoice_page = client.get(f"/invoices/{invoice['id']}").get_data(as_text=True)
    assert "data-refunds" in invoice_page and intent["latest_charge"] in invoice_page
    assert "Partially refunded (250.00 back)" in invoice_page


def test_another_tenancy_statement_is_a_404_page(client, demo):
    sign_in(client, "tenant")
    response = client.get(f"/statement?tenancyId={demo['ten2']}")
    assert response.status_code == 404 and response.content_type.startswith("text/html")
    sign_in(client, "contractor")
    assert client.get("/statement").status_code == 403


def test_the_landlord_sets_rent_billing_and_a_late_fee_on_its_billing_page(app, client, demo):
    sign_in(client, "landlord")
    page = client.get("/billing")
    assert page.status_code == 200
    assert f'action="/billing/tenancies/{demo["ten1"]}"' in page.get_data(as_text=True)
    saved = client.post(f"/billing/tenancies/{demo['ten1']}", data={
        "csrf_token": csrf(client), "dueDay": "15", "leadDays": "10"})  # "Billed" unticked
    assert saved.status_code == 303 and saved.headers["Location"] == "/billing"
    assert query(app, sa.select(RentBilling.due_day, RentBilling.lead_days,
                                RentBilling.enabled)) == [(15, 10, False)]
    fee = client.post("/billing/late-fees", data={"csrf_token": csrf(client), "graceDays": "5",
                                                  "flat": "25.00", "percent": ""})
    assert fee.status_code == 303
    [(grace, flat, percent)] = query(app, sa.select(LateFeePolicy.grace_days, LateFeePolicy.flat,
                                                    LateFeePolicy.percent))
    assert (grace, flat, percent) == (5, 25, None)
    assert "Now: 25.00, after 5 days" in client.get("/billing").get_data(as_text=True)


@pytest.mark.parametrize("path, form, field", [
    ("/billing/late-fees", {"graceDays": "2.5", "flat": "5"}, "graceDays"),
    ("/billing/late-fees", {"graceDays": "3"}, "flat"),
    ("/billing/late-fees", {"graceDays": "3", "flat": "five"}, "flat"),
    ("TENANCY", {"dueDay": "31", "enabled": "on"}, "dueDay"),
])
def test_bad_billing_forms_come_back_with_messages_and_change_nothing(app, client, demo, path,
                                                                      form, field):
    sign_in(client, "landlord")
    path = f"/billing/tenancies/{demo['ten1']}" if path == "TENANCY" else path
    response = client.post(path, data={"csrf_token": csrf(client), **form})
    assert response.status_code == 422 and response.content_type.startswith("text/html")
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert query(app, sa.select(LateFeePolicy.landlord_id)) == []
    assert query(app, sa.select(RentBilling.tenancy_id)) == []


def test_the_billing_page_is_a_landlords(client, demo):
    sign_in(client, "tenant")
    assert client.get("/billing").status_code == 403
    refused = client.post(f"/billing/tenancies/{demo['ten1']}",
                          data={"csrf_token": csrf(client), "dueDay": "5"})
    assert refused.status_code == 403
    sign_in(client, "landlord2")
    assert client.post(f"/billing/tenancies/{demo['ten1']}", data={
        "csrf_token": csrf(client), "dueDay": "5", "enabled": "on"}).status_code == 404


def test_the_nav_links_the_money_pages(client):
    sign_in(client, "landlord")
    html = client.get("/invoices").get_data(as_text=True)
    assert 'href="/statement"' in html and 'href="/billing"' in html
    sign_in(client, "tenant")
    html = client.get("/invoices").get_data(as_text=True)
    assert 'href="/statement"' in html and 'href="/billing"' not in html
