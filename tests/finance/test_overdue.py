"""The overdue beat task, run by a real worker, and its events."""
from datetime import timedelta

from portal import tasks
from portal.database import utcnow
from portal.finance import service
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


def test_past_due_invoices_become_overdue_once(client, auth, app, demo, celery_worker):
    headers = auth("landlord")
    sent = make_invoice(client, headers, demo["ten1"], issue=_days(-40), due=_days(-1))
    partly = make_invoice(client, headers, demo["ten1"], issue=_days(-40), due=_days(-10))
    paid = make_invoice(client, headers, demo["ten1"], issue=_days(-40), due=_days(-10))
    void = make_invoice(client, headers, demo["ten1"], issue=_days(-40), due=_days(-10))
    due_today = make_invoice(client, headers, demo["ten1"], issue=_days(-10), due=_days(0))
    other = make_invoice(client, auth("landlord2"), demo["ten2"], issue=_days(-40), due=_days(-3))
    assert post_webhook(client, payment_body(partly["id"], amount="10.00")).status_code == 200
    assert post_webhook(client, payment_body(paid["id"], amount="1500.00")).status_code == 200
    client.post(f"{INVOICES}/{void['id']}/void", headers=headers)

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
    _run_overdue(app)
    wait_until(lambda: invoice_row(app, invoice["id"]).status == "OVERDUE", what="overdue")
    partial = post_webhook(client, payment_body(invoice["id"], amount="500.00")).get_json()
    assert partial["invoice"] == {"id": invoice["id"], "status": "OVERDUE", "amountPaid": 500.00}
    assert [e["type"] for e in outbox(app)][-1] == "invoice.partially_paid"
    rest = post_webhook(client, payment_body(invoice["id"], amount="1000.00")).get_json()
    assert rest["invoice"]["status"] == "PAID"

