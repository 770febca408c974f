"""The portals as people use them: several browsers open at once, each party's pages kept live
while the others act, through pages only (the webhook is the payment provider's call)."""
import hashlib
import hmac
import json
import re
import time
import urllib.request
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import (LIVE_TIMEOUT_MS, PHONE, WEBHOOK_SECRET, mark_no_reload,
                                    never_reloaded, screenshot, wait_live)

LIVE = {"timeout": LIVE_TIMEOUT_MS}


def bell(page):
    return page.locator("[data-unread-count]")


def report(page, title, description=None, priority=None):
    """The tenant reports a problem on /tickets/new; returns the new ticket's path."""
    page.goto("/tickets/new")
    page.fill('[name="title"]', title)
    if description:
        page.fill('[name="description"]', description)
    if priority:
        page.select_option('[name="priority"]', priority)
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r"/tickets/tkt_\w+$"))
    wait_live(page)
    return urlsplit(page.url).path


def status_of(page):
    return page.locator("[data-ticket-status]")


def test_seed_e2e_landlord_sees_the_new_ticket_and_the_bell_rises_and_falls(portals):
    landlord = portals.open("landlord", path="/maintenance")
    tenant = portals.open("tenant", viewport=PHONE, path="/tickets/new")
    expect(bell(landlord)).to_have_text("0")
    mark_no_reload(landlord)

    tenant.fill('[name="title"]', "Broken window")
    tenant.click('button[type="submit"]')

    expect(landlord.get_by_text("Broken window")).to_be_visible(**LIVE)
    expect(landlord.locator(".row", has_text="Broken window")).to_contain_text("Open")
    expect(bell(landlord)).to_have_text("1", **LIVE)
    assert never_reloaded(landlord)

    landlord.click(".bell")
    expect(landlord.locator(".inbox__item--unread")).to_contain_text(
        "Broken window: reported (Medium priority)")
    landlord.click("text=Mark all read")
    expect(bell(landlord)).to_have_text("0")
    expect(landlord.locator(".inbox__item--unread")).to_have_count(0)
    assert portals.foreign_requests() == []


def test_the_whole_workflow_through_pages_keeps_every_party_live(portals):
    tenant = portals.open("tenant", viewport=PHONE, path="/tickets/new")
    ticket = report(tenant, "Leaking faucet in kitchen", "Drips all night under the sink.",
                    "HIGH")
    landlord = portals.open("landlord", path=ticket)
    contractor = portals.open("contractor", path="/maintenance")
    ops = portals.open("ops", path=ticket)
    mark_no_reload(tenant, contractor, ops)
    expect(contractor.get_by_text("Leaking faucet in kitchen")).to_have_count(0)

    landlord.click('button:text-is("Triage")')
    expect(status_of(tenant)).to_have_text("Triaged", **LIVE)
    expect(status_of(ops)).to_have_text("Triaged", **LIVE)

    landlord.select_option('[name="contractorId"]', label="FixIt Plumbing & Repairs")
    landlord.click('button:text-is("Assign")')
    expect(tenant.locator("[data-ticket-firm]")).to_have_text("FixIt Plumbing & Repairs", **LIVE)
    # The firm could not see the ticket before; now it appears on its board by itself.
    expect(contractor.get_by_text("Leaking faucet in kitchen")).to_be_visible(**LIVE)
    assert never_reloaded(contractor)

    contractor.click("text=Leaking faucet in kitchen")
    wait_live(contractor)
    mark_no_reload(landlord, contractor)
    contractor.fill('[name="amount"]', "150")
    contractor.fill('[name="notes"]', "New washer and valve")
    contractor.click('button:text-is("Submit quote")')
    expect(status_of(contractor)).to_have_text("Quoted")
    expect(landlord.locator("[data-ticket-quote]")).to_have_text("150.00", **LIVE)
    expect(status_of(tenant)).to_have_text("Quoted", **LIVE)
    assert never_reloaded(landlord)

    landlord.click('button:text-is("Approve")')
    mark_no_reload(contractor)
    expect(contractor.locator('button:text-is("Start work")')).to_be_visible(**LIVE)
    contractor.click('button:text-is("Start work")')
    expect(status_of(tenant)).to_have_text("In progress", **LIVE)
    contractor.click('button:text-is("Mark completed")')
    expect(status_of(landlord)).to_have_text("Completed", **LIVE)
    expect(ops.locator('button:text-is("Audit")')).to_be_visible(**LIVE)
    ops.click('button:text-is("Audit")')
    for page in (tenant, landlord, contractor):
        expect(status_of(page)).to_have_text("Audited", **LIVE)
        expect(page.locator(".actions button")).to_have_count(0)
    assert never_reloaded(tenant)

    steps = tenant.locator(".thread__text")
    expect(steps).to_have_text([
        "Reported (High priority)", "Triaged", "Assigned to FixIt Plumbing & Repairs",
        "Quote submitted (150.00)", "Quote approved (150.00)", "Work started",
        "Work completed", "Audited"])
    screenshot(tenant, "tenant-ticket-375")
    tenant.set_viewport_size({"width": 1280, "height": 860})
    screenshot(tenant, "tenant-ticket-desktop")
    landlord.goto("/maintenance")
    report(portals.open("tenant", viewport=PHONE, path="/tickets/new"), "No hot water", None,
           "URGENT")
    expect(landlord.get_by_text("No hot water")).to_be_visible(**LIVE)
    cells = [landlord.locator(".row", has_text="No hot water").locator(name).bounding_box()
             for name in (".row__title", ".row__property", ".row__priority", ".row__status",
                          ".row__age")]
    # At desktop width a row is one line of columns, in the headers' order.
    assert [c["x"] for c in cells] == sorted(c["x"] for c in cells)
    assert all(a["x"] + a["width"] <= b["x"] for a, b in zip(cells, cells[1:]))
    screenshot(landlord, "landlord-board-desktop")
    landlord.set_viewport_size(PHONE)
    screenshot(landlord, "landlord-board-375")
    assert portals.foreign_requests() == []


