"""Hostile input on every endpoint family: always a 4xx in the error shape, never a 500, and
nothing written. Text the database cannot store (NUL, unpaired surrogates) was a 500 on
PostgreSQL (NUL) and on both databases (surrogates); forged cursors were a 500 everywhere."""
import base64
import json

import pytest
import sqlalchemy as sa

from portal.auth.principal import Principal
from portal.extensions import db

# Tables a refused request must leave as they were (idempotency keys are not used here).
WRITTEN = ("tickets", "ticket_timeline", "outbox_events", "invoices", "invoice_lines",
           "invoice_counters", "payments", "webhook_deliveries", "idempotency_keys")


def _counts(app):
    with app.app_context():
        counts = {t: db.session.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar()
                  for t in WRITTEN}
        db.session.remove()
        return counts


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _assert_refused(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] and error["message"]
    return error


def _bodies(demo):
    """(login, method, path, a valid body) for each JSON-taking POST of these areas."""
    return [
        ("tenant", "post", "/api/tickets",
         {"propertyId": demo["prop1"], "title": "Leak", "description": "Drips.",
          "priority": "LOW"}),
        ("landlord", "post", "/api/finance/invoices",
         {"tenancyId": demo["ten1"], "issueDate": "2025-11-01", "dueDate": "2025-11-30",
          "lines": [{"description": "Rent", "qty": 1, "unitPrice": 10, "taxRate": 0}]}),
        (None, "post", "/api/auth/login", {"email": "tenant@example.com", "password": "x"}),
    ]


UNSTORABLE = ["a\x00b", "\ud800", "ok\udfff"]


@pytest.mark.parametrize("text", UNSTORABLE)
def test_unstorable_text_in_any_body_field_is_422(app, client, auth, demo, text):
    before = _counts(app)
    for login, method, path, body in _bodies(demo):
        headers = auth(login) if login else {}
        for field in body:
            bad = dict(body, **{field: text})
            response = getattr(client, method)(path, json=bad, headers=headers)
            error = _assert_refused(response, 422)
            assert field in error["details"], (path, field, error)
        # Nested too: a line's description, and a field *name*.
        nested = json.loads(json.dumps(body))
        if "lines" in nested:
            nested["lines"][0]["description"] = text
            assert getattr(client, method)(path, json=nested, headers=headers).status_code == 422
        response = getattr(client, method)(path, json={**body, text: 1}, headers=headers)
        _assert_refused(response, 422)
    # The escaped form that a JSON encoder writes for a lone surrogate reaches the same guard.
    raw = '{"propertyId": "%s", "title": "a\\ud800", "description": "b", "priority": "LOW"}'
    response = client.post("/api/tickets", data=raw % demo["prop1"],
                           content_type="application/json", headers=auth("tenant"))
    _assert_refused(response, 422)
    assert _counts(app) == before


@pytest.mark.parametrize("path", [
    "/api/tickets/tkt%00x", "/api/tickets/tkt%00x/timeline", "/api/finance/invoices/inv%00",
])
def test_nul_in_a_path_id_is_404(client, auth, path):
    _assert_refused(client.get(path, headers=auth("landlord")), 404)


def test_nul_in_a_write_path_is_404_and_writes_nothing(app, client, auth):
    before = _counts(app)
    for path, body in [("/api/tickets/tkt%00/assign", {"contractorId": "ctr_x"}),
                       ("/api/tickets/tkt%00/approve", {}),
                       ("/api/finance/invoices/inv%00/void", {})]:
        _assert_refused(client.post(path, json=body, headers=auth("landlord")), 404)
    _assert_refused(client.patch("/api/tickets/tkt%00/status", json={"to": "TRIAGED"},
                                 headers=auth("landlord")), 404)
    assert _counts(app) == before


@pytest.mark.parametrize("query", [
    "/api/tickets?propertyId=%00", "/api/finance/invoices?tenancyId=a%00",
    "/api/finance/payments?invoiceId=%00", "/api/tickets?%00=1",
])
def test_nul_in_a_query_parameter_is_422(client, auth, query):
    _assert_refused(client.get(query, headers=auth("landlord")), 422)


FORGED_CURSORS = [
    [1, "tkt_x"],                                  # the time is not a string
    ["2025-01-01T00:00:00", 5],                    # the id is not a string
    ["2025-01-01T00:00:00", "a\x00b"],             # NUL: PostgreSQL refuses it
    ["2025-01-01T00:00:00", "\ud800"],             # not encodable at all
    ["2025-01-01T00:00:00+05:00", "tkt_x"],        # aware: we never issue one
    ["not a time", "tkt_x"],
    {"a": 1},
    "just a string",
]


@pytest.mark.parametrize("cursor", FORGED_CURSORS, ids=range(len(FORGED_CURSORS)))
@pytest.mark.parametrize("path", ["/api/tickets", "/api/finance/invoices",
                                  "/api/finance/payments"])
def test_forged_cursors_are_422(client, auth, path, cursor):
    response = client.get(f"{path}?cursor={_cursor(cursor)}", headers=auth("landlord"))
    assert "cursor" in _assert_refused(response, 422)["details"]


def test_issued_cursors_still_page(client, auth, demo):
    for _ in range(3):
        client.post("/api/tickets", json=_bodies(demo)[0][3], headers=auth("tenant"))
    first = client.get("/api/tickets?limit=2", headers=auth("landlord")).get_json()
    rest = client.get(f"/api/tickets?limit=2&cursor={first['nextCursor']}",
                      headers=auth("landlord"))
    assert rest.status_code == 200 and len(rest.get_json()["items"]) == 1


@pytest.mark.parametrize("claims", [{"role": "TENANT"}, {"sub": "usr_x"},
                                    {"sub": "usr_x", "role": "ADMIN"}])
def test_a_token_without_user_or_role_is_401(claims):
    from portal.errors import Unauthorized
    with pytest.raises(Unauthorized):
        Principal.from_claims({"sid": "s", **claims})


def test_a_signed_token_without_a_role_is_401_not_500(app, client):
    from flask_jwt_extended import create_access_token
    with app.app_context():
        token = create_access_token(identity="usr_nobody", additional_claims={"sid": "s1"})
    for path in ("/api/tickets", "/api/finance/invoices", "/api/auth/me"):
        response = app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
        _assert_refused(response, 401)


@pytest.mark.parametrize("depth,statuses", [(40, {422}), (600, {422}), (990, {400, 422}),
                                            (100_000, {400})])
@pytest.mark.parametrize("login,path", [("tenant", "/api/tickets"),
                                        ("landlord", "/api/finance/invoices"),
                                        (None, "/api/auth/login"),
                                        (None, "/api/finance/payments/webhook")])
def test_deeply_nested_bodies_are_refused_not_a_500(app, client, auth, monkeypatch, depth,
                                                    statuses, login, path):
    # Past the parser's recursion limit json raises RecursionError, not ValueError: was a 500.
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_UNSIGNED", True)
    before = _counts(app)
    body = '{"title": ' + "[" * depth + "]" * depth + "}"
    response = client.post(path, data=body, content_type="application/json",
                           headers=auth(login) if login else {})
    assert response.status_code in statuses, response.get_data(as_text=True)[:200]
    assert response.get_json()["error"]["code"] in ("invalid_json", "validation_error")
    assert _counts(app) == before
