"""A ticket's events reach every client in version order, live and on replay, although a worker
with several threads delivers them (real gunicorn, Celery worker with concurrency 4, Redis)."""
import uuid

import pytest

from tests.events.factories import ticket_keys
from tests.integration.events_stack import running_stack
from tests.integration.sse_client import kind

CLIENTS = ("landlord", "tenant", "ops")


@pytest.fixture(scope="module")
def stack(app, demo, database_url, tmp_path_factory):
    # The stack's worker runs 4 threads (CELERY_CONCURRENCY): deliveries overlap.
    with running_stack(tmp_path_factory.mktemp("events-order"), database_url) as stack:
        yield stack


def _publish(stack, demo, ticket_id, version):
    return stack.publish("ticket.status_changed", None, landlord_id=demo["ll1"],
                         tenant_id=demo["ten1"], resources=[{"type": "ticket", "id": ticket_id}],
                         audience=ticket_keys(demo, "ll1", False), version=version)


def _ticket_frames(client, ticket_ids):
    """(ticket id, version, SSE id) of each ticket event the client got, in arrival order."""
    return [(f["data"]["data"]["resources"][0]["id"], f["data"]["data"]["version"], f["id"])
            for f in client.events() if kind(f) == "ticket.status_changed"
            and f["data"]["data"]["resources"][0]["id"] in ticket_ids]


def _versions_by_ticket(frames):
    seen = {}
    for ticket_id, version, _sse_id in frames:
        seen.setdefault(ticket_id, []).append(version)
    return seen


def _wait_for_all(client, ticket_ids, count):
    client.wait_for(lambda _f: len(_ticket_frames(client, ticket_ids)) >= count, timeout=90,
                    what=f"{count} ticket events")
    return _ticket_frames(client, ticket_ids)


@pytest.mark.parametrize("tickets, versions", [(1, 200), (20, 10)])
def test_each_tickets_events_arrive_in_version_order_live_and_on_replay(stack, demo, tickets,
                                                                         versions):
    run = uuid.uuid4().hex[:8]
    ticket_ids = [f"tkt_order_{run}_{n}" for n in range(tickets)]
    clients = {name: stack.connect(name) for name in CLIENTS}
    marker = _publish(stack, demo, f"tkt_marker_{run}", 1)
    before = clients["landlord"].wait_event(marker)["id"]
    # Committed one after another, as a ticket's changes are; the versions interleave tickets.
    published = [_publish(stack, demo, ticket_id, version)
                 for version in range(1, versions + 1) for ticket_id in ticket_ids]
    stack.wait_delivered(published, timeout=90)
    expected = {ticket_id: list(range(1, versions + 1)) for ticket_id in ticket_ids}
    live = {}
    for name, client in clients.items():
        live[name] = _wait_for_all(client, set(ticket_ids), len(published))
        assert _versions_by_ticket(live[name]) == expected, name
    # A reconnect after the marker replays the same events in the same order.
    replay = stack.connect(None, headers={
        "Authorization": "Bearer " + clients["landlord"].token, "Last-Event-ID": before})
    replayed = _wait_for_all(replay, set(ticket_ids), len(published))
    assert replayed == live["landlord"]
    stack.close_clients()
