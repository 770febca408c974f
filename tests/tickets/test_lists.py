"""GET /api/tickets: newest first, filters, cursor pages; and the timeline's order and shape."""
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.database import utcnow
from portal.extensions import db
from portal.plain_rows import plain_rows
from portal.tickets.models import Ticket


def test_newest_first_in_cursor_pages(client, auth, file_ticket):
    filed = [file_ticket(title=f"Ticket {i}")["id"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/tickets?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=auth("landlord")).get_json()
        pages += 1
        assert len(page["items"]) <= 2
        seen += [t["id"] for t in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(filed))


def test_a_full_page_then_no_cursor(client, auth, file_ticket):
    for i in range(2):
        file_ticket(title=f"T{i}")
    page = client.get("/api/tickets?limit=2", headers=auth("tenant")).get_json()
    assert len(page["items"]) == 2 and page["nextCursor"] is None
    assert client.get("/api/tickets", headers=auth("tenant2")).get_json() == {
        "items": [], "nextCursor": None}


def test_filters(client, auth, demo, file_ticket):
    low = file_ticket(priority="LOW")["id"]
    high = file_ticket(priority="HIGH")["id"]
    client.patch(f"/api/tickets/{high}/status", json={"to": "TRIAGED"}, headers=auth("landlord"))

    def ids(query, name="landlord"):
        response = client.get("/api/tickets" + query, headers=auth(name))
        assert response.status_code == 200, response.get_json()
        return [t["id"] for t in response.get_json()["items"]]

    assert ids("?status=TRIAGED") == [high]
    assert ids("?status=OPEN") == [low]
    assert ids("?priority=LOW") == [low]
    assert ids("?status=OPEN&priority=HIGH") == []
    assert ids(f"?propertyId={demo['prop1']}") == [high, low]
    assert ids(f"?propertyId={demo['prop2']}") == []  # not one of this landlord's
    assert ids(f"?propertyId={demo['prop1']}", name="landlord2") == []
    assert ids("?status=CANCELLED", name="ops") == []


@pytest.mark.parametrize("query,field", [
    ("?status=DONE", "status"), ("?priority=urgent", "priority"), ("?limit=0", "limit"),
    ("?limit=101", "limit"), ("?limit=ten", "limit"), ("?cursor=%%%", "cursor"),
    ("?cursor=bm90IGEgY3Vyc29y", "cursor"),
])
def test_bad_list_queries_are_422(client, auth, query, field):
    response = client.get("/api/tickets" + query, headers=auth("ops"))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"]


def test_timeline_oldest_first_with_json_string_details(client, auth, demo, file_ticket):
    ticket = file_ticket()
    tid = ticket["id"]
    steps = [("patch", "status", {"to": "TRIAGED", "note": "seen it"}, "landlord"),
             ("post", "assign", {"contractorId": demo["ctr"]}, "ops"),
             ("patch", "status", {"to": "CANCELLED"}, "tenant")]
    for method, call, body, name in steps:
        response = getattr(client, method)(f"/api/tickets/{tid}/{call}", json=body,
                                           headers=auth(name))
        assert response.status_code == 200, response.get_json()
    entries = client.get(f"/api/tickets/{tid}/timeline", headers=auth("contractor")).get_json()
    assert [e["eventType"] for e in entries] == ["created", "status_changed", "assigned",
                                                 "cancelled"]
    assert [e["actorId"] for e in entries] == [demo["users"][n] for n in
                                               ("tenant", "landlord", "ops", "tenant")]
    for entry in entries:
        assert set(entry) == {"id", "ticketId", "eventType", "actorId", "details", "createdAt"}
        assert entry["id"].startswith("tl_") and entry["ticketId"] == tid
        assert isinstance(entry["details"], str)
    assert json.loads(entries[1]["details"]) == {"from": "OPEN", "to": "TRIAGED",
                                                 "note": "seen it"}
    assert json.loads(entries[3]["details"]) == {"from": "TRIAGED", "to": "CANCELLED"}
    stamps = [e["createdAt"] for e in entries]
    assert stamps == sorted(stamps)


def test_a_page_shows_each_ticket_as_its_own_answer_does(app, client, auth, make_ticket):
    # A page's items are plain rows (portal/plain_rows.py), the detail a mapped ticket: the
    # computed fields (quote, overdue) and every column must come out the same.
    open_, quoted, done, late = (make_ticket(status) for status in
                                 ("OPEN", "QUOTED", "COMPLETED", "TRIAGED"))
    with app.app_context():
        db.session.get(Ticket, late).due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    headers = auth("landlord")
    listed = {ticket["id"]: ticket for ticket in
              client.get("/api/tickets?limit=100", headers=headers).get_json()["items"]}
    for ticket_id in (open_, quoted, done, late):
        assert listed[ticket_id] == client.get(f"/api/tickets/{ticket_id}",
                                               headers=headers).get_json()
    assert [listed[t]["overdue"] for t in (open_, quoted, done, late)] == [False, False, False,
                                                                          True]
    assert listed[open_]["quote"] is None
    assert listed[quoted]["quote"]["amount"] == 250.5
    assert listed[quoted]["quote"]["notes"] == "parts and labour"


def test_a_plain_row_is_outside_the_session(app, make_ticket):
    ticket_id = make_ticket("QUOTED")
    with app.app_context():
        [row] = plain_rows(sa.select(Ticket).where(Ticket.id == ticket_id), Ticket)
        mapped = db.session.get(Ticket, ticket_id)
        assert type(row).__name__ == "TicketRow" and row is not mapped
        assert (row.quote, row.overdue, row.version) == (mapped.quote, mapped.overdue, 1)
        row.title = "Changed on the row"
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Ticket, ticket_id).title == "Broken boiler"
        db.session.remove()
