"""Ticket comments: public ones for everyone who sees the ticket, internal notes that never
reach the tenant (not in the list, not on the stream, not in notifications)."""
import json

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.tickets.models import TicketComment
from tests.helpers import config_for, wait_until
from tests.events.test_stream_view import open_stream

COMMENT_KEYS = {"id", "ticketId", "authorId", "authorRole", "body", "internal", "createdAt"}


def comments_path(ticket_id):
    return f"/api/tickets/{ticket_id}/comments"


def _comment_count(app):
    with app.app_context():
        count = db.session.execute(sa.select(sa.func.count(TicketComment.id))).scalar()
        db.session.remove()
        return count


def test_everyone_who_sees_the_ticket_comments_and_reads_oldest_first(client, auth, demo,
                                                                      make_ticket):
    ticket_id = make_ticket("TRIAGED")
    written = []
    for who in ("tenant", "landlord", "contractor", "ops"):
        response = client.post(comments_path(ticket_id), json={"body": f"from {who}"},
                               headers=auth(who))
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        assert set(body) == COMMENT_KEYS
        assert (body["ticketId"], body["authorId"], body["authorRole"], body["internal"]) == (
            ticket_id, demo["users"][who], who.upper(), False)
        written.append(body)
    for who in ("tenant", "landlord", "contractor", "ops"):
        listed = client.get(comments_path(ticket_id), headers=auth(who)).get_json()
        assert listed == {"items": written, "nextCursor": None}


