"""Plain stream connects skip Flask's request cycle; everything else is answered by Flask as before."""
from datetime import timedelta

import gevent
import pytest
from flask_jwt_extended import create_access_token, create_refresh_token

from portal import create_app
from portal.auth import tokens
from portal.auth.models import User
from portal.auth.tokens import user_claims
from portal.events.batch import Batch
from portal.extensions import db, redis_client
from tests.helpers import config_for, login_as


def stream_app(database_url, redis_url, **overrides):
    """An app of its own whose before-request hooks are counted (the fast path runs none)."""
    app = create_app("testing", config_for(database_url, redis_url, REDIS_PREFIX="fast:",
                                           SSE_GC_FREEZE=False, SSE_MAX_STREAMS_PER_USER=50,
                                           **overrides))
    app.hooks_run = 0

    @app.before_request
    def _count():
        app.hooks_run += 1
    return app


@pytest.fixture(scope="module")
def apps(app, database_url, redis_url):
    """The same settings with the fast path on and off (and on, with CORS configured)."""
    made = {True: stream_app(database_url, redis_url),
            False: stream_app(database_url, redis_url, SSE_FAST_OPEN=False),
            "cors": stream_app(database_url, redis_url, CORS_ORIGINS=["https://app.example"])}
    yield made
    for each in made.values():
        hub = each.extensions.get("event_hub")
        if hub:
            hub.stop()


def connect(app, headers=None, path="/api/events", method="GET", cookie=None):
    """(status, headers without Date, first chunk or JSON body, request hooks run)."""
    client = app.test_client()
    if cookie is not None:  # the test client sends its own jar, never a Cookie header
        client.set_cookie("access_token_cookie", cookie)
    before = app.hooks_run
    response = client.open(path, method=method, headers=headers or {}, buffered=False)
    try:
        if method == "HEAD":
            first = response.get_data()
        elif response.status_code == 200:
            first = next(iter(response.response))
        else:
            first = response.get_json()
        return (response.status_code, [h for h in response.headers if h[0] != "Date"], first,
                app.hooks_run - before)
    finally:
        response.close()


def token_for(app, name, **kwargs):
    with app.app_context():
        user = db.session.query(User).filter_by(email=f"{name}@example.com").one()
        claims = {**user_claims(user), "sid": kwargs.pop("sid", "sess-fast-open")}
        maker = kwargs.pop("maker", create_access_token)
        token = maker(identity=user.id, additional_claims=claims, **kwargs)
        db.session.remove()
    return token


def test_a_plain_connect_skips_the_request_hooks_and_answers_exactly_like_flask(apps, demo):
    for how in (lambda app: {"headers": login_as(app.test_client(), "tenant")},
                lambda app: {"cookie": token_for(app, "landlord")}):
        fast, slow = (connect(apps[on], **how(apps[on])) for on in (True, False))
        assert fast[0] == slow[0] == 200
        assert fast[1] == slow[1]  # the same headers, in the same order
        assert fast[2] == slow[2] and b'"type":"connected"' in fast[2]
        assert (fast[3], slow[3]) == (0, 1)


def test_a_missed_event_id_in_the_query_still_takes_the_fast_path(apps, demo):
    headers = login_as(apps[True].test_client(), "tenant")
    status, _h, first, hooks = connect(apps[True], headers, "/api/events?lastEventId=1-0")
    assert (status, hooks) == (200, 0) and first.startswith(b"retry:")


@pytest.mark.parametrize("case", ["no token", "expired", "refresh token", "bad signature",
                                  "revoked", "two bearer values", "other query", "head"])
