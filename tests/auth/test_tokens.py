"""Token validation: expired, forged, wrong type, refresh, cookies with CSRF, rate limiting."""
from datetime import timedelta

import jwt as pyjwt
from flask_jwt_extended import create_access_token

from tests.helpers import login_as


def _login(client, name="tenant"):
    return client.post("/api/auth/login",
                       json={"email": f"{name}@example.com", "password": "password123"})


def test_no_token_is_401(client):
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_expired_token_is_401(app, client, demo):
    with app.app_context():
        token = create_access_token(identity=demo["users"]["tenant"],
                                    additional_claims={"role": "TENANT", "sid": "s1"},
                                    expires_delta=timedelta(seconds=-5))
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_expired"


def test_forged_token_is_401(client, demo):
    forged = pyjwt.encode({"sub": demo["users"]["ops"], "role": "OPS", "sid": "x",
                           "type": "access", "exp": 4102444800}, "not-our-secret-0123456789abcdef-xyz",
                          algorithm="HS256")
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


def test_malformed_authorization_header_is_400(client):
    response = client.get("/api/auth/me", headers={"Authorization": "Bearer a b"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_header"


def test_refresh_token_is_not_an_access_token(client):
    refresh = _login(client).get_json()["refreshToken"]
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {refresh}"})
    assert response.status_code == 401
    assert "error" in response.get_json()


def test_refresh_gives_a_working_access_token(client):
    refresh = _login(client).get_json()["refreshToken"]
    client.delete_cookie("access_token_cookie", path="/api/")
    for kwargs in ({"json": {"refreshToken": refresh}},
                   {"headers": {"Authorization": f"Bearer {refresh}"}}):
        response = client.post("/api/auth/refresh", **kwargs)
        assert response.status_code == 200, response.get_json()
        access = response.get_json()["accessToken"]
        me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {access}"})
        assert me.status_code == 200 and me.get_json()["email"] == "tenant@example.com"


def test_access_token_cannot_refresh(client):
    access = _login(client).get_json()["accessToken"]
    response = client.post("/api/auth/refresh", json={"refreshToken": access})
    assert response.status_code == 401


def test_garbage_refresh_token_is_401(client):
    response = client.post("/api/auth/refresh", json={"refreshToken": "not.a.token"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] in ("invalid_token", "unauthorized")


def test_cookie_login_reads_and_needs_csrf_to_write(client):
    _login(client)
    assert client.get("/api/auth/me").status_code == 200  # the HttpOnly cookie alone
    refused = client.post("/api/auth/logout")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    csrf = client.get_cookie("csrf_access_token", path="/").value
    accepted = client.post("/api/auth/logout", headers={"X-CSRF-TOKEN": csrf})
    assert accepted.status_code == 200


def test_login_cookie_is_httponly(client):
    response = _login(client)
    cookies = response.headers.getlist("Set-Cookie")
    access = next(c for c in cookies if c.startswith("access_token_cookie="))
    assert "HttpOnly" in access and "Path=/" in access.split("; ")  # pages too


def test_login_is_rate_limited(app, client):
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    statuses = [client.post("/api/auth/login",
                            json={"email": "tenant@example.com", "password": "nope"}).status_code
                for _ in range(limit + 1)]
    assert statuses[:limit] == [401] * limit
    assert statuses[-1] == 429
    limited = client.post("/api/auth/login",
                          json={"email": "tenant@example.com", "password": "password123"})
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # The answers under the limit carry no Retry-After: there is nothing to wait for.
    first = client.post("/api/auth/login",
                        json={"email": "landlord2@example.com", "password": "password123"})
    assert first.status_code == 200 and "Retry-After" not in first.headers
    # Another account from the same address is not locked out.
    assert login_as(client, "landlord")


def test_login_bad_bodies(client):
    cases = [
        ({"data": "email=x", "content_type": "application/x-www-form-urlencoded"}, 400),
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"json": ["tenant@example.com"]}, 400),
        ({"json": {}}, 422),
        ({"json": {"email": "tenant@example.com"}}, 422),
        ({"json": {"email": 5, "password": True}}, 422),
        ({"json": {"email": "tenant@example.com", "password": "x", "role": "OPS"}}, 422),
    ]
    for kwargs, status in cases:
        response = client.post("/api/auth/login", **kwargs)
        assert response.status_code == status, (kwargs, response.get_json())
        error = response.get_json()["error"]
        assert error["code"] and error["message"]
        if status == 422:
            assert error["details"]


def test_validation_details_name_each_field(client):
    error = client.post("/api/auth/login", json={"email": 5}).get_json()["error"]
    assert set(error["details"]) == {"email", "password"}


def test_oversized_body_is_413(client):
    response = client.post("/api/auth/login", data="x" * (1024 * 1024 + 10),
                           content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
