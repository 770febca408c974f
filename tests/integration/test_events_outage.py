"""Redis (broker and stream) down at commit time: the commit stands and the event still arrives."""
import time

import pytest

from portal.events.models import OutboxEvent
from portal.extensions import db
from tests.integration.events_stack import running_stack


@pytest.fixture(scope="module")
def stack(app, demo, database_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("outage-stack"), database_url,
                       REVOCATION_RESTORE_S=1) as stack:
        yield stack


def test_event_committed_while_redis_is_down_arrives_after_it_returns(stack, demo):
    tenant, landlord = stack.connect("tenant"), stack.connect("landlord")
    stack.stop_redis()
    started = time.monotonic()
    event_id = stack.publish(
        "ticket.created", None, landlord_id=demo["ll1"], tenant_id=demo["ten1"],
        resources=[{"type": "ticket", "id": "tkt_outage"}],
        audience=[f"landlord:{demo['ll1']}", f"tenant:{demo['ten1']}", "role:OPS"])
    assert time.monotonic() - started < 15, "the commit waited on the dead broker"
    with stack.ctx():
        row = db.session.get(OutboxEvent, event_id)
        assert row is not None and row.delivered_at is None
    stack.start_redis()
    # The beat's relay delivers it; each hub reconnects and hands it to the streams still open.
    for client in (tenant, landlord):
        assert client.wait_event(event_id, timeout=45)["data"]["type"] == "ticket.created"
    stack.wait_delivered([event_id])
    # A stream opened after the outage works as usual.
    fresh = stack.connect("ops")
    event2 = stack.publish("ticket.status_changed", "landlord", landlord_id=demo["ll1"],
                           tenant_id=demo["ten1"], resources=[{"type": "ticket", "id": "tkt_o"}],
                           audience=[f"landlord:{demo['ll1']}", "role:OPS"])
    fresh.wait_event(event2)
    tenant_ids = [e["id"] for e in tenant.events()]
    assert len(tenant_ids) == len(set(tenant_ids))


def test_streams_refused_while_redis_is_down_leave_no_slot_taken(stack):
    """Browsers retry every few seconds through an outage; each refusal must free its slot."""
    from tests.integration.sse_client import SSEClient
    headers = {"Authorization": "Bearer " + stack.login("contractor")[1]["accessToken"]}
    stack.stop_redis()
    try:
        # 41 attempts over two workers: more than the cap of 10 per user in each of them.
        statuses = [SSEClient(stack.port, headers).status for _ in range(41)]
    finally:
        stack.start_redis()
    assert set(statuses) == {503}
    opened = [stack.connect(None, headers=headers) for _ in range(4)]
    assert [client.status for client in opened] == [200] * 4


def test_a_logout_outlives_a_redis_restart_without_persistence(stack):
    from tests.integration.processes import request, wait_until
    _user, body, _cookies = stack.login("landlord2")
    bearer = {"Authorization": "Bearer " + body["accessToken"]}
    assert request(stack.base, "POST", "/api/auth/logout", headers=bearer)[0] == 200
    stack.stop_redis()
    stack.start_redis()  # empty: the logout's Redis key is gone
    # The refresh token is refused at once: refreshes read the database.
    status, error = request(stack.base, "POST", "/api/auth/refresh",
                            body={"refreshToken": body["refreshToken"]})
    assert status == 401 and error["error"]["code"] == "token_revoked"
    # The beat puts the logout back into Redis: the access token is refused again.
    wait_until(lambda: request(stack.base, "GET", "/api/auth/me", headers=bearer)[0] == 401,
               timeout=30, what="the access token refused again")
    status, error = request(stack.base, "GET", "/api/auth/me", headers=bearer)
    assert error["error"]["code"] == "token_revoked"
