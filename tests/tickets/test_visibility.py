"""Who sees which ticket: anything not visible answers 404 on every read and write."""
import pytest


# (method, path suffix, body) of every call on one ticket.
CALLS = [
    ("get", "", None),
    ("get", "/timeline", None),
    ("post", "/assign", "contractor"),
    ("patch", "/status", {"to": "CANCELLED"}),
    ("patch", "/status", {"to": "TRIAGED"}),
    ("patch", "/status", {"to": "IN_PROGRESS"}),
    ("patch", "/status", {"to": "AUDITED"}),
    ("post", "/quote", {"amount": 10, "notes": "x"}),
    ("post", "/approve", {}),
]


def _call(client, demo, headers, ticket_id, method, suffix, body):
    if body == "contractor":
        body = {"contractorId": demo["ctr"]}
    return getattr(client, method)(f"/api/tickets/{ticket_id}{suffix}", json=body,
                                   headers=headers)


@pytest.mark.parametrize("status", ["OPEN", "TRIAGED", "QUOTED", "APPROVED", "IN_PROGRESS",
                                    "COMPLETED"])
@pytest.mark.parametrize("outsider", ["tenant2", "landlord2"])
def test_other_tenancy_and_landlord_get_404_everywhere(client, auth, demo, make_ticket, snapshot,
                                                        outsider, status):
    ticket_id = make_ticket(status)
    before = snapshot()
    for method, suffix, body in CALLS:
        response = _call(client, demo, auth(outsider), ticket_id, method, suffix, body)
        assert response.status_code == 404, (method, suffix, response.get_json())
        assert response.get_json()["error"]["code"] == "not_found"
    assert snapshot() == before
    listed = client.get("/api/tickets", headers=auth(outsider)).get_json()["items"]
    assert ticket_id not in [t["id"] for t in listed]


@pytest.mark.parametrize("status", ["OPEN", "TRIAGED", "QUOTED", "APPROVED", "IN_PROGRESS",
                                    "COMPLETED"])
def test_unassigned_contractor_gets_404_everywhere(client, auth, demo, make_ticket, snapshot,
                                                   status):
    ticket_id = make_ticket(status, contractor=False)
    before = snapshot()
    for method, suffix, body in CALLS:
        response = _call(client, demo, auth("contractor"), ticket_id, method, suffix, body)
        assert response.status_code == 404, (method, suffix, response.get_json())
    assert snapshot() == before
    assert client.get("/api/tickets", headers=auth("contractor")).get_json()["items"] == []


def test_not_found_looks_the_same_as_not_visible(client, auth, make_ticket):
    hidden = client.get(f"/api/tickets/{make_ticket()}", headers=auth("tenant2"))
    missing = client.get("/api/tickets/tkt_doesnotexist", headers=auth("tenant2"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()


def test_owners_and_ops_see_the_ticket(client, auth, demo, make_ticket):
    ticket_id = make_ticket("TRIAGED")
    for name in ("tenant", "landlord", "contractor", "ops"):
        response = client.get(f"/api/tickets/{ticket_id}", headers=auth(name))
        assert response.status_code == 200, name
        assert response.get_json()["id"] == ticket_id
        timeline = client.get(f"/api/tickets/{ticket_id}/timeline", headers=auth(name))
        assert timeline.status_code == 200 and timeline.get_json() == []


def test_lists_are_scoped_per_caller(client, auth, demo, file_ticket):
    mine = file_ticket()
    assigned = file_ticket(title="Assigned one")
    assert client.post(f"/api/tickets/{assigned['id']}/assign",
                       json={"contractorId": demo["ctr"]},
                       headers=auth("landlord")).status_code == 200
    theirs = file_ticket(tenant="tenant2")
    seen = {name: {t["id"] for t in client.get("/api/tickets?limit=100",
                                               headers=auth(name)).get_json()["items"]}
            for name in ("tenant", "tenant2", "landlord", "landlord2", "contractor", "ops")}
    assert seen["tenant"] == seen["landlord"] == {mine["id"], assigned["id"]}
    assert seen["tenant2"] == seen["landlord2"] == {theirs["id"]}
    assert seen["contractor"] == {assigned["id"]}
    assert seen["ops"] == {mine["id"], assigned["id"], theirs["id"]}


def test_every_ticket_call_needs_a_token_before_anything_else(client, make_ticket, snapshot):
    ticket_id = make_ticket()
    before = snapshot()
    calls = [("get", "/api/tickets", None), ("post", "/api/tickets", {"title": ""}),
             ("get", "/api/tickets?status=NOPE", None)]
    calls += [(method, f"/api/tickets/{ticket_id}{suffix}", {"bogus": 1})
              for method, suffix, _body in CALLS]
    for method, path, body in calls:
        response = getattr(client, method)(path, json=body)
        assert response.status_code == 401, (method, path, response.get_json())
        assert response.get_json()["error"]["code"] == "unauthorized"
    assert snapshot() == before


def test_a_revoked_token_is_refused(client, auth, make_ticket, snapshot):
    ticket_id = make_ticket()
    headers = auth("landlord")
    assert client.get(f"/api/tickets/{ticket_id}", headers=headers).status_code == 200
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    before = snapshot()
    for response in (client.get(f"/api/tickets/{ticket_id}", headers=headers),
                     client.patch(f"/api/tickets/{ticket_id}/status", json={"to": "TRIAGED"},
                                  headers=headers)):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "token_revoked"
    assert snapshot() == before
