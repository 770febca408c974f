"""An integrator's path: take /api/openapi.json from a running portal (gunicorn as the Procfile
starts it, with a Celery worker), validate it, generate a Python client with
openapi-python-client, and run the demo's journey through the generated functions only:
every answer parsed into its model, with real Python types."""
import importlib
import json
import subprocess
import sys
import urllib.request
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from openapi_spec_validator import validate

from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.seed import PASSWORD
from tests.helpers import free_port
from tests.integration import processes as proc

PACKAGE = "portal_client"


@pytest.fixture(scope="module")
def portal(app, database_url, redis_url, tmp_path_factory):
    """The base URL of a running web process and worker on this run's database and Redis."""
    folder = tmp_path_factory.mktemp("generated-client-stack")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = proc.process_env(database_url, redis_url, LOGIN_RATE_LIMIT="1000 per minute")
    with proc.ExitStack() as stack:
        stack.enter_context(proc.web(env, port, folder))
        stack.enter_context(proc.worker(env, folder))
        proc.wait_for_web(base)
        yield base


@pytest.fixture(scope="module")
def generated(portal, tmp_path_factory):
    """The client package generated from the served description, imported from its folder."""
    folder = tmp_path_factory.mktemp("generated-client")
    with urllib.request.urlopen(portal + "/api/openapi.json", timeout=10) as response:
        description = json.load(response)
    validate(description)
    (folder / "openapi.json").write_text(json.dumps(description))
    (folder / "config.json").write_text(json.dumps(
        {"project_name_override": "portal-client", "package_name_override": PACKAGE,
         "post_hooks": []}))
    run = subprocess.run(
        [str(proc.BIN / "openapi-python-client"), "generate", "--path", "openapi.json",
         "--config", "config.json", "--meta", "none", "--output-path", PACKAGE],
        cwd=folder, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(folder))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_the_demo_journey_through_the_generated_client(app, portal, generated, demo):
    models = generated("models")
    client_module = generated("client")
    login = generated("api.auth.auth_login")
    anonymous = client_module.Client(base_url=portal, raise_on_unexpected_status=True)

    def session(name):
        token = login.sync(client=anonymous, body=models.Login(
            email=f"{name}@example.com", password=PASSWORD))
        assert isinstance(token, models.Token), token
        assert isinstance(token.user, models.User) and token.user.email == f"{name}@example.com"
        return client_module.AuthenticatedClient(base_url=portal, token=token.access_token,
                                                 raise_on_unexpected_status=True)

    tenant, landlord, contractor = session("tenant"), session("landlord"), session("contractor")

    def ticket_call(name, client, *args, **kwargs):
        answer = generated(f"api.tickets.{name}").sync(*args, client=client, **kwargs)
        assert isinstance(answer, models.Ticket), answer
        assert isinstance(answer.created_at, datetime) and isinstance(answer.updated_at, datetime)
        return answer

    ticket = ticket_call("tickets_create", tenant, body=models.TicketCreate(
        property_id=demo["prop1"], title="Dripping tap", description="The kitchen tap drips.",
        priority=models.TicketCreatePriority.MEDIUM), idempotency_key="journey-create")
    assert ticket.status == "OPEN" and ticket.quote is None and ticket.contractor_id is None
    tid = ticket.id
    ticket_call("tickets_change_status", landlord, tid,
                body=models.StatusChange(to=models.StatusChangeTo.TRIAGED))
    assigned = ticket_call("tickets_assign", landlord, tid,
                           body=models.Assign(contractor_id=demo["ctr"]))
    assert assigned.contractor_id == demo["ctr"]
    quoted = ticket_call("tickets_quote", contractor, tid,
                         body=models.Quote(amount=480.25, notes="Replace the washer"))
    assert isinstance(quoted.quote, models.QuoteOut)
    assert isinstance(quoted.quote.amount, float) and quoted.quote.amount == 480.25
    assert isinstance(quoted.quote.submitted_at, datetime)
    ticket_call("tickets_approve", landlord, tid, body=models.Approve(),
                idempotency_key="journey-approve")
    ticket_call("tickets_change_status", contractor, tid,
                body=models.StatusChange(to=models.StatusChangeTo.IN_PROGRESS))
    done = ticket_call("tickets_change_status", contractor, tid, body=models.StatusChange(
        to=models.StatusChangeTo.COMPLETED, note="All fixed"))
    assert done.status == "COMPLETED" and done.version == 7

    seen = ticket_call("tickets_get", tenant, tid)
    assert (seen.status, seen.quote.amount) == ("COMPLETED", 480.25)
    listed = generated("api.tickets.tickets_list").sync(client=tenant)
    assert isinstance(listed, models.TicketList) and tid in [t.id for t in listed.items]

    timeline = generated("api.tickets.tickets_timeline").sync(tid, client=tenant)
    assert all(isinstance(entry, models.TimelineEntry) for entry in timeline)
    assert [entry.event_type for entry in timeline] == [
        "created", "status_changed", "assigned", "quote_submitted", "approved",
        "status_changed", "completed"]
    assert all(isinstance(entry.created_at, datetime) for entry in timeline)

    tenancies = generated("api.directory.directory_tenancies").sync(client=landlord)
    tenancy = next(t for t in tenancies.items if t.id == demo["ten1"])
    assert isinstance(tenancy.start_date, date) and isinstance(tenancy.monthly_rent, float)

    # Due in the future: an invoice created already past due reads OVERDUE at once.
    issued = date.today()
    due = issued + timedelta(days=30)
    invoice = generated("api.finance.finance_create_invoice").sync(
        client=landlord, idempotency_key="journey-invoice", body=models.InvoiceCreate(
            tenancy_id=demo["ten1"], issue_date=issued, due_date=due,
            lines=[models.LineInput(description="Washer replacement", qty=1.0,
                                    unit_price=480.25, tax_rate=20.0)]))
    assert isinstance(invoice, models.Invoice), invoice
    assert isinstance(invoice.issue_date, date) and invoice.due_date == due
    assert isinstance(invoice.amount, float) and invoice.amount == 576.3
    assert invoice.status == "SENT" and isinstance(invoice.lines[0], models.Line)
    again = generated("api.finance.finance_get_invoice").sync(invoice.id, client=tenant)
    assert isinstance(again, models.Invoice) and again.amount_paid == 0.0

    list_notifications = generated("api.notifications.notifications_list_notifications")

    def tenant_notifications():
        page = list_notifications.sync(client=tenant)
        assert isinstance(page, models.NotificationPage)
        return page.items if any(n.resource.id == tid for n in page.items) else None

    items = proc.wait_until(tenant_notifications, timeout=30, what="the tenant's notifications")
    note = next(n for n in items if n.resource.id == tid)
    assert isinstance(note, models.Notification) and isinstance(note.created_at, datetime)
    assert isinstance(note.resource, models.ResourceRef) and note.read_at is None
    count = generated("api.notifications.notifications_unread_count").sync(client=tenant)
    assert isinstance(count, models.UnreadCount) and count.count >= 1
    marked = generated("api.notifications.notifications_mark_read").sync(
        client=tenant, body=models.MarkRead(ids=[note.id]))
    assert isinstance(marked, models.Updated) and marked.updated == 1

    # The worker delivers every event the journey made (and is done before the cleanup).
    proc.wait_until(lambda: undelivered_events(app) == 0, timeout=30,
                    what="every event of the journey delivered")


def undelivered_events(app) -> int:
    with app.app_context():
        count = db.session.execute(sa.select(sa.func.count()).select_from(OutboxEvent).where(
            OutboxEvent.delivered_at.is_(None))).scalar_one()
        db.session.remove()
    return count
