"""Logouts survive Redis forgetting them (a restart without persistence): the database keeps them."""
from datetime import timedelta

import sqlalchemy as sa

from portal.auth import revocations, tokens
from portal.auth.models import RevokedSession
from portal.database import utcnow
from portal.extensions import db, redis_client


def _login(client, name="tenant"):
    response = client.post("/api/auth/login",
                           json={"email": f"{name}@example.com", "password": "password123"})
    assert response.status_code == 200
    return response.get_json()


def _logged_out_session(client, name="tenant"):
    """(tokens, session id) of a session that has just logged out."""
    body = _login(client, name)
    headers = {"Authorization": f"Bearer {body['accessToken']}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    return body, body["user"]["id"], headers


def _session_id(app, token):
    from flask_jwt_extended import decode_token
    with app.app_context():
        return decode_token(token, allow_expired=True)["sid"]


def _forget_in_redis(app, *session_ids):
    """What a Redis restart without persistence does to these logouts (and to the sentinel)."""
    with app.app_context():
        redis_client.conn.delete(*[tokens._revoked_key(sid) for sid in session_ids],
                                 revocations._sentinel())


def _rows(app):
    with app.app_context():
        rows = db.session.execute(sa.select(RevokedSession)).scalars().all()
        db.session.remove()
        return {row.session_id: row for row in rows}


def test_logout_is_recorded_until_the_refresh_token_would_have_expired(app, client, demo):
    body, _user_id, _headers = _logged_out_session(client)
    sid = _session_id(app, body["accessToken"])
    row = _rows(app)[sid]
    lifetime = app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    assert abs((row.expires_at - row.revoked_at) - lifetime - timedelta(seconds=60)) < \
        timedelta(seconds=1)


def test_a_refresh_token_stays_refused_after_redis_forgot_the_logout(app, client, demo):
    body, _user_id, _headers = _logged_out_session(client)
    _forget_in_redis(app, _session_id(app, body["accessToken"]))
    for kwargs in ({"json": {"refreshToken": body["refreshToken"]}},
                   {"headers": {"Authorization": f"Bearer {body['refreshToken']}"}}):
        response = app.test_client().post("/api/auth/refresh", **kwargs)
        assert response.status_code == 401, kwargs
        assert response.get_json()["error"]["code"] == "token_revoked"
    # A session that never logged out refreshes as before.
    fresh = _login(client, "landlord")
    assert client.post("/api/auth/refresh",
                       json={"refreshToken": fresh["refreshToken"]}).status_code == 200


def test_the_beat_puts_forgotten_logouts_back_into_redis(app, client, demo):
    body, _user_id, headers = _logged_out_session(client)
    sid = _session_id(app, body["accessToken"])
    _forget_in_redis(app, sid)
    # The window a restart opens: the forgotten access token works again...
    assert app.test_client().get("/api/auth/me", headers=headers).status_code == 200
    with app.app_context():
        assert revocations.restore() >= 1
        assert 0 < redis_client.conn.ttl(tokens._revoked_key(sid)) <= int(
            tokens.revocation_ttl().total_seconds())
        assert revocations.restore() == 0  # Redis has them: nothing to do until it forgets again
    # ...until the beat's next run closes it.
    refused = app.test_client().get("/api/auth/me", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "token_revoked"


def test_expired_revocations_are_purged_and_never_restored(app, client, demo):
    body, _user_id, _headers = _logged_out_session(client)
    sid = _session_id(app, body["accessToken"])
    with app.app_context():
        db.session.add(RevokedSession(session_id="old-session", revoked_at=utcnow(),
                                      expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    _forget_in_redis(app, sid, "old-session")
    with app.app_context():
        revocations.restore()
        assert not redis_client.conn.exists(tokens._revoked_key("old-session"))
        assert redis_client.conn.exists(tokens._revoked_key(sid))
        assert revocations.purge_expired() == 1
        db.session.remove()
    assert "old-session" not in _rows(app) and sid in _rows(app)
