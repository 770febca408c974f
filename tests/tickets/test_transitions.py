"""Every call × role × status through HTTP, against the contract's table (tests/tickets/oracle.py)."""
import json

import pytest

from portal.directory.models import ContractorFirm
from portal.extensions import db
from tests.tickets import oracle
from tests.tickets.conftest import ACTOR, stored


@pytest.fixture
def other_firm(app):
    """A second contractor firm (not seeded: the clean-up removes it)."""
    with app.app_context():
        firm = ContractorFirm(name="Sparks Electrical", trade="electrical")
        db.session.add(firm)
        db.session.commit()
        return firm.id


def _assert_refused(response, expected, current, snapshot_before, snapshot):
    body = response.get_json()
    assert response.status_code == expected, body
    if expected == 403:
        assert body["error"]["code"] == "forbidden"
    else:
        assert body["error"]["code"] == "invalid_transition"
        assert body["error"]["details"]["currentStatus"] == current
    assert snapshot() == snapshot_before  # nothing written: no version, timeline or outbox


def _assert_recorded(client, auth, events, ticket_id, *, timeline_type, event_type, details):
    entries = client.get(f"/api/tickets/{ticket_id}/timeline", headers=auth("ops")).get_json()
    assert len(entries) == 1
    assert entries[0]["eventType"] == timeline_type
    assert json.loads(entries[0]["details"]) == details
    (event,) = events(ticket_id)
    assert event["type"] == event_type and event["version"] == 2


@pytest.mark.parametrize("to", oracle.STATUSES)
@pytest.mark.parametrize("current", oracle.STATUSES)
@pytest.mark.parametrize("role", oracle.ROLES)
def test_status_change(client, auth, make_ticket, snapshot, events, app, demo, role, current, to):
    ticket_id = make_ticket(current)
    before = snapshot()
    response = client.patch(f"/api/tickets/{ticket_id}/status", json={"to": to},
                            headers=auth(ACTOR[role]))
    expected = oracle.expected_status_change(role, current, to)
    if expected != 200:
        _assert_refused(response, expected, current, before, snapshot)
        return
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == to and body["version"] == 2
    assert stored(app, ticket_id)["status"] == to
    timeline_type = {"COMPLETED": "completed", "CANCELLED": "cancelled",
                     "AUDITED": "audited"}.get(to, "status_changed")
    event_type = "ticket.completed" if to == "COMPLETED" else "ticket.status_changed"
    _assert_recorded(client, auth, events, ticket_id, timeline_type=timeline_type,
                     event_type=event_type, details={"from": current, "to": to})


@pytest.mark.parametrize("current", oracle.STATUSES)
@pytest.mark.parametrize("role", oracle.ROLES)
def test_assign(client, auth, make_ticket, snapshot, events, app, demo, other_firm, role, current):
    ticket_id = make_ticket(current)
    before = snapshot()
    response = client.post(f"/api/tickets/{ticket_id}/assign", json={"contractorId": other_firm},
                           headers=auth(ACTOR[role]))
    expected = oracle.expected_action("assign", role, current)
    if expected != 200:
        _assert_refused(response, expected, current, before, snapshot)
        return
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["contractorId"] == other_firm and body["status"] == current
    assert body["version"] == 2
    _assert_recorded(client, auth, events, ticket_id, timeline_type="assigned",
                     event_type="ticket.assigned",
                     details={"contractorId": other_firm, "previousContractorId": demo["ctr"]})
    # The firm that lost the ticket no longer sees it.
    gone = client.get(f"/api/tickets/{ticket_id}", headers=auth("contractor"))
    assert gone.status_code == 404


@pytest.mark.parametrize("current", oracle.STATUSES)
@pytest.mark.parametrize("role", oracle.ROLES)
def test_quote(client, auth, make_ticket, snapshot, events, app, role, current):
    ticket_id = make_ticket(current)
    before = snapshot()
    response = client.post(f"/api/tickets/{ticket_id}/quote",
                           json={"amount": 1234.5, "notes": "new valve"},
                           headers=auth(ACTOR[role]))
    expected = oracle.expected_action("quote", role, current)
    if expected != 200:
        _assert_refused(response, expected, current, before, snapshot)
        return
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "QUOTED" and body["version"] == 2
    assert body["quote"]["amount"] == 1234.5 and body["quote"]["notes"] == "new valve"
    assert body["quote"]["submittedAt"].endswith("Z")
    _assert_recorded(client, auth, events, ticket_id, timeline_type="quote_submitted",
                     event_type="ticket.quote_submitted",
                     details={"from": "TRIAGED", "to": "QUOTED", "amount": 1234.5})


@pytest.mark.parametrize("current", oracle.STATUSES)
@pytest.mark.parametrize("role", oracle.ROLES)
def test_approve(client, auth, make_ticket, snapshot, events, app, role, current):
    ticket_id = make_ticket(current)
    before = snapshot()
    response = client.post(f"/api/tickets/{ticket_id}/approve", json={},
                           headers=auth(ACTOR[role]))
    expected = oracle.expected_action("approve", role, current)
    if expected != 200:
        _assert_refused(response, expected, current, before, snapshot)
        return
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "APPROVED" and body["version"] == 2
    assert body["quote"]["amount"] == 250.5  # the approved quote is kept
    _assert_recorded(client, auth, events, ticket_id, timeline_type="approved",
                     event_type="ticket.approved",
                     details={"from": "QUOTED", "to": "APPROVED", "amount": 250.5})
