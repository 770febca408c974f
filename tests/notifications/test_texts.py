"""Notification texts read for a batch of events are each event's own text."""
import sqlalchemy as sa

from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.notifications import texts


def test_a_mixed_batch_gives_each_event_the_text_it_has_alone(app, client, auth, demo):
    tenant, landlord = auth("tenant"), auth("landlord")

    def ticket(title):
        return client.post("/api/tickets", headers=tenant, json={
            "propertyId": demo["prop1"], "title": title, "description": "x",
            "priority": "LOW"}).get_json()["id"]
    tap, window = ticket("Leaking tap"), ticket("Broken window")
    assert client.post(f"/api/tickets/{window}/assign", json={"contractorId": demo["ctr"]},
                       headers=landlord).status_code == 200
    assert client.post(f"/api/tickets/{tap}/comments", json={"body": "On my way"},
                       headers=landlord).status_code == 201
    assert client.post("/api/finance/invoices", headers=landlord, json={
        "tenancyId": demo["ten1"], "issueDate": "2026-01-01", "dueDate": "2026-01-15",
        "lines": [{"description": "Rent", "qty": 1, "unitPrice": 100}]}).status_code == 201
    with app.app_context():
        events = db.session.scalars(
            sa.select(OutboxEvent).order_by(OutboxEvent.created_at, OutboxEvent.id)).all()
        together = texts.describe(events)
        alone = [texts.describe([event])[0] for event in events]
        db.session.remove()
    assert together == alone
    titles = [title for title, _body in together]
    assert titles[:4] == ["Leaking tap: reported (Low priority)",
                          "Broken window: reported (Low priority)",
                          "Broken window: assigned to FixIt Plumbing & Repairs",
                          "Leaking tap: new comment"]
    assert titles[4].startswith("Invoice ") and "issued (100.00" in titles[4]