def test_anything_else_is_answered_by_flask_as_with_the_fast_path_off(apps, demo, case):
    def request_for(app):
        path = "/api/events"
        good = {"Authorization": "Bearer " + token_for(app, "tenant")}
        headers = {
            "no token": {},
            "expired": {"Authorization": "Bearer " + token_for(
                app, "tenant", expires_delta=timedelta(seconds=-60))},
            "refresh token": {"Authorization": "Bearer " + token_for(
                app, "tenant", maker=create_refresh_token)},
            "bad signature": {"Authorization": "Bearer " + token_for(app, "tenant")[:-4] + "AAAA"},
            "revoked": {"Authorization": "Bearer " + token_for(app, "tenant", sid="sess-gone")},
            "two bearer values": {"Authorization": good["Authorization"] + ", Bearer x.y.z"},
            "other query": good, "head": good,
        }[case]
        if case == "other query":
            path += "?lastEventId=1-0&x=1"
        if case == "revoked":
            with app.app_context():
                tokens.mark_revoked(redis_client.conn, "sess-gone", 60)
        return connect(app, headers, path, "HEAD" if case == "head" else "GET")
    fast, slow = request_for(apps[True]), request_for(apps[False])
    assert fast[0] == slow[0] and fast[1] == slow[1] and fast[2] == slow[2]
    assert fast[3] == 1  # Flask's request cycle ran: the fast path declined
    if case in ("no token", "expired", "refresh token", "bad signature", "revoked"):
        assert fast[0] in (401, 422), fast


def test_with_cors_configured_every_stream_gets_flask_cors_headers(apps, demo):
    for origin in ({}, {"Origin": "https://app.example"}):
        headers = {**login_as(apps["cors"].test_client(), "tenant"), **origin}
        status, answered, _first, hooks = connect(apps["cors"], headers)
        assert (status, hooks) == (200, 1)
        assert ("Access-Control-Allow-Origin", "https://app.example") in answered


def test_greenlets_asking_in_the_same_turn_share_one_lookup():
    calls = []

    def lookup_many(keys):
        calls.append(list(keys))
        gevent.sleep(0)  # a round trip: other greenlets run meanwhile
        return [key.startswith("gone") for key in keys]
    batch = Batch(lookup_many)
    batch.cooperative = True  # as under gunicorn's gevent worker (patched sockets)
    keys = [f"live-{i % 7}" for i in range(40)] + ["gone-1", "gone-2"]
    jobs = [gevent.spawn(batch, key) for key in keys]
    gevent.joinall(jobs, timeout=5, raise_error=True)
    assert [job.value for job in jobs] == [key.startswith("gone") for key in keys]
    assert len(calls) == 1 and sorted(calls[0]) == sorted(set(keys))
    again = gevent.spawn(batch, "live-1")  # a later turn makes its own lookup
    again.join(timeout=5)
    assert again.value is False and len(calls) == 2


def test_a_failed_lookup_raises_in_every_waiter():
    def lookup_many(keys):
        raise ConnectionError("redis down")
    batch = Batch(lookup_many)
    batch.cooperative = True
    jobs = [gevent.spawn(batch, f"s{i}") for i in range(5)]
    gevent.joinall(jobs, timeout=5)
    assert all(isinstance(job.exception, ConnectionError) for job in jobs)
    assert batch.pending == {} and batch.flusher is None


def test_revoked_sessions_answers_each_session_from_redis(apps):
    with apps[True].app_context():
        tokens.mark_revoked(redis_client.conn, "sess-batch-gone", 60)
        assert tokens.revoked_sessions(["sess-batch-live", "sess-batch-gone"]) == [False, True]


def test_with_a_window_callers_of_later_turns_share_the_lookup_too():
    calls = []

    def lookup_many(keys):
        calls.append(sorted(keys))
        return [False] * len(keys)
    batch = Batch(lookup_many, window_s=0.05)
    batch.cooperative = True
    jobs = []
    for i in range(5):  # one caller per turn, 1 ms apart: each alone in its turn
        jobs.append(gevent.spawn(batch, f"s{i}"))
        gevent.sleep(0.001)
    gevent.joinall(jobs, timeout=5, raise_error=True)
    assert [job.value for job in jobs] == [False] * 5
    assert calls == [["s0", "s1", "s2", "s3", "s4"]]
    without = Batch(lookup_many)
    without.cooperative = True
    jobs = []
    for i in range(3):
        jobs.append(gevent.spawn(without, f"t{i}"))
        gevent.sleep(0.001)
    gevent.joinall(jobs, timeout=5, raise_error=True)
    assert calls[1:] == [["t0"], ["t1"], ["t2"]]
