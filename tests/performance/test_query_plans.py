"""Every query on the hot request and task paths is answered by an index (PostgreSQL).

The test drives the API the way clients do, records each SELECT the app sends, then asks
PostgreSQL for its plan with sequential scans priced out (``enable_seqscan = off``): a
``Seq Scan`` that remains has no index that could serve it, and on a table that grows with use
it would read every row (as the ticket list deep in its pages and the recipients lookup did).
"""
import io
import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.attachments.conftest import png_bytes

# Tables that grow with use; the directory tables (a landlord's properties) stay small.
GROWING = {"tickets", "ticket_timeline", "notifications", "invoices", "invoice_lines",
           "payments", "outbox_events", "users", "idempotency_keys", "webhook_deliveries",
           "ticket_comments", "ticket_attachments", "ticket_sla_breaches"}


@pytest.fixture
def statements(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("query plans are checked on PostgreSQL (CI runs the suite on it)")
        engine = db.engine
    seen = []

    def record(_conn, _cursor, statement, parameters, _context, executemany):
        # Reads, and the updates that find their rows with a query (the delivery's claim).
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")) and not executemany:
            seen.append((statement, parameters))
    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def _drive(client, auth, demo):
    """The hot paths: lists first and deep, details, timelines, notifications, invoices, and the
    worker's deliveries of what they commit."""
    tenant, landlord, ctr, ops = (auth(n) for n in ("tenant", "landlord", "contractor", "ops"))
    body = {"propertyId": demo["prop1"], "title": "Leak", "description": "Drips", "priority": "LOW"}
    ticket = client.post("/api/tickets", json=body, headers=tenant).get_json()
    client.post(f"/api/tickets/{ticket['id']}/assign", json={"contractorId": demo["ctr"]},
                headers=landlord)
    photo = {"file": (io.BytesIO(png_bytes()), "p.png", "image/png")}
    client.post(f"/api/tickets/{ticket['id']}/attachments", data=photo, headers=tenant,
                content_type="multipart/form-data")
    for headers in (tenant, landlord, ctr, ops):
        page = client.get("/api/tickets?limit=1", headers=headers).get_json()
        if page["nextCursor"]:
            client.get(f"/api/tickets?limit=1&cursor={page['nextCursor']}", headers=headers)
        client.get("/api/tickets?status=OPEN&limit=5", headers=headers)
        client.get(f"/api/tickets/{ticket['id']}", headers=headers)
        client.get(f"/api/tickets/{ticket['id']}/timeline", headers=headers)
        client.get("/api/tickets?overdue=true&limit=5", headers=headers)
        client.post(f"/api/tickets/{ticket['id']}/comments", json={"body": "hi"},
                    headers=headers)
        page = client.get(f"/api/tickets/{ticket['id']}/comments?limit=1",
                          headers=headers).get_json()
        client.get(f"/api/tickets/{ticket['id']}/comments?limit=1&cursor={page['nextCursor']}",
                   headers=headers)
        client.get(f"/api/tickets/{ticket['id']}/attachments", headers=headers)
        client.get("/api/notifications?limit=5", headers=headers)
        client.get("/api/notifications/unread-count", headers=headers)
    invoice = {"tenancyId": demo["ten1"], "issueDate": "2026-01-01", "dueDate": "2026-01-15",
               "lines": [{"description": "Rent", "qty": 1, "unitPrice": 100}]}
    client.post("/api/finance/invoices", json=invoice, headers=landlord)
    for headers in (tenant, landlord):
        page = client.get("/api/finance/invoices?limit=1", headers=headers).get_json()
        client.get(f"/api/finance/invoices/{page['items'][0]['id']}", headers=headers)


def _seq_scans(conn, statement, parameters):
    with conn.cursor() as cursor:
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {table for table in re.findall(r"Seq Scan on (\w+)", plan) if table in GROWING}


def test_hot_queries_use_an_index(app, client, auth, demo, statements, celery_worker):
    from portal.events import delivery
    from portal.events.models import OutboxEvent
    from portal.tickets import sla
    _drive(client, auth, demo)
    with app.app_context():
        # The worker's side too: the delivery of an event (recipients, notifications) and
        # the relay's look for what is pending.
        event_id = db.session.execute(sa.select(OutboxEvent.id).limit(1)).scalar_one()
        delivery.deliver_event(event_id)
        delivery.pending_ids(0, 10)
        sla.mark_breaches()
        db.session.rollback()
        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                cursor.execute("SET enable_seqscan = off")
            scans = {}
            for statement, parameters in statements:
                tables = _seq_scans(raw, statement, parameters)
                if tables:
                    scans[statement.split(" FROM ")[1][:80] if " FROM " in statement
                          else statement[:80]] = sorted(tables)
        finally:
            raw.rollback()
            raw.close()
    assert len(statements) > 20  # the paths above really ran
    assert any("UPDATE outbox_events SET attempts" in statement
               for statement, _parameters in statements)  # the worker's claim was checked
    assert scans == {}


def test_the_check_sees_a_query_no_index_serves(app, statements):
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                cursor.execute("SET enable_seqscan = off")
            assert _seq_scans(raw, "SELECT id FROM tickets WHERE title = %(t)s", {"t": "x"}) \
                == {"tickets"}
        finally:
            raw.rollback()
            raw.close()
