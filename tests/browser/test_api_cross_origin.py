"""The API from a browser: the reference page renders every operation from files the portal
serves; a page of another origin uses the API the way a front end in front of this backend
would (login, a cookie-authenticated read and the event stream, all cross-origin with
credentials); a page of an origin not listed is kept from the answers."""
import functools
import http.server
import json
import threading

import pytest

from portal.seed import PASSWORD
from tests.helpers import free_port
from tests.integration import processes as proc

# What the front end runs: every step's outcome, or the error the browser gave the page.
SCRIPT = """async ([api, email, password]) => {
  const out = {};
  try {
    const login = await fetch(api + "/api/auth/login", {method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({email, password})});
    out.login = login.status;
    const me = await fetch(api + "/api/auth/me", {credentials: "include"});
    out.me = (await me.json()).email;
    out.stream = await new Promise((resolve) => {
      const source = new EventSource(api + "/api/events", {withCredentials: true});
      source.onopen = () => { source.close(); resolve("open"); };
      source.onerror = () => { source.close(); resolve("error"); };
    });
  } catch (error) {
    out.blocked = error.name;
  }
  return out;
}"""


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    """A static site of its own (the front end's origin): {"listed": url, "unlisted": url}."""
    folder = tmp_path_factory.mktemp("front")
    (folder / "index.html").write_text("<!doctype html><title>Front end</title><p>front</p>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    yield {"listed": f"http://127.0.0.1:{port}", "unlisted": f"http://localhost:{port}"}
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def api(app, database_url, redis_url, tmp_path_factory, front):
    folder = tmp_path_factory.mktemp("cors-browser")
    port = free_port()
    env = proc.process_env(database_url, redis_url, CORS_ORIGINS=front["listed"],
                           LOGIN_RATE_LIMIT="1000 per minute", SSE_HEARTBEAT_S=1)
    with proc.web(env, port, folder):
        proc.wait_for_web(f"http://127.0.0.1:{port}", worker=False)
        yield f"http://127.0.0.1:{port}"


def run_front_end(browser, origin, api):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(origin + "/index.html")
        return page.evaluate(SCRIPT, [api, "tenant@example.com", PASSWORD])
    finally:
        context.close()


def test_a_listed_origin_logs_in_reads_and_streams_with_cookies(browser, front, api):
    assert run_front_end(browser, front["listed"], api) == {
        "login": 200, "me": "tenant@example.com", "stream": "open"}


def test_a_page_of_another_origin_cannot_read_the_answers(browser, front, api):
    outcome = run_front_end(browser, front["unlisted"], api)
    assert outcome == {"blocked": "TypeError"}, json.dumps(outcome)


def test_the_reference_page_renders_every_operation_from_the_portal_alone(browser, stack):
    api = stack.base
    context = browser.new_context()
    try:
        page = context.new_page()
        origins = set()
        page.on("request", lambda request: origins.add(request.url.split("/api/")[0]))
        page.goto(api + "/api/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=20000)
        paths = {element.inner_text().strip().replace("\u200b", "")
                 for element in page.query_selector_all(".opblock-summary-path")}
        described = json.loads(page.evaluate(
            "fetch('/api/openapi.json').then(r => r.text())"))["paths"]
        assert paths == set(described)
        assert origins == {api}
    finally:
        context.close()
