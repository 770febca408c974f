"""Filing tickets: the happy path, who may, and bad input that writes nothing."""
import json

import pytest

from tests.tickets.conftest import stored, ticket_body

TICKET_KEYS = {"id", "landlordId", "tenantId", "propertyId", "contractorId", "title", "category",
               "description", "priority", "status", "quote", "version", "dueAt", "overdue",
               "createdAt", "updatedAt"}


def test_tenant_files_a_ticket(client, auth, demo, app, events):
    response = client.post("/api/tickets", json=ticket_body(demo), headers=auth("tenant"))
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == TICKET_KEYS
    assert body["id"].startswith("tkt_")
    assert body["status"] == "OPEN" and body["version"] == 1
    assert body["landlordId"] == demo["ll1"] and body["tenantId"] == demo["ten1"]
    assert body["propertyId"] == demo["prop1"] and body["contractorId"] is None
    assert body["title"] == "Leaking tap" and body["category"] == "plumbing"
    assert body["priority"] == "HIGH" and body["quote"] is None
    assert body["createdAt"].endswith("Z") and body["createdAt"] == body["updatedAt"]
    row = stored(app, body["id"])
    assert row["status"] == "OPEN" and row["version"] == 1 and row["quote_amount"] is None
    assert client.get(f"/api/tickets/{body['id']}", headers=auth("tenant")).get_json() == body

    (entry,) = client.get(f"/api/tickets/{body['id']}/timeline",
                          headers=auth("tenant")).get_json()
    assert entry["eventType"] == "created" and entry["actorId"] == demo["users"]["tenant"]
    assert json.loads(entry["details"]) == {"to": "OPEN", "priority": "HIGH"}

    (event,) = events(body["id"])
    assert event["type"] == "ticket.created" and event["version"] == 1
    assert event["actor_role"] == "TENANT" and event["actor_id"] == demo["users"]["tenant"]
    assert event["landlord_id"] == demo["ll1"] and event["tenant_id"] == demo["ten1"]
    assert event["resources"] == [{"type": "ticket", "id": body["id"]}]
    assert event["audience"] == sorted([f"landlord:{demo['ll1']}", f"tenant:{demo['ten1']}",
                                        "role:OPS"])
    assert event["delivered_at"] is None


def test_category_is_optional_and_title_is_trimmed(client, auth, demo):
    body = ticket_body(demo, title="  Mould  ")
    del body["category"]
    response = client.post("/api/tickets", json=body, headers=auth("tenant"))
    assert response.status_code == 201
    assert response.get_json()["category"] is None and response.get_json()["title"] == "Mould"


@pytest.mark.parametrize("name", ["landlord", "contractor", "ops"])
def test_only_tenants_file_tickets(client, auth, demo, snapshot, name):
    before = snapshot()
    response = client.post("/api/tickets", json=ticket_body(demo), headers=auth(name))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert snapshot() == before


BAD_BODIES = {
    "missing title": ({"title": None}, "title"),
    "empty title": ({"title": ""}, "title"),
    "blank title": ({"title": "   "}, "title"),
    "100 kB title": ({"title": "x" * 100_000}, "title"),
    "201-char title": ({"title": "x" * 201}, "title"),
    "title not a string": ({"title": 42}, "title"),
    "title a list": ({"title": ["a"]}, "title"),
    "empty description": ({"description": ""}, "description"),
    "description an object": ({"description": {"a": 1}}, "description"),
    "unknown priority": ({"priority": "SOMETIME"}, "priority"),
    "lower-case priority": ({"priority": "high"}, "priority"),
    "priority a number": ({"priority": 1}, "priority"),
    "category too long": ({"category": "c" * 51}, "category"),
    "category a bool": ({"category": True}, "category"),
    "unknown property": ({"propertyId": "prop_doesnotexist"}, "propertyId"),
    "property a number": ({"propertyId": 7}, "propertyId"),
    "unknown field": ({"assignee": "me"}, "assignee"),
    "status from the client": ({"status": "APPROVED"}, "status"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_bodies_answer_422_and_write_nothing(client, auth, demo, snapshot, case):
    change, field = BAD_BODIES[case]
    body = ticket_body(demo)
    for key, value in change.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    before = snapshot()
    response = client.post("/api/tickets", json=body, headers=auth("tenant"))
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]
    assert isinstance(error["details"][field], list)
    assert snapshot() == before


def test_another_tenancys_property_answers_like_an_unknown_one(client, auth, demo, snapshot):
    before = snapshot()
    other = client.post("/api/tickets", json=ticket_body(demo, propertyId=demo["prop2"]),
                        headers=auth("tenant"))
    unknown = client.post("/api/tickets", json=ticket_body(demo, propertyId="prop_nope"),
                          headers=auth("tenant"))
    assert other.status_code == unknown.status_code == 422
    assert other.get_json() == unknown.get_json()
    assert snapshot() == before


@pytest.mark.parametrize("raw,content_type,status", [
    ("[1, 2]", "application/json", 400),
    ("not json", "application/json", 400),
    ('{"title": "x"}', "text/plain", 400),
    ("", "application/json", 422),
])
def test_malformed_bodies(client, auth, snapshot, raw, content_type, status):
    before = snapshot()
    response = client.post("/api/tickets", data=raw, content_type=content_type,
                           headers=auth("tenant"))
    assert response.status_code == status
    assert set(response.get_json()["error"]) >= {"code", "message"}
    assert snapshot() == before


def test_body_over_the_limit_is_413(client, auth, demo, snapshot):
    before = snapshot()
    response = client.post("/api/tickets", json=ticket_body(demo, description="x" * 1_100_000),
                           headers=auth("tenant"))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert snapshot() == before
