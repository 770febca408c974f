"""The whole journey through HTTP, with the outbox events it leaves behind."""
import json

from portal import create_app
from portal.events.models import OutboxEvent
from portal.events.outbox import envelope
from portal.extensions import db
from tests.helpers import config_for, free_port, login_as

JOURNEY = [
    ("post", "assign", "landlord", "contractor_body"),
    ("patch", "status", "landlord", {"to": "TRIAGED"}),
    ("post", "quote", "contractor", {"amount": 480.25, "notes": "Replace the washer"}),
    ("post", "approve", "landlord", {}),
    ("patch", "status", "contractor", {"to": "IN_PROGRESS"}),
    ("patch", "status", "contractor", {"to": "COMPLETED", "note": "All fixed"}),
    ("patch", "status", "ops", {"to": "AUDITED"}),
]


def test_ticket_journey_records_every_step(client, auth, demo, app, file_ticket, events):
    ticket = file_ticket()
    tid = ticket["id"]
    for version, (method, call, name, body) in enumerate(JOURNEY, start=2):
        if body == "contractor_body":
            body = {"contractorId": demo["ctr"]}
        response = getattr(client, method)(f"/api/tickets/{tid}/{call}", json=body,
                                           headers=auth(name))
        assert response.status_code == 200, (call, response.get_json())
        assert response.get_json()["version"] == version
    final = client.get(f"/api/tickets/{tid}", headers=auth("tenant")).get_json()
    assert final["status"] == "AUDITED" and final["version"] == 8
    assert final["quote"]["amount"] == 480.25 and final["quote"]["notes"] == "Replace the washer"
    assert final["updatedAt"] >= final["createdAt"]

    timeline = client.get(f"/api/tickets/{tid}/timeline", headers=auth("tenant")).get_json()
    assert [e["eventType"] for e in timeline] == [
        "created", "assigned", "status_changed", "quote_submitted", "approved",
        "status_changed", "completed", "audited"]
    assert json.loads(timeline[6]["details"]) == {"from": "IN_PROGRESS", "to": "COMPLETED",
                                                  "note": "All fixed"}

    rows = events(tid)
    assert [(r["type"], r["version"]) for r in rows] == [
        ("ticket.created", 1), ("ticket.assigned", 2), ("ticket.status_changed", 3),
        ("ticket.quote_submitted", 4), ("ticket.approved", 5), ("ticket.status_changed", 6),
        ("ticket.completed", 7), ("ticket.status_changed", 8)]
    assert [r["actor_role"] for r in rows] == ["TENANT", "LANDLORD", "LANDLORD", "CONTRACTOR",
                                               "LANDLORD", "CONTRACTOR", "CONTRACTOR", "OPS"]
    base = {f"landlord:{demo['ll1']}", f"tenant:{demo['ten1']}", "role:OPS"}
    assert set(rows[0]["audience"]) == base  # no firm assigned yet
    for row in rows[1:]:
        assert set(row["audience"]) == base | {f"contractor:{demo['ctr']}"}


def test_outbox_rows_carry_no_personal_data(client, auth, demo, app, file_ticket):
    secret_title, secret_text = "Flat 3 Tess Tenant leak", "Call me on 07700 900123"
    tid = file_ticket(title=secret_title, description=secret_text)["id"]
    client.patch(f"/api/tickets/{tid}/status", json={"to": "CANCELLED", "note": secret_text},
                 headers=auth("tenant"))
    with app.app_context():
        rows = db.session.execute(db.select(OutboxEvent)).scalars().all()
        assert len(rows) == 2
        for row in rows:
            text = json.dumps({c.name: str(getattr(row, c.name))
                               for c in OutboxEvent.__table__.columns})
            for personal in (secret_title, secret_text, "tenant@example.com", "Tess"):
                assert personal not in text
            assert set(envelope(row)) == {"id", "type", "actorRole", "landlordId", "tenantId",
                                          "resources", "version", "at"}
        db.session.remove()


def test_change_commits_with_its_event_while_the_broker_is_down(app, redis_url, make_ticket,
                                                                 events):
    """Delivery is enqueued after the commit, best effort: the beat's relay catches up later."""
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    broken = create_app("testing", config_for(app.config["SQLALCHEMY_DATABASE_URI"], redis_url,
                                              CELERY_BROKER_URL=dead_broker))
    client = broken.test_client()
    ticket_id = make_ticket("OPEN")
    response = client.patch(f"/api/tickets/{ticket_id}/status", json={"to": "TRIAGED"},
                            headers=login_as(client, "landlord"))
    assert response.status_code == 200, response.get_json()
    (event,) = events(ticket_id)
    assert event["type"] == "ticket.status_changed" and event["delivered_at"] is None
    with broken.app_context():
        db.session.remove()
        db.engine.dispose()


def test_committed_events_reach_the_worker(app, client, auth, demo, file_ticket, events,
                                           celery_worker):
    """The view enqueues delivery after the commit: a real worker finds and delivers the row."""
    import time

    tid = file_ticket()["id"]
    assert client.patch(f"/api/tickets/{tid}/status", json={"to": "TRIAGED"},
                        headers=auth("landlord")).status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = events(tid)
        if len(rows) == 2 and all(r["delivered_at"] for r in rows):
            break
        time.sleep(0.1)
    assert [(r["type"], bool(r["delivered_at"])) for r in events(tid)] == [
        ("ticket.created", True), ("ticket.status_changed", True)]
