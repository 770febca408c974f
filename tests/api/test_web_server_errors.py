"""What a real gunicorn (as the Procfile starts it) answers to requests it refuses itself, before
the app sees them: the API's JSON error shape, never gunicorn's HTML page; and the longest query
the description allows still reaches the app."""
import json
import socket
from urllib.parse import quote

import pytest

from tests.helpers import free_port
from tests.integration import processes as proc


@pytest.fixture(scope="module")
def web(app, database_url, redis_url, tmp_path_factory):
    """(host, port) of a running web process."""
    folder = tmp_path_factory.mktemp("web-server-errors")
    port = free_port()
    env = proc.process_env(database_url, redis_url)
    with proc.web(env, port, folder):
        proc.wait_for_web(f"http://127.0.0.1:{port}", worker=False)
        yield "127.0.0.1", port


def raw(web, request: bytes):
    """(status, headers, body) of one raw HTTP/1.1 exchange."""
    with socket.create_connection(web, timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip()
                       for k, _, v in (line.partition(":") for line in lines[1:])}
            if b"\r\n\r\n" in data and len(body) >= int(headers.get("content-length", 1 << 30)):
                return int(lines[0].split()[1]), headers, body
    raise AssertionError(f"incomplete answer: {data[:200]!r}")


def get(web, target: str, extra_headers: str = "") -> bytes:
    return (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_headers}"
            "Connection: close\r\n\r\n").encode("latin-1")


def assert_json_error(answer, status, code):
    got, headers, body = answer
    assert got == status, body[:300]
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"]


def test_a_request_line_over_the_limit_is_a_json_414(web):
    assert_json_error(raw(web, get(web, "/api/tickets?cursor=" + "a" * 9000)), 414, "uri_too_long")


def test_too_many_headers_is_a_json_431(web):
    headers = "".join(f"X-Filler-{i}: {i}\r\n" for i in range(150))
    assert_json_error(raw(web, get(web, "/api/health", headers)), 431, "headers_too_large")


def test_a_header_too_big_is_a_json_431(web):
    assert_json_error(raw(web, get(web, "/api/health", "X-Big: " + "b" * 9000 + "\r\n")),
                      431, "headers_too_large")


def test_a_request_that_is_not_http_is_a_json_400(web):
    assert_json_error(raw(web, b"NOT HTTP AT ALL\r\n\r\n"), 400, "bad_request")


def test_the_longest_described_query_reaches_the_app(web):
    """A 500-character cursor of 4-byte characters and a 40-character id, percent-encoded:
    over gunicorn's default line limit (4,094 bytes), within ours; the app answers 401 (no
    token) and, with a token, judges the values itself."""
    cursor, tenancy = quote("\U0001F600" * 500), quote("\U0001F600" * 40)
    target = f"/api/finance/invoices?cursor={cursor}&tenancyId={tenancy}&status=SENT&limit=100"
    assert len(target) > 6000
    assert_json_error(raw(web, get(web, target)), 401, "unauthorized")
    status, body = proc.request(f"http://{web[0]}:{web[1]}", "POST", "/api/auth/login",
                                {"email": "landlord@example.com", "password": "password123"})
    token = body["accessToken"]
    answer = raw(web, get(web, target, f"Authorization: Bearer {token}\r\n"))
    assert_json_error(answer, 422, "validation_error")
    assert set(json.loads(answer[2])["error"]["details"]) == {"cursor"}


def test_the_listen_backlog_is_as_deep_as_the_kernel_allows(web):
    """After a deploy every stream reconnects at once: gunicorn asks for GUNICORN_BACKLOG
    (16,384), which Linux caps at net.core.somaxconn; gunicorn's own default would be 2,048."""
    import subprocess

    from config import BaseConfig
    with open("/proc/sys/net/core/somaxconn") as f:
        cap = int(f.read())
    listing = subprocess.run(["ss", "-ltnH", f"sport = :{web[1]}"], capture_output=True,
                             text=True, check=True).stdout.split()
    # State Recv-Q Send-Q Local Peer: for a listening socket Send-Q is its backlog.
    assert int(listing[2]) == min(BaseConfig.GUNICORN_BACKLOG, cap)