def signed_webhook(base, body: dict):
    """POST the payment provider's call, signed as docs/finance.md says."""
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(WEBHOOK_SECRET.encode(), stamp.encode() + b"." + raw,
                      hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        base + "/api/finance/payments/webhook", data=raw, method="POST",
        headers={"Content-Type": "application/json", "Webhook-Signature": f"t={stamp},v1={digest}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_an_invoice_issued_on_a_page_appears_live_and_turns_paid_on_both(portals, stack):
    landlord = portals.open("landlord", path="/invoices")
    tenant = portals.open("tenant", viewport=PHONE, path="/invoices")
    mark_no_reload(tenant)

    landlord.select_option('[name="tenancyId"]', label="12 Quay Street, Flat 3")
    landlord.fill('[name="issueDate"]', "2026-12-01")
    landlord.fill('[name="dueDate"]', "2026-12-28")
    landlord.fill('[name="description"]', "Rent – January 2027")
    landlord.fill('[name="unitPrice"]', "1500")
    landlord.click('button:text-is("Issue invoice")')
    row = tenant.locator(".row")
    expect(row).to_have_count(1, **LIVE)
    expect(row).to_contain_text("1,500.00 GBP")
    expect(row.locator("[data-invoice-status]")).to_have_text("Sent")
    number = row.locator(".row__title").inner_text()
    invoice_path = row.locator(".row__title").get_attribute("href")
    assert never_reloaded(tenant)

    tenant.click(".row__title")
    wait_live(tenant)
    mark_no_reload(tenant, landlord)
    status, answer = signed_webhook(stack.base, {
        "invoiceId": invoice_path.rsplit("/", 1)[1], "amount": 1500.00,
        "providerRef": "pi_browser_1", "provider": "stripe"})
    assert status == 200 and answer["invoice"]["status"] == "PAID"

    expect(tenant.locator("[data-invoice-status]")).to_have_text("Paid", **LIVE)
    expect(tenant.locator(".invoice")).to_contain_text("pi_browser_1")
    landlord_row = landlord.locator(".row", has_text=number)
    expect(landlord_row.locator("[data-invoice-status]")).to_have_text("Paid", **LIVE)
    assert never_reloaded(tenant) and never_reloaded(landlord)
    assert portals.foreign_requests() == []


def test_the_statement_follows_payments_live(portals, stack):
    landlord = portals.open("landlord", path="/invoices")
    landlord.fill('[name="issueDate"]', "2026-12-01")
    landlord.fill('[name="dueDate"]', "2099-12-28")
    landlord.fill('[name="description"]', "Rent – January 2027")
    landlord.fill('[name="unitPrice"]', "1500")
    landlord.click('button:text-is("Issue invoice")')
    invoice_path = landlord.locator(".row__title").first.get_attribute("href")
    tenant = portals.open("tenant", viewport=PHONE, path="/statement")
    balance = tenant.locator("[data-closing-balance]")
    expect(balance).to_have_text("1,500.00")
    mark_no_reload(tenant)

    status, _ = signed_webhook(stack.base, {
        "invoiceId": invoice_path.rsplit("/", 1)[1], "amount": 400.00,
        "providerRef": "pi_statement_1", "provider": "stripe"})
    assert status == 200
    expect(balance).to_have_text("1,100.00", **LIVE)
    expect(tenant.locator('tr[data-kind="payment"]')).to_contain_text("pi_statement_1")
    assert never_reloaded(tenant)
    screenshot(tenant, "tenant-statement-375")
    landlord.goto("/billing")
    screenshot(landlord, "landlord-billing-desktop")
    assert portals.foreign_requests() == []


def test_isolation_in_the_browser(portals, stack):
    tenant = portals.open("tenant", viewport=PHONE, path="/tickets/new")
    other = portals.open("tenant2", path="/maintenance")
    ticket = report(tenant, "Damp in the bedroom")
    # The other tenant's own next report reaches its open board after the first one was filed:
    # the stream is ordered, so had the first been sent to it, it would be there already.
    report(portals.open("tenant2", path="/tickets/new"), "Squeaky door")
    expect(other.get_by_text("Squeaky door")).to_be_visible(**LIVE)
    expect(other.get_by_text("Damp in the bedroom")).to_have_count(0)

    response = other.goto(ticket)
    assert response.status == 404
    expect(other.locator("h1")).to_have_text("Page not found")
    expect(other.get_by_text("Damp in the bedroom")).to_have_count(0)

    stranger = portals.open()
    stranger.goto(stack.base + ticket)
    assert stranger.url == f"{stack.base}/login?next={ticket}"
    stranger.fill('input[name="email"]', "tenant@example.com")
    stranger.fill('input[name="password"]', "password123")
    stranger.click('button[type="submit"]')
    stranger.wait_for_url(stack.base + ticket)

    # A cross-site form carries the cookie (same browser) but not the token: nothing changes.
    forged = stranger.context.request.post(stack.base + ticket + "/cancel", form={},
                                           max_redirects=0)
    assert forged.status == 403
    stranger.reload()
    expect(status_of(stranger)).to_have_text("Open")
    assert portals.foreign_requests() == []
