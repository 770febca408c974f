"""Cross-origin use: only the origins in CORS_ORIGINS get CORS headers (credentials included),
on every API answer, preflights and the event stream too; none by default. Real HTTP requests
with Origin headers against gunicorn as the Procfile starts it."""
import http.client
import json

import pytest

from config import _list
from portal.seed import PASSWORD
from tests.helpers import free_port
from tests.integration import processes as proc

FRONT = "https://front.example.com"
OTHER = "http://127.0.0.1:8081"
STRANGER = "https://evil.example.net"


@pytest.fixture(scope="module")
def web(app, database_url, redis_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cors")
    port = free_port()
    env = proc.process_env(database_url, redis_url, CORS_ORIGINS=f" {FRONT}, {OTHER} ,",
                           SSE_HEARTBEAT_S=1)
    with proc.web(env, port, folder):
        proc.wait_for_web(f"http://127.0.0.1:{port}", worker=False)
        yield port


def call(port, method, path, headers=None, body=None, read=True):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = None if body is None else json.dumps(body)
    conn.request(method, path, body=data, headers={
        **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})})
    response = conn.getresponse()
    payload = response.read() if read else b""
    conn.close()
    return response.status, response.headers, payload


def cors_headers(headers):
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("access-control-")}


def test_the_setting_is_a_comma_separated_list():
    assert _list(f" {FRONT}, {OTHER} ,") == [FRONT, OTHER]
    assert _list("") == []


def test_a_listed_origin_may_call_with_credentials(web):
    for origin in (FRONT, OTHER):
        status, headers, body = call(web, "POST", "/api/auth/login", {"Origin": origin},
                                     {"email": "tenant@example.com", "password": PASSWORD})
        assert status == 200, body
        assert headers["Access-Control-Allow-Origin"] == origin
        assert headers["Access-Control-Allow-Credentials"] == "true"
        assert "Set-Cookie" in headers


def test_errors_carry_the_headers_too(web):
    status, headers, _ = call(web, "GET", "/api/tickets", {"Origin": FRONT})
    assert status == 401 and headers["Access-Control-Allow-Origin"] == FRONT


def test_a_preflight_allows_the_headers_the_api_reads(web):
    status, headers, _ = call(web, "OPTIONS", "/api/tickets", {
        "Origin": FRONT, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, "
                                          "x-csrf-token"})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == FRONT
    assert headers["Access-Control-Allow-Credentials"] == "true"
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-csrf-token"} <= allowed
    assert "PATCH" in headers["Access-Control-Allow-Methods"]


def test_an_unlisted_origin_gets_no_cors_headers(web):
    status, headers, _ = call(web, "POST", "/api/auth/login", {"Origin": STRANGER},
                              {"email": "tenant@example.com", "password": PASSWORD})
    assert status == 200 and cors_headers(headers) == {}
    status, headers, _ = call(web, "OPTIONS", "/api/tickets", {
        "Origin": STRANGER, "Access-Control-Request-Method": "POST"})
    assert cors_headers(headers) == {}


def test_the_event_stream_is_open_to_a_listed_origin_with_its_cookie(web):
    _, login, _ = call(web, "POST", "/api/auth/login", {"Origin": FRONT},
                       {"email": "tenant@example.com", "password": PASSWORD})
    cookies = "; ".join(value.split(";")[0] for key, value in login.items()
                        if key.lower() == "set-cookie")
    status, headers, _ = call(web, "GET", "/api/events", {"Origin": FRONT, "Cookie": cookies},
                              read=False)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert headers["Access-Control-Allow-Origin"] == FRONT
    assert headers["Access-Control-Allow-Credentials"] == "true"
    status, headers, _ = call(web, "GET", "/api/events", {"Origin": STRANGER, "Cookie": cookies},
                              read=False)
    assert status == 200 and cors_headers(headers) == {}


def test_no_origin_is_allowed_by_default(client):
    assert client.application.config["CORS_ORIGINS"] == []
    response = client.get("/api/health", headers={"Origin": FRONT})
    assert cors_headers(response.headers) == {}
