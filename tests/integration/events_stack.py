"""The live-events stack: gunicorn (gevent, 2 workers), Celery worker and beat, private Redis."""
import json
import time
from contextlib import ExitStack, contextmanager

import redis as redis_lib

from portal import create_app
from portal.events.models import OutboxEvent
from portal.events.outbox import record_event
from portal.extensions import db
from tests.helpers import config_for, free_port, start_redis
from tests.events.factories import actor
from tests.integration import processes as proc
from tests.integration.sse_client import SSEClient

PREFIX = "it:"
USERS = ("landlord", "landlord2", "tenant", "tenant2", "contractor", "ops")


class Stack:
    """Handles on the running processes plus an in-process app on the same database and Redis."""

    def __init__(self, folder, database_url, **env):
        self.folder, self.database_url = folder, database_url
        self.redis_proc, self.redis_url = start_redis(folder)
        self.redis_port = int(self.redis_url.rsplit(":", 1)[1].split("/")[0])
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app = create_app("testing", config_for(database_url, self.redis_url,
                                                    REDIS_PREFIX=PREFIX))
        self.env = proc.process_env(
            database_url, self.redis_url, REDIS_PREFIX=PREFIX, LOGIN_RATE_LIMIT="1000 per minute",
            SSE_HEARTBEAT_S=1, SSE_READ_BLOCK_MS=1000, OUTBOX_RELAY_S=1, OUTBOX_RELAY_GRACE_S=1,
            CELERY_CONCURRENCY=4, **env)
        self.clients = []
        self.processes = {}  # name → Popen of the running web, worker and beat

    @contextmanager
    def ctx(self):
        """An app context whose session is always ended (on SQLite an open one holds the lock)."""
        with self.app.app_context():
            try:
                yield
            finally:
                db.session.remove()

    def redis(self):
        return redis_lib.Redis.from_url(self.redis_url, decode_responses=True)

    def stop_redis(self):
        """Kill the private Redis (every key is lost, as in a crash without persistence)."""
        self.redis_proc.kill()
        self.redis_proc.wait(timeout=10)

    def start_redis(self):
        """Start the private Redis again on the same port."""
        self.redis_proc, _url = start_redis(self.folder, self.redis_port)

    def login(self, name):
        """(user JSON, tokens, Set-Cookie headers) for a demo user, through gunicorn."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("POST", "/api/auth/login", json.dumps(
            {"email": f"{name}@example.com", "password": "password123"}),
            {"Content-Type": "application/json"})
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.status == 200, body
        cookies = response.headers.get_all("Set-Cookie")
        conn.close()
        return body["user"], body, cookies

    def connect(self, name, headers=None, token=None, **kwargs):
        """Log ``name`` in (unless headers are given) and open a stream; wait for ``connected``."""
        user = None
        if headers is None:
            user, body, _ = self.login(name)
            token = body["accessToken"]
            headers = {"Authorization": "Bearer " + token}
        client = SSEClient(self.port, headers, name=name, **kwargs)
        client.user = user
        client.token = token
        self.clients.append(client)
        if client.status == 200:
            client.wait_connected()
        return client

    def publish(self, event_type, by, *, landlord_id, tenant_id, resources, audience,
                version=1):
        """Commit an outbox event as a service would (the commit enqueues it); return its id."""
        with self.ctx():
            row = record_event(event_type, actor(by), landlord_id=landlord_id,
                               tenant_id=tenant_id, resources=resources, audience=audience,
                               version=version)
            db.session.commit()
            event_id = row.id
        return event_id

    def delivered(self, event_id):
        """The stream id once the event is delivered, else None."""
        with self.ctx():
            row = db.session.get(OutboxEvent, event_id)
            return row.stream_id if row is not None and row.delivered_at else None

    def wait_delivered(self, event_ids, timeout=30):
        deadline = time.monotonic() + timeout
        for event_id in event_ids:
            while not self.delivered(event_id):
                assert time.monotonic() < deadline, f"{event_id} not delivered"
                time.sleep(0.05)

    def close_clients(self):
        for client in self.clients:
            client.close()
        self.clients = []


@contextmanager
def running_stack(folder, database_url, **env):
    """Start everything (``env`` overrides settings); stop everything, Redis last."""
    stack = Stack(folder, database_url, **env)
    try:
        with ExitStack() as processes:
            stack.processes = {
                "web": processes.enter_context(proc.web(stack.env, stack.port, folder, workers=2)),
                "worker": processes.enter_context(proc.worker(stack.env, folder)),
                "beat": processes.enter_context(proc.beat(stack.env, folder))}
            proc.wait_for_web(stack.base)
            yield stack
            stack.close_clients()
    finally:
        stack.redis_proc.terminate()
        stack.redis_proc.wait(timeout=10)
