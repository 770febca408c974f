"""Pages through Flask's test client: sign-in, CSRF, errors as HTML, forms that refuse bad input,
and notifications that say what happened to what (the browser tests drive the same pages live)."""
import re

import pytest

from portal.auth.models import User
from portal.directory.models import Property
from portal.events import delivery, drain
from portal.events.models import OutboxEvent
from portal.extensions import db
from portal.notifications.models import Notification
from portal.seed import PASSWORD
from portal.tickets.models import Ticket


def sign_in(client, name, next_path=None):
    data = {"email": f"{name}@example.com", "password": PASSWORD}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/login", data=data)


def csrf(client):
    return client.get_cookie("csrf_access_token").value


def tickets_titled(app, title):
    with app.app_context():
        found = db.session.execute(db.select(Ticket).where(Ticket.title == title)).scalars().all()
        db.session.remove()
        return found


@pytest.mark.parametrize("path", ["/", "/maintenance", "/tickets/new", "/invoices",
                                  "/notifications", "/tickets/tkt_x"])
def test_signed_out_pages_send_the_browser_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    if path != "/":
        assert response.headers["Location"] == "/login?next=" + path


@pytest.mark.parametrize("next_path, lands", [
    ("/invoices", "/invoices"), ("//evil.example/x", "/maintenance"),
    ("https://evil.example/", "/maintenance"), ("/\\evil.example", "/maintenance"),
    ("javascript:alert(1)", "/maintenance")])
def test_sign_in_sets_the_api_cookies_and_follows_only_local_next(client, next_path, lands):
    response = sign_in(client, "tenant", next_path)
    assert response.status_code == 303 and response.headers["Location"] == lands
    access = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("access_token_cookie="))
    assert "HttpOnly" in access and "Path=/" in access.split("; ")
    assert client.get("/api/auth/me").get_json()["email"] == "tenant@example.com"


def test_wrong_password_shows_the_form_again(client):
    response = client.post("/login", data={"email": "tenant@example.com", "password": "nope"})
    assert response.status_code == 401
    assert b'name="email"' in response.data and b"Email or password is wrong." in response.data
    assert client.get("/maintenance").status_code == 302


def test_a_form_post_without_the_csrf_token_changes_nothing(app, client):
    sign_in(client, "tenant")
    form = {"title": "Forged report", "description": "x", "priority": "LOW"}
    refused = client.post("/tickets/new", data=form)
    assert refused.status_code == 403 and refused.content_type.startswith("text/html")
    wrong = client.post("/tickets/new", data={**form, "csrf_token": "not-the-token"})
    assert wrong.status_code == 403
    assert tickets_titled(app, "Forged report") == []
    accepted = client.post("/tickets/new", data={**form, "csrf_token": csrf(client)})
    assert accepted.status_code == 303
    assert len(tickets_titled(app, "Forged report")) == 1


def test_logout_revokes_the_session_for_the_api_too(client):
    sign_in(client, "landlord")
    token = csrf(client)
    assert client.post("/logout", data={"csrf_token": token}).headers["Location"] == "/login"
    client.set_cookie("csrf_access_token", token)  # even a kept cookie no longer works
    assert client.get("/maintenance").status_code == 302


def test_errors_are_pages_outside_the_api_and_json_inside(client):
    sign_in(client, "tenant")
    page = client.get("/tickets/tkt_missing")
    assert page.status_code == 404 and page.content_type.startswith("text/html")
    assert b"Page not found" in page.data
    assert client.get("/no/such/page").status_code == 404
    api = client.get("/api/tickets/tkt_missing")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_bad_input_reshows_the_form_with_messages_and_changes_nothing(app, client):
    sign_in(client, "tenant")
    response = client.post("/tickets/new", data={
        "csrf_token": csrf(client), "title": "  ", "description": "Drips", "priority": "SOON"})
    assert response.status_code == 422
    assert b"Please fill this in." in response.data and b"Must be one of" in response.data
    assert b'value="Drips"' not in response.data and b">Drips</textarea>" in response.data
    assert tickets_titled(app, "  ") == []

    sign_in(client, "landlord")
    response = client.post("/invoices", data={
        "csrf_token": csrf(client), "tenancyId": "ten_x", "issueDate": "2026-12-01",
        "dueDate": "2026-11-01", "description": "Rent", "qty": "1", "unitPrice": "lots"})
    assert response.status_code == 422 and b"Must be a number" in response.data


def test_a_tenant_sees_only_its_own_ticket_pages(client, demo):
    sign_in(client, "tenant")
    filed = client.post("/tickets/new", data={"csrf_token": csrf(client), "title": "Mould",
                                              "description": "Bathroom", "priority": "HIGH"})
    path = filed.headers["Location"]
    assert b"Mould" in client.get(path).data
    sign_in(client, "tenant2")
    assert client.get(path).status_code == 404
    assert b"Mould" not in client.get("/maintenance").data
    assert client.get("/fragments" + path).status_code == 404


@pytest.mark.parametrize("delivered_by", ["the relay, one at a time", "the worker, in a batch"])
def test_notifications_say_what_happened_to_what(app, client, demo, delivered_by):
    sign_in(client, "tenant")
    path = client.post("/tickets/new", data={
        "csrf_token": csrf(client), "title": "Leaking faucet in kitchen", "description": "Drips",
        "priority": "HIGH"}).headers["Location"]
    for name, action, form in (("landlord", "assign", {"contractorId": demo["ctr"]}),
                               ("landlord", "triage", {}),
                               ("contractor", "quote", {"amount": "150", "notes": "Washer"})):
        sign_in(client, name)
        response = client.post(f"{path}/{action}", data={"csrf_token": csrf(client), **form})
        assert response.status_code == 303, response.data
    with app.app_context():
        if delivered_by == "the worker, in a batch":  # every text read at once
            assert drain.drain() == 4
        for event_id in db.session.execute(db.select(OutboxEvent.id)).scalars().all():
            delivery.deliver_event(event_id)  # a no-op for those delivered already
        texts = set(db.session.execute(db.select(Notification.title, Notification.body).where(
            Notification.user_id == demo["users"]["tenant"])).all())
        place = db.session.get(Property, demo["prop1"]).name
        names = {who: db.session.get(User, demo["users"][who]).name
                 for who in ("landlord", "contractor")}
        db.session.remove()
    assert texts == {
        ("Leaking faucet in kitchen: assigned to FixIt Plumbing & Repairs",
         f"{place} · by {names['landlord']}"),
        ("Leaking faucet in kitchen: triaged", f"{place} · by {names['landlord']}"),
        ("Leaking faucet in kitchen: quote submitted (150.00)",
         f"{place} · by {names['contractor']}")}
    sign_in(client, "tenant")
    inbox = client.get("/notifications").data.decode()
    assert "quote submitted (150.00)" in inbox
    assert re.search(r'data-unread-count>\s*3\s*<', inbox)
