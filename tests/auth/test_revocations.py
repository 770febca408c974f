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
    """(tokens, the access token's Authorization header) of a session that just logged out."""
    body = _login(client, name)
    headers = {"Authorization": f"Bearer {body['accessToken']}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    return body, headers


def _session_id(app, token):
    from flask_jwt_extended import decode_token
    with app.app_context():
        return decode_token(token, allow_expired=True)["sid"]


def _forget_in_redis(app, *session_ids):
    """What a Redis restart without persistence (or an old snapshot) does to these logouts."""
    with app.app_context():
        redis_client.conn.delete(*[tokens.revoked_key(sid) for sid in session_ids])


def _rows(app):
    with app.app_context():
        rows = db.session.execute(sa.select(RevokedSession)).scalars().all()
        db.session.remove()
        return {row.session_id: row for row in rows}


def _closing_entries(app, session_id):
    """The control entries in the event stream that close this session's streams."""
    from portal.events.redis_stream import stream_key
    with app.app_context():
        return [fields for _id, fields in redis_client.conn.xrange(stream_key())
                if fields["t"] == "control.session_revoked"
                and fields["a"] == f"session:{session_id}"]


def test_logout_is_recorded_until_the_refresh_token_would_have_expired(app, client, demo):
    body, _headers = _logged_out_session(client)
    sid = _session_id(app, body["accessToken"])
    row = _rows(app)[sid]
    lifetime = app.config["JWT_REFRESH_TOKEN_EXPIRES"] + timedelta(seconds=60)
    assert abs((row.expires_at - row.revoked_at) - lifetime) < timedelta(seconds=1)
    # Redis needs it only while an access token of the session can be alive.
    with app.app_context():
        ttl = redis_client.conn.ttl(tokens.revoked_key(sid))
    window = app.config["JWT_ACCESS_TOKEN_EXPIRES"] + timedelta(seconds=60)
    assert window.total_seconds() - 5 <= ttl <= window.total_seconds()


def test_a_refresh_token_stays_refused_after_redis_forgot_the_logout(app, client, demo):
    body, _headers = _logged_out_session(client)
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


def test_the_beat_puts_back_what_redis_lost_even_if_it_kept_other_logouts(app, client, demo):
    lost_body, lost_headers = _logged_out_session(client, "tenant")
    kept_body, _kept_headers = _logged_out_session(client, "landlord")
    lost, kept = (_session_id(app, b["accessToken"]) for b in (lost_body, kept_body))
    _forget_in_redis(app, lost)  # partial loss: an older snapshot, a failover, an eviction
    # The window: the forgotten access token works again...
    assert app.test_client().get("/api/auth/me", headers=lost_headers).status_code == 200
    closing_before = len(_closing_entries(app, lost))
    with app.app_context():
        assert revocations.restore() == 1  # only the lost one was missing
        ttl = redis_client.conn.ttl(tokens.revoked_key(lost))
        assert 0 < ttl <= tokens.revocation_window().total_seconds()
        assert revocations.restore() == 0  # nothing missing now
    # ...until the beat's next run: refused again, and streams opened meanwhile are closed.
    refused = app.test_client().get("/api/auth/me", headers=lost_headers)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "token_revoked"
    assert len(_closing_entries(app, lost)) == closing_before + 1
    assert len(_closing_entries(app, kept)) == 1  # the logout's own: Redis still had it


def test_only_logouts_an_access_token_can_outlive_are_put_back(app, client, demo):
    body, _headers = _logged_out_session(client)
    sid = _session_id(app, body["accessToken"])
    window = app.config["JWT_ACCESS_TOKEN_EXPIRES"] + timedelta(seconds=60)
    with app.app_context():
        old = utcnow() - window - timedelta(seconds=1)
        db.session.add(RevokedSession(session_id="old-session", revoked_at=old,
                                      expires_at=utcnow() + timedelta(days=1)))
        db.session.add(RevokedSession(session_id="expired-session", revoked_at=old,
                                      expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    _forget_in_redis(app, sid, "old-session", "expired-session")
    with app.app_context():
        assert revocations.restore() == 1
        assert redis_client.conn.exists(tokens.revoked_key(sid))
        assert not redis_client.conn.exists(tokens.revoked_key("old-session"))
        assert revocations.purge_expired() == 1
        db.session.remove()
    # The old one still refuses its refresh token from the table; the expired one is gone.
    assert "expired-session" not in _rows(app) and {"old-session", sid} <= set(_rows(app))
    with app.app_context():
        assert revocations.is_recorded("old-session") and not revocations.is_recorded("nope")
