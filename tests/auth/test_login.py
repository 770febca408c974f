"""Login, me, refresh and logout over HTTP."""
from tests.helpers import login_as

ROLES = {"landlord": "LANDLORD", "landlord2": "LANDLORD", "tenant": "TENANT",
         "tenant2": "TENANT", "contractor": "CONTRACTOR", "ops": "OPS"}


def test_each_demo_user_logs_in_and_sees_itself(client, demo):
    for name, role in ROLES.items():
        response = client.post("/api/auth/login",
                               json={"email": f"{name}@example.com", "password": "password123"})
        assert response.status_code == 200
        body = response.get_json()
        assert body["accessToken"] and body["refreshToken"]
        user = body["user"]
        assert user["role"] == role and user["email"] == f"{name}@example.com"
        assert set(user) == {"id", "email", "name", "role", "landlordId", "tenantId",
                             "contractorId"}
        assert user["id"].startswith("usr_")
        me = client.get("/api/auth/me",
                        headers={"Authorization": "Bearer " + body["accessToken"]})
        assert me.status_code == 200 and me.get_json() == user


def test_org_ids_follow_the_role(client, demo):
    user = client.post("/api/auth/login", json={"email": "tenant@example.com",
                                                "password": "password123"}).get_json()["user"]
    assert user["tenantId"] == demo["ten1"] and user["landlordId"] is None
    assert user["contractorId"] is None
    user = client.post("/api/auth/login", json={"email": "contractor@example.com",
                                                "password": "password123"}).get_json()["user"]
    assert user["contractorId"] == demo["ctr"] and user["tenantId"] is None


def test_wrong_password_and_unknown_user_answer_the_same_401(client):
    wrong = client.post("/api/auth/login", json={"email": "tenant@example.com", "password": "x"})
    unknown = client.post("/api/auth/login", json={"email": "who@example.com", "password": "x"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_credentials"
    assert wrong.get_json() == unknown.get_json()


def test_logout_revokes_access_and_refresh_tokens(client):
    login = client.post("/api/auth/login", json={"email": "tenant@example.com",
                                                 "password": "password123"}).get_json()
    headers = {"Authorization": "Bearer " + login["accessToken"]}
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    me = client.get("/api/auth/me", headers=headers)
    assert me.status_code == 401 and me.get_json()["error"]["code"] == "token_revoked"
    refreshed = client.post("/api/auth/refresh", json={"refreshToken": login["refreshToken"]})
    assert refreshed.status_code == 401
    # Another session of the same user is untouched.
    assert client.get("/api/auth/me", headers=login_as(client, "tenant")).status_code == 200


def test_no_transaction_is_open_during_the_slow_password_check(app, client, monkeypatch):
    # On SQLite every transaction holds the write lock; the hash check takes tens of ms.
    from portal.auth import models
    from portal.extensions import db
    seen = []
    original = models.check_password_hash

    def spy(stored, password):
        seen.append(db.session().in_transaction())
        return original(stored, password)
    monkeypatch.setattr(models, "check_password_hash", spy)
    for password, status in (("password123", 200), ("wrong", 401)):
        response = client.post("/api/auth/login",
                               json={"email": "tenant@example.com", "password": password})
        assert response.status_code == status
    assert seen == [False, False]
