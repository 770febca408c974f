"""Response times: dueAt from priority, overdue on the ticket and as a filter, and the beat's
breach check announcing each late ticket once (never a finished one)."""
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import tasks
from portal.database import utcnow
from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.tickets import sla
from portal.tickets.models import Ticket
from tests.helpers import run_together, wait_until

HOURS = {"URGENT": 24, "HIGH": 72, "MEDIUM": 7 * 24, "LOW": 14 * 24}


def _parse(stamp):
    return datetime.fromisoformat(stamp.rstrip("Z"))


def _make_late(app, ticket_id, by=timedelta(minutes=1)):
    """Move the ticket's due time into the past (as if it had been filed long ago)."""
    with app.app_context():
        db.session.execute(sa.update(Ticket).where(Ticket.id == ticket_id).values(
            due_at=utcnow() - by))
        db.session.commit()


def _breaches(app):
    with app.app_context():
        rows = db.session.execute(sa.select(OutboxEvent).where(
            OutboxEvent.type == "ticket.sla_breached")).scalars().all()
        out = [(json.loads(r.resources), set(json.loads(r.audience)), r.actor_role) for r in rows]
        db.session.remove()
    return out


@pytest.mark.parametrize("priority", list(HOURS))
def test_due_at_follows_the_priority(client, auth, demo, priority):
    from tests.tickets.conftest import ticket_body
    body = client.post("/api/tickets", json=ticket_body(demo, priority=priority),
                       headers=auth("tenant")).get_json()
    assert _parse(body["dueAt"]) - _parse(body["createdAt"]) == timedelta(hours=HOURS[priority])
    assert body["overdue"] is False


def test_response_times_are_settings(app, client, auth, demo, monkeypatch):
    from tests.tickets.conftest import ticket_body
    monkeypatch.setitem(app.config, "TICKET_DUE_LOW_S", 90)
    body = client.post("/api/tickets", json=ticket_body(demo, priority="LOW"),
                       headers=auth("tenant")).get_json()
    assert _parse(body["dueAt"]) - _parse(body["createdAt"]) == timedelta(seconds=90)


def test_overdue_on_the_ticket_and_as_a_filter(app, client, auth, make_ticket):
    late = make_ticket("IN_PROGRESS")
    on_time = make_ticket("OPEN")
    done = make_ticket("COMPLETED")
    for ticket_id in (late, done):
        _make_late(app, ticket_id)
    headers = auth("landlord")
    assert client.get(f"/api/tickets/{late}", headers=headers).get_json()["overdue"] is True
    assert client.get(f"/api/tickets/{done}", headers=headers).get_json()["overdue"] is False
    assert client.get(f"/api/tickets/{on_time}", headers=headers).get_json()["overdue"] is False

    def listed(flag):
        page = client.get("/api/tickets", query_string={"overdue": flag}, headers=headers)
        assert page.status_code == 200
        return {t["id"] for t in page.get_json()["items"]}
    assert listed("true") == {late}
    assert listed("false") == {on_time, done}
    assert client.get("/api/tickets", query_string={"overdue": "maybe"},
                      headers=headers).status_code == 422
    # Visibility still applies: the other landlord sees none of them.
    assert client.get("/api/tickets", query_string={"overdue": "true"},
                      headers=auth("landlord2")).get_json()["items"] == []


def _run_check(app):
    """Send the beat's task to the real worker and wait for it to finish."""
    result = app.extensions["celery"].send_task(tasks.MARK_SLA_BREACHES, ignore_result=False)
    return result.get(timeout=30)


def test_the_beat_task_reports_a_late_ticket_once_and_a_finished_one_never(
        app, client, auth, demo, make_ticket, celery_worker):
    late = make_ticket("TRIAGED")
    finished = {status: make_ticket(status) for status in ("COMPLETED", "AUDITED", "CANCELLED")}
    not_yet = make_ticket("OPEN")
    for ticket_id in (late, *finished.values()):
        _make_late(app, ticket_id, by=timedelta(days=3))

    assert [_run_check(app) for _ in range(4)] == [1, 0, 0, 0]
    [(resources, audience, actor_role)] = _breaches(app)
    assert resources == [{"type": "ticket", "id": late}]
    assert audience == {f"landlord:{demo['ll1']}", "role:OPS"}
    assert actor_role == "SYSTEM"

    def notified(who):
        items = client.get("/api/notifications", headers=auth(who)).get_json()["items"]
        return [(n["type"], n["resource"]["id"]) for n in items if n["type"] ==
                "ticket.sla_breached"]
    wait_until(lambda: notified("landlord"), what="the breach notification")
    assert notified("landlord") == notified("ops") == [("ticket.sla_breached", late)]
    assert notified("tenant") == notified("contractor") == notified("landlord2") == []

    # A ticket that becomes late later is announced by a later run, once.
    _make_late(app, not_yet)
    assert [_run_check(app) for _ in range(2)] == [1, 0]


def test_concurrent_checks_announce_each_breach_once(app, make_ticket):
    tickets = [make_ticket("OPEN") for _ in range(5)]
    for ticket_id in tickets:
        _make_late(app, ticket_id)

    def check(_i, _client):
        with app.app_context():
            try:
                return sla.mark_breaches()
            finally:
                db.session.remove()
    results = run_together(app, 4, check)
    assert sorted(sum(results, [])) == sorted(tickets)
    assert len(_breaches(app)) == 5


def test_the_beat_schedules_the_check_every_sla_check_s(app):
    entry = app.config["CELERY"]["beat_schedule"]["mark-sla-breaches"]
    assert entry["task"] == tasks.MARK_SLA_BREACHES
    assert entry["schedule"] == app.config["SLA_CHECK_S"] == 60
