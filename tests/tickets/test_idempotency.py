"""Idempotency-Key (docs/API.md) through the ticket endpoints, including concurrent retries."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.database import utcnow
from portal.extensions import db
from portal.idempotency import IdempotencyKey, purge_expired
from tests.helpers import login_as
from tests.helpers import run_together
from tests.tickets.conftest import ticket_body


def _keys(app):
    with app.app_context():
        rows = [(r.user_id, r.key, r.state, r.response_status) for r in
                db.session.execute(sa.select(IdempotencyKey)).scalars()]
        db.session.remove()
        return rows


def _set_key(app, key, **values):
    with app.app_context():
        db.session.execute(sa.update(IdempotencyKey).where(IdempotencyKey.key == key)
                           .values(**values))
        db.session.commit()
        db.session.remove()


def _with_key(headers, key):
    return {**headers, "Idempotency-Key": key}


def test_retry_replays_the_first_answer_and_changes_nothing(client, auth, demo, snapshot):
    headers = _with_key(auth("tenant"), "create-1")
    first = client.post("/api/tickets", json=ticket_body(demo), headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    after_first = snapshot()
    for _ in range(3):
        again = client.post("/api/tickets", json=ticket_body(demo), headers=headers)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == first.get_json()
        assert again.mimetype == "application/json"
    assert snapshot() == after_first
    assert len(after_first["tickets"]) == 1 and after_first["outbox"] == 1


def test_same_key_other_body_is_422_and_writes_nothing(client, auth, demo, snapshot):
    headers = _with_key(auth("tenant"), "k-reused")
    assert client.post("/api/tickets", json=ticket_body(demo), headers=headers).status_code == 201
    before = snapshot()
    other = client.post("/api/tickets", json=ticket_body(demo, title="Another"), headers=headers)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert snapshot() == before


def test_same_key_other_path_is_422(client, auth, demo, make_ticket, snapshot):
    ticket_id = make_ticket("OPEN", contractor=False)
    headers = _with_key(auth("landlord"), "k-path")
    first = client.post(f"/api/tickets/{ticket_id}/assign", json={"contractorId": demo["ctr"]},
                        headers=headers)
    assert first.status_code == 200
    before = snapshot()
    other = client.post(f"/api/tickets/{make_ticket('OPEN')}/assign",
                        json={"contractorId": demo["ctr"]}, headers=headers)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert snapshot()["timeline"] == before["timeline"]
    assert snapshot()["outbox"] == before["outbox"]


def test_keys_belong_to_one_user(client, auth, demo):
    first = client.post("/api/tickets", json=ticket_body(demo),
                        headers=_with_key(auth("tenant"), "shared"))
    other_user = client.post("/api/tickets", json=ticket_body(demo, propertyId=demo["prop2"]),
                             headers=_with_key(auth("tenant2"), "shared"))
    assert first.status_code == other_user.status_code == 201
    assert "Idempotent-Replayed" not in other_user.headers
    assert first.get_json()["id"] != other_user.get_json()["id"]


def test_key_in_flight_is_409_while_its_request_runs_and_taken_over_once_it_died(
        app, client, auth, demo, snapshot):
    headers = _with_key(auth("tenant"), "k-flight")
    assert client.post("/api/tickets", json=ticket_body(demo), headers=headers).status_code == 201
    # As if that first request had not answered yet: the key IN_FLIGHT, no answer stored.
    _set_key(app, "k-flight", state="IN_FLIGHT", response_status=None, response_body=None)
    before = snapshot()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # Still running: its outer transaction holds the key row's lock (a connection of ours
        # plays it). On SQLite a running request holds the whole database instead, so a retry
        # never gets to see its key.
        with app.app_context():
            with db.engine.connect() as running:
                running.execute(sa.select(IdempotencyKey.id).where(
                    IdempotencyKey.key == "k-flight").with_for_update())
                busy = client.post("/api/tickets", json=ticket_body(demo), headers=headers)
                running.rollback()
            db.session.remove()
        assert busy.status_code == 409
        assert busy.get_json()["error"]["code"] == "idempotency_key_in_flight"
        assert snapshot() == before
    # Its request died (nothing holds the row): the next retry takes the key over and runs.
    retried = client.post("/api/tickets", json=ticket_body(demo), headers=headers)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert len(snapshot()["tickets"]) == 2
    assert [k[2:] for k in _keys(app)] == [("DONE", 201)]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "del\x7f"])
def test_invalid_keys_are_400_and_write_nothing(client, auth, demo, snapshot, app, key):
    before = snapshot()
    response = client.post("/api/tickets", json=ticket_body(demo),
                           headers=_with_key(auth("tenant"), key))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_idempotency_key"
    assert snapshot() == before and _keys(app) == []


def test_longest_and_oddest_valid_keys_work(client, auth, demo):
    for key in ("k" * 255, " ~!@#$%^&*()[]{}<>?/\\|'\"`"):
        headers = _with_key(auth("tenant"), key)
        first = client.post("/api/tickets", json=ticket_body(demo, title=key[:50]),
                            headers=headers)
        again = client.post("/api/tickets", json=ticket_body(demo, title=key[:50]),
                            headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"


def test_no_token_with_a_key_is_401_and_stores_no_key(client, demo, app):
    response = client.post("/api/tickets", json=ticket_body(demo),
                           headers={"Idempotency-Key": "anon"})
    assert response.status_code == 401
    assert _keys(app) == []


def test_refusals_are_replayed_too(client, auth, make_ticket, snapshot):
    """A 409 answered once is answered again, even if the ticket has moved on since."""
    ticket_id = make_ticket("OPEN")
    headers = _with_key(auth("landlord"), "approve-early")
    first = client.post(f"/api/tickets/{ticket_id}/approve", json={}, headers=headers)
    assert first.status_code == 409
    again = client.post(f"/api/tickets/{ticket_id}/approve", json={}, headers=headers)
    assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()


def test_approve_retry_replays_without_a_second_approval(client, auth, make_ticket, snapshot,
                                                        events):
    ticket_id = make_ticket("QUOTED")
    headers = _with_key(auth("landlord"), "approve-1")
    first = client.post(f"/api/tickets/{ticket_id}/approve", json={}, headers=headers)
    assert first.status_code == 200 and first.get_json()["status"] == "APPROVED"
    again = client.post(f"/api/tickets/{ticket_id}/approve", json={}, headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert [e["type"] for e in events(ticket_id)] == ["ticket.approved"]
    # Without the key, a second approval is refused by the state machine instead.
    plain = client.post(f"/api/tickets/{ticket_id}/approve", json={}, headers=auth("landlord"))
    assert plain.status_code == 409


def _concurrent_creates(app, demo, key):
    headers = _with_key(login_as(app.test_client(), "tenant"), key)

    def attempt(_i, client):
        response = client.post("/api/tickets", json=ticket_body(demo), headers=headers)
        return (response.status_code, response.headers.get("Idempotent-Replayed"),
                response.get_json())

    return run_together(app, 20, attempt)


def _assert_one_created(results, snapshot, before):
    fresh = [body for code, replayed, body in results if code == 201 and replayed is None]
    replays = [body for code, replayed, body in results if code == 201 and replayed == "true"]
    busy = [body for code, _replayed, body in results if code == 409]
    assert len(fresh) == 1, [r[:2] for r in results]
    assert len(fresh) + len(replays) + len(busy) == 20, [r[:2] for r in results]
    assert all(body == fresh[0] for body in replays)
    assert all(b["error"]["code"] == "idempotency_key_in_flight" for b in busy)
    after = snapshot()
    assert {t[0] for t in after["tickets"]} - {t[0] for t in before["tickets"]} == {fresh[0]["id"]}
    assert len(after["tickets"]) == len(before["tickets"]) + 1
    assert after["timeline"] == before["timeline"] + 1
    assert after["outbox"] == before["outbox"] + 1


def test_twenty_concurrent_identical_posts_create_one_ticket(app, demo, snapshot):
    for attempt in range(3):
        before = snapshot()
        _assert_one_created(_concurrent_creates(app, demo, f"burst-{attempt}"), snapshot, before)


def test_twenty_concurrent_retries_of_an_abandoned_key_create_one_ticket(app, demo, snapshot):
    """Several retries find the same stale in-flight key at once: one takes it over."""
    for attempt in range(3):
        key = f"abandoned-{attempt}"
        with app.app_context():
            db.session.add(IdempotencyKey(
                user_id=db.session.execute(sa.text("SELECT id FROM users WHERE email = :e"),
                                           {"e": "tenant@example.com"}).scalar_one(),
                key=key, method="POST", path="/api/tickets", state="IN_FLIGHT",
                request_hash=_hash_of_create(app, demo),
                created_at=utcnow() - timedelta(hours=1)))
            db.session.commit()
            db.session.remove()
        before = snapshot()
        results = _concurrent_creates(app, demo, key)
        assert not [r for r in results if r[0] >= 500], [r[:2] for r in results]
        _assert_one_created(results, snapshot, before)


def _hash_of_create(app, demo):
    """The request hash that a first, crashed attempt of the same POST would have stored."""
    from portal.idempotency import _request_hash

    body = app.json.dumps(ticket_body(demo)).encode()
    with app.test_request_context("/api/tickets", method="POST", data=body,
                                  content_type="application/json"):
        return _request_hash()


def test_expired_keys_are_purged(app, client, auth, demo):
    headers = _with_key(auth("tenant"), "old")
    client.post("/api/tickets", json=ticket_body(demo), headers=headers)
    client.post("/api/tickets", json=ticket_body(demo), headers=_with_key(headers, "new"))
    _set_key(app, "old", created_at=utcnow() - timedelta(hours=25))
    with app.app_context():
        assert purge_expired() == 1
        db.session.remove()
    assert [k[1] for k in _keys(app)] == ["new"]
    # The purged key is free again: the same request now runs anew.
    again = client.post("/api/tickets", json=ticket_body(demo), headers=headers)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers


def test_no_transaction_is_open_while_the_token_is_checked(app, client, auth, demo,
                                                           monkeypatch):
    # The claim commits; reading the claimed row's id afterwards reloaded it and opened a
    # transaction (on SQLite the write lock) that the view then held across its Redis lookup.
    from portal.auth import tokens
    seen = []
    original = tokens.is_session_revoked

    def spy(session_id):
        seen.append(db.session().in_transaction())
        return original(session_id)
    headers = _with_key(auth("tenant"), "tx-1")
    monkeypatch.setattr(tokens, "is_session_revoked", spy)
    response = client.post("/api/tickets", json=ticket_body(demo), headers=headers)
    assert response.status_code == 201
    assert seen and not any(seen), seen


def test_a_keyed_post_checks_the_token_once_for_the_hook_and_the_view(client, auth, demo,
                                                                        revocation_lookups):
    headers = _with_key(auth("tenant"), "once-1")
    revocation_lookups.clear()
    assert client.post("/api/tickets", json=ticket_body(demo), headers=headers).status_code == 201
    assert len(revocation_lookups) == 1


def test_a_keyed_post_with_a_logged_out_token_is_refused_before_a_key_is_claimed(app, client,
                                                                                  auth, demo):
    headers = auth("tenant")
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    refused = client.post("/api/tickets", json=ticket_body(demo),
                          headers=_with_key(headers, "after-logout"))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "token_revoked"
    assert _keys(app) == []


def test_each_request_verifies_its_own_token_even_in_a_shared_app_context(app, client, auth, demo):
    """A test's app context is shared by its requests: nothing of one caller may carry over."""
    tenant, landlord = auth("tenant"), auth("landlord")
    with app.app_context():
        assert client.get("/api/auth/me", headers=tenant).get_json()["role"] == "TENANT"
        assert client.get("/api/auth/me", headers=landlord).get_json()["role"] == "LANDLORD"
        assert client.post("/api/tickets", json=ticket_body(demo),
                           headers=_with_key(tenant, "shared-ctx")).status_code == 201
        # No token at all (a client without the login cookies): nothing is left over to reuse.
        assert app.test_client().get("/api/tickets").status_code == 401
