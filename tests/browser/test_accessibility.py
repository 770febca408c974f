"""axe-core, run in the browser on every page at a phone's width and a desktop's: no serious or
critical violation (the ruleset's own judgement of impact)."""
from datetime import date
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe

from portal.auth.models import User
from portal.auth.principal import Principal
from portal.extensions import db
from portal.finance import service as finance
from portal.tickets import service as tickets
from tests.browser.conftest import DESKTOP, PHONE

BLOCKING = ("serious", "critical")


def principal(name):
    user = db.session.execute(db.select(User).where(
        User.email == f"{name}@example.com")).scalar_one()
    return Principal.from_user(user)


@pytest.fixture
def records(stack, demo):
    """A triaged ticket assigned to the firm and an invoice: every page has something to show."""
    with stack.ctx():
        ticket = tickets.create_ticket(principal("tenant"), property_id=demo["prop1"],
                                       title="Leaking faucet in kitchen", priority="HIGH",
                                       description="Drips all night.", category="Plumbing")
        tickets.change_status(principal("landlord"), ticket.id, "TRIAGED")
        tickets.assign(principal("landlord"), ticket.id, demo["ctr"])
        invoice = finance.create_invoice(principal("landlord"), {
            "tenancy_id": demo["ten1"], "issue_date": date(2026, 12, 1),
            "due_date": date(2026, 12, 28), "currency": "GBP",
            "lines": [{"description": "Rent – January 2027", "qty": Decimal(1),
                       "unit_price": Decimal("1500.00"), "tax_rate": Decimal(0)}]})
        return {"ticket": f"/tickets/{ticket.id}", "invoice": f"/invoices/{invoice.id}"}


def pages_of(records):
    return {
        "tenant": ["/maintenance", "/tickets/new", records["ticket"], "/invoices",
                   records["invoice"], "/notifications", "/tickets/tkt_not_there", "/statement"],
        "landlord": ["/maintenance", records["ticket"], "/invoices", records["invoice"],
                     "/notifications", "/statement", "/billing"],
        "contractor": ["/maintenance", records["ticket"]],
        "ops": ["/maintenance", records["ticket"]],
    }


def blocking(page) -> list:
    results = Axe().run(page)
    return [f"{page.url} @ {page.viewport_size['width']}px: {v['id']} ({v['impact']}): "
            f"{v['help']} – {[node['target'] for node in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in BLOCKING]


def test_no_page_has_a_serious_or_critical_accessibility_violation(portals, records):
    found = []
    signed_out = portals.open()
    for viewport in (PHONE, DESKTOP):
        signed_out.set_viewport_size(viewport)
        signed_out.goto("/login")
        found += blocking(signed_out)
    for name, paths in pages_of(records).items():
        page = portals.open(name)
        for viewport in (PHONE, DESKTOP):
            page.set_viewport_size(viewport)
            for path in paths:
                page.goto(path)
                found += blocking(page)
    # A form shown again with its messages.
    tenant = portals.open("tenant", path="/tickets/new")
    tenant.click('button[type="submit"]')
    assert tenant.locator(".field__error").count() == 1
    found += blocking(tenant)
    assert found == []
    assert portals.foreign_requests() == []
