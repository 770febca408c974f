"""OVERDUE as soon as an invoice is past due: at creation, and by the beat's task (run by a real
worker) once its due date passes."""
from datetime import timedelta

import sqlalchemy as sa

from portal import tasks
from portal.database import utcnow
from portal.extensions import db
from portal.finance import service
from portal.finance.models import Invoice
from tests.helpers import wait_until
from tests.finance.conftest import (INVOICES, invoice_row, make_invoice, outbox, payment_body,
                                    post_webhook)


# One day for the whole module: a run that crosses midnight UTC must not move "today" between
# the invoices' dates and the task's own clock.
TODAY = utcnow().date()


def _days(n) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


def _run_overdue(app):
    """Send the beat's task to the worker, as the beat does, for the day the dates were made on."""
    app.extensions["celery"].send_task(tasks.MARK_OVERDUE, args=[TODAY.isoformat()])


def _days_pass(app, invoice_ids, due_in_days):
    """Time passes: these invoices' due date becomes ``due_in_days`` from today."""
    with app.app_context():
        db.session.execute(sa.update(Invoice).where(Invoice.id.in_(invoice_ids))
                           .values(due_date=TODAY + timedelta(days=due_in_days)))
        db.session.commit()


def test_an_invoice_created_past_due_is_overdue_at_once(client, auth, app, demo, celery_worker):
    late = make_invoice(client, auth("landlord"), demo["ten1"], issue=_days(-40), due=_days(-1))
    on_time = make_invoice(client, auth("landlord"), demo["ten1"], issue=_days(-1), due=_days(0))
    assert (late["status"], on_time["status"]) == ("OVERDUE", "SENT")
    assert [e["type"] for e in outbox(app)] == ["invoice.created", "invoice.created"]
    _run_overdue(app)
    with app.app_context():
        assert service.mark_overdue(TODAY) == []  # nothing left for the beat to announce
    assert outbox(app, "invoice.overdue") == []


def test_past_due_invoices_become_overdue_once(client, auth, app, demo, celery_worker):
    headers = auth("landlord")
    sent = make_invoice(client, headers, demo["ten1"], issue=_days(-40), due=_days(5))
    partly = make_invoice(client, headers, demo["ten1"], issue=_days(-40), due=_days(5))
    paid = make_invoice(client, headers, demo["ten1"], issue=_days(-40), due=_days(5))
    void = make_invoice(client, headers, demo["ten1"], issue=_days(-40), due=_days(5))
    due_today = make_invoice(client, headers, demo["ten1"], issue=_days(-10), due=_days(5))
    other = make_invoice(client, auth("landlord2"), demo["ten2"], issue=_days(-40), due=_days(5))
    assert post_webhook(client, payment_body(partly["id"], amount="10.00")).status_code == 200
    assert post_webhook(client, payment_body(paid["id"], amount="1500.00")).status_code == 200
    client.post(f"{INVOICES}/{void['id']}/void", headers=headers)
    _days_pass(app, [i["id"] for i in (sent, partly, paid, void, other)], -1)
    _days_pass(app, [due_today["id"]], 0)

    _run_overdue(app)
    wait_until(lambda: len(outbox(app, "invoice.overdue")) == 3, what="three overdue events")
    status = {name: invoice_row(app, inv["id"]).status for name, inv in (
        ("sent", sent), ("partly", partly), ("paid", paid), ("void", void),
        ("due_today", due_today), ("other", other))}
    assert status == {"sent": "OVERDUE", "partly": "OVERDUE", "paid": "PAID", "void": "VOID",
                      "due_today": "SENT", "other": "OVERDUE"}
    events = {e["resources"][0]["id"]: e for e in outbox(app, "invoice.overdue")}
    assert set(events) == {sent["id"], partly["id"], other["id"]}
    assert events[other["id"]]["audience"] == sorted([f"landlord:{demo['ll2']}",
                                                      f"tenant:{demo['ten2']}"])
    assert events[sent["id"]]["actorRole"] == "SYSTEM"
    assert client.get(f"{INVOICES}/{sent['id']}", headers=headers).get_json()["status"] == "OVERDUE"

    # A second run finds nothing more to do.
    with app.app_context():
        assert service.mark_overdue() == []
    assert len(outbox(app, "invoice.overdue")) == 3


def test_an_overdue_invoice_stays_overdue_until_paid_in_full(client, auth, app, demo,
                                                              celery_worker):
    invoice = make_invoice(client, auth("landlord"), demo["ten1"], issue=_days(-40),
                           due=_days(-1))
    assert invoice["status"] == "OVERDUE"
    partial = post_webhook(client, payment_body(invoice["id"], amount="500.00")).get_json()
    assert partial["invoice"] == {"id": invoice["id"], "status": "OVERDUE", "amountPaid": 500.00}
    assert [e["type"] for e in outbox(app)][-1] == "invoice.partially_paid"
    rest = post_webhook(client, payment_body(invoice["id"], amount="1000.00")).get_json()
    assert rest["invoice"]["status"] == "PAID"


def test_the_beat_checks_every_minute(app):
    entry = app.config["CELERY"]["beat_schedule"]["mark-overdue-invoices"]
    assert entry["task"] == "invoices.mark_overdue" and entry["schedule"] <= 60