def test_cursor_pages_go_forward_in_time(client, auth, make_ticket):
    ticket_id = make_ticket("OPEN")
    ids = [client.post(comments_path(ticket_id), json={"body": str(i)},
                       headers=auth("tenant")).get_json()["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(comments_path(ticket_id), query_string=query,
                          headers=auth("landlord")).get_json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ids
    bad = client.get(comments_path(ticket_id), query_string={"cursor": "nope"},
                     headers=auth("landlord"))
    assert bad.status_code == 422


def test_a_tenant_may_not_write_an_internal_note(client, auth, app, make_ticket):
    ticket_id = make_ticket("OPEN")
    response = client.post(comments_path(ticket_id), json={"body": "psst", "internal": True},
                           headers=auth("tenant"))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert _comment_count(app) == 0


@pytest.mark.parametrize("body, field", [
    ({}, "body"),
    ({"body": ""}, "body"),
    ({"body": "   \n"}, "body"),
    ({"body": "x" * 5001}, "body"),
    ({"body": 5}, "body"),
    ({"body": "ok", "internal": "yes"}, "internal"),
    ({"body": "ok", "author": "me"}, "author"),
])
def test_invalid_bodies_are_422_and_store_nothing(client, auth, app, make_ticket, body, field):
    ticket_id = make_ticket("OPEN")
    response = client.post(comments_path(ticket_id), json=body, headers=auth("landlord"))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    assert _comment_count(app) == 0


def test_five_thousand_characters_are_fine(client, auth, make_ticket):
    ticket_id = make_ticket("OPEN")
    response = client.post(comments_path(ticket_id), json={"body": "é" * 5000},
                           headers=auth("tenant"))
    assert response.status_code == 201 and response.get_json()["body"] == "é" * 5000


@pytest.mark.parametrize("outsider", ["tenant2", "landlord2"])
def test_a_ticket_one_cannot_see_is_404_for_comments(client, auth, app, make_ticket, outsider):
    ticket_id = make_ticket("OPEN")
    for response in (client.get(comments_path(ticket_id), headers=auth(outsider)),
                     client.post(comments_path(ticket_id), json={"body": "hi"},
                                 headers=auth(outsider))):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    unassigned = make_ticket("OPEN", contractor=False)
    assert client.get(comments_path(unassigned), headers=auth("contractor")).status_code == 404
    assert _comment_count(app) == 0


def test_an_idempotency_key_replays_the_comment(client, auth, app, make_ticket):
    ticket_id = make_ticket("OPEN")
    headers = {**auth("tenant"), "Idempotency-Key": "comment-1"}
    first = client.post(comments_path(ticket_id), json={"body": "hello"}, headers=headers)
    second = client.post(comments_path(ticket_id), json={"body": "hello"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    assert _comment_count(app) == 1


@pytest.fixture(scope="module")
def stream_app(app, database_url, redis_url):
    """An app of its own whose hub reads the stream the worker writes (same prefix)."""
    stream_app = create_app("testing", config_for(database_url, redis_url,
                                                  SSE_READ_BLOCK_MS=300, SSE_GC_FREEZE=False))
    yield stream_app
    hub = stream_app.extensions.get("event_hub")
    if hub:
        hub.stop()


def _outbox(app, ticket_id):
    with app.app_context():
        rows = db.session.execute(sa.select(OutboxEvent).where(
            OutboxEvent.type == "ticket.comment_added").order_by(OutboxEvent.created_at)
        ).scalars().all()
        out = [(json.loads(r.resources), set(json.loads(r.audience)), r.stream_id) for r in rows]
        db.session.remove()
    return [row for row in out if {"type": "ticket", "id": ticket_id} in row[0]]


def test_an_internal_note_never_reaches_the_tenant(client, auth, app, demo, make_ticket,
                                                   stream_app, celery_worker):
    ticket_id = make_ticket("TRIAGED")
    tenant_stream = stream_app.test_client()
    response, stream = open_stream(tenant_stream, auth("tenant"))
    assert response.status_code == 200
    stream.frames(lambda f: f["data"] is not None)  # connected

    note = client.post(comments_path(ticket_id), json={"body": "tenant is difficult",
                                                       "internal": True},
                       headers=auth("landlord")).get_json()
    public = client.post(comments_path(ticket_id), json={"body": "coming Tuesday"},
                         headers=auth("contractor")).get_json()
    assert note["internal"] is True and public["internal"] is False

    # The events: the note's audience leaves the tenancy out.
    (note_res, note_audience, _), (public_res, public_audience, _) = _outbox(app, ticket_id)
    assert note_res[1] == {"type": "comment", "id": note["id"]}
    assert note_audience == {f"landlord:{demo['ll1']}", f"contractor:{demo['ctr']}", "role:OPS"}
    assert public_audience == note_audience | {f"tenant:{demo['ten1']}"}

    # The tenant's live stream gets the public comment (published after the note) and its
    # notification, and nothing about the note.
    public_stream_id = wait_until(lambda: _outbox(app, ticket_id)[1][2], what="delivery")
    frames = stream.events(until_id=public_stream_id)
    comment_frames = [f for f in frames if f["data"]["type"] == "ticket.comment_added"]
    assert [f["data"]["data"]["resources"][1]["id"] for f in comment_frames] == [public["id"]]
    assert note["id"] not in json.dumps(frames)
    stream.close()

    # Lists and notifications.
    listed = client.get(comments_path(ticket_id), headers=auth("tenant")).get_json()["items"]
    assert [c["id"] for c in listed] == [public["id"]]
    for who in ("landlord", "contractor", "ops"):
        listed = client.get(comments_path(ticket_id), headers=auth(who)).get_json()["items"]
        assert [c["id"] for c in listed] == [note["id"], public["id"]]

    def notified(who):
        items = client.get("/api/notifications", headers=auth(who)).get_json()["items"]
        return sorted(n["type"] for n in items if n["resource"]["id"] == ticket_id)
    wait_until(lambda: notified("ops") == ["ticket.comment_added"] * 2, what="notifications")
    assert notified("tenant") == ["ticket.comment_added"]  # the public one only
    assert notified("landlord") == ["ticket.comment_added"]  # not told of its own note
    assert notified("contractor") == ["ticket.comment_added"]  # not told of its own comment
