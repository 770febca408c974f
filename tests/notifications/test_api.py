"""Notifications API (docs/events.md): the caller's own only, newest first, mark read."""
import pytest

from portal.events import delivery
from portal.extensions import db
from tests.events.factories import invoice_event, ticket_event


@pytest.fixture
def delivered(app, demo):
    """Three delivered events: two ticket events of landlord 1, one invoice of landlord 2."""
    with app.app_context():
        ids = [ticket_event(demo, by="tenant", resource_id="tkt_a"),
               ticket_event(demo, by="ops", event_type="ticket.status_changed", version=2,
                            resource_id="tkt_a"),
               invoice_event(demo, landlord="ll2", by="landlord2", resource_id="inv_b")]
        for event_id in ids:
            delivery.deliver_event(event_id)
        db.session.remove()
    return ids


def test_list_is_newest_first_and_shaped_as_the_spec_says(client, auth, delivered):
    body = client.get("/api/notifications", headers=auth("landlord")).get_json()
    items = body["items"]
    assert [n["type"] for n in items] == ["ticket.status_changed", "ticket.created"]
    assert body["nextCursor"] is None
    first = items[0]
    assert set(first) == {"id", "type", "title", "body", "resource", "readAt", "createdAt"}
    assert first["id"].startswith("ntf_") and first["readAt"] is None
    assert first["resource"] == {"type": "ticket", "id": "tkt_a"}
    assert first["createdAt"].endswith("Z") and first["title"]


def test_each_user_sees_only_its_own(client, auth, delivered):
    expected = {"landlord": 2, "tenant": 1, "ops": 1, "contractor": 0, "landlord2": 0,
                "tenant2": 1}
    seen = {}
    for name, count in expected.items():
        items = client.get("/api/notifications", headers=auth(name)).get_json()["items"]
        assert len(items) == count, name
        seen[name] = {n["id"] for n in items}
    all_ids = [i for ids in seen.values() for i in ids]
    assert len(all_ids) == len(set(all_ids))


def test_pagination_walks_every_item_once(client, auth, delivered):
    headers, seen, cursor = auth("landlord"), [], None
    while True:
        url = "/api/notifications?limit=1" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=headers).get_json()
        seen += [n["id"] for n in body["items"]]
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 2


def test_mark_read_by_ids_touches_only_the_callers_own(client, auth, delivered):
    tenant_ids = [n["id"] for n in client.get("/api/notifications",
                                              headers=auth("tenant")).get_json()["items"]]
    landlord_items = client.get("/api/notifications", headers=auth("landlord")).get_json()["items"]
    response = client.post("/api/notifications/read", headers=auth("landlord"),
                           json={"ids": [landlord_items[0]["id"]] + tenant_ids})
    assert response.status_code == 200 and response.get_json() == {"updated": 1}
    assert client.get("/api/notifications/unread-count",
                      headers=auth("landlord")).get_json() == {"count": 1}
    assert client.get("/api/notifications/unread-count",
                      headers=auth("tenant")).get_json() == {"count": 1}
    unread = client.get("/api/notifications?unread=true", headers=auth("landlord")).get_json()
    assert [n["id"] for n in unread["items"]] == [landlord_items[1]["id"]]
    again = client.post("/api/notifications/read", headers=auth("landlord"),
                        json={"ids": [landlord_items[0]["id"]]})
    assert again.get_json() == {"updated": 0}


def test_mark_all_read(client, auth, delivered):
    response = client.post("/api/notifications/read", headers=auth("landlord"), json={"all": True})
    assert response.get_json() == {"updated": 2}
    items = client.get("/api/notifications", headers=auth("landlord")).get_json()["items"]
    assert len(items) == 2 and all(n["readAt"] for n in items)
    assert client.get("/api/notifications/unread-count",
                      headers=auth("tenant")).get_json() == {"count": 1}


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"all": False}, {"ids": "x"}, {"what": 1}])
def test_mark_read_needs_ids_or_all(client, auth, body):
    response = client.post("/api/notifications/read", headers=auth("tenant"), json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"


def test_every_endpoint_needs_a_token(client):
    for method, url in (("get", "/api/notifications"), ("get", "/api/notifications/unread-count"),
                        ("post", "/api/notifications/read"), ("get", "/api/notifications?limit=0")):
        response = getattr(client, method)(url, json={"all": True} if method == "post" else None)
        assert response.status_code == 401, url


def test_bad_query_answers_422(client, auth):
    for url in ("/api/notifications?limit=0", "/api/notifications?cursor=nope",
                "/api/notifications?unread=maybe"):
        response = client.get(url, headers=auth("tenant"))
        assert response.status_code == 422, url
