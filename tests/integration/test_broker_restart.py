"""Redis (broker, stream, everything) killed and restarted empty, over and over, under load."""
import threading
import time

import pytest

from tests.integration import processes as proc
from tests.integration.events_stack import running_stack
from tests.integration.sse_client import kind

OUTAGES = 5


@pytest.fixture(scope="module")
def stack(app, demo, database_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("broker-restart"), database_url,
                       REVOCATION_RESTORE_S=1) as stack:
        yield stack


class TicketLoad:
    """Tenants filing tickets over HTTP in a thread; remembers every acknowledged (201) one."""

    def __init__(self, stack, demo, token):
        self.stack, self.demo, self.token = stack, demo, token
        self.acknowledged, self.refused = [], 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ticket-load", daemon=True)

    def _run(self):
        n = 0
        while not self.stopping.is_set():
            n += 1
            try:
                status, body = proc.request(
                    self.stack.base, "POST", "/api/tickets", timeout=10,
                    headers={"Authorization": "Bearer " + self.token},
                    body={"propertyId": self.demo["prop1"], "title": f"Load {n}",
                          "description": "Filed while Redis restarts", "priority": "LOW"})
            except OSError:
                status, body = None, None
            if status == 201:
                self.acknowledged.append(body["id"])
            else:
                self.refused += 1  # 503 while Redis is down: not acknowledged, nothing promised
            time.sleep(0.05)  # ~15 a second: a steady load, not a benchmark

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(30)


def test_the_worker_outlives_redis_restarts_and_every_acknowledged_change_arrives(stack, demo):
    landlord = stack.connect("landlord")
    token = stack.login("tenant")[1]["accessToken"]
    worker = stack.processes["worker"]
    with TicketLoad(stack, demo, token) as load:
        for _outage in range(OUTAGES):
            # The worker is consuming again (a ticket filed now reaches the stream), and more
            # tickets are on their way: their tasks are reserved, unacked, when Redis dies.
            wait_until_more(load, at_least=1)
            wait_ticket(landlord, load.acknowledged[-1])
            wait_until_more(load, at_least=5)
            stack.stop_redis()
            time.sleep(1)
            stack.start_redis()
            returned = time.monotonic()
            assert worker.poll() is None, f"the worker exited with {worker.returncode}"
        wait_until_more(load, at_least=3)
    assert load.acknowledged and load.refused, "the load did not span the outages"

    def arrived():
        seen = {ticket_of(f) for f in landlord.events()}
        resynced = any(kind(f) == "resync" for f in landlord.snapshot())
        return resynced or set(load.acknowledged) <= seen
    try:
        proc.wait_until(arrived, timeout=30, interval=0.2,
                        what="every acknowledged ticket on the landlord's stream")
    except AssertionError:
        seen = {ticket_of(f) for f in landlord.events()}
        missing = [t for t in load.acknowledged if t not in seen]
        raise AssertionError(f"{len(missing)} of {len(load.acknowledged)} acknowledged tickets "
                             f"never reached the landlord's stream: {missing[:10]}") from None
    print(f"{len(load.acknowledged)} tickets acknowledged, {load.refused} refused over "
          f"{OUTAGES} outages; all on the stream {time.monotonic() - returned:.1f} s after "
          "Redis last returned")
    assert worker.poll() is None, f"the worker exited with {worker.returncode}"
    # Alive and consuming: a change made now is delivered too.
    with TicketLoad(stack, demo, token) as more:
        wait_until_more(more, at_least=1)
    fresh = more.acknowledged[0]
    wait_ticket(landlord, fresh)


def ticket_of(frame):
    """The ticket id a ``ticket.created`` frame announces (None for any other frame)."""
    if kind(frame) != "ticket.created":
        return None
    return frame["data"]["data"]["resources"][0]["id"]


def wait_ticket(client, ticket_id, timeout=45):
    """The ``ticket.created`` frame of ``ticket_id`` on ``client``'s stream."""
    return client.wait_for(lambda f: ticket_of(f) == ticket_id, timeout,
                           what=f"ticket.created of {ticket_id}")


def wait_until_more(load, at_least):
    """Wait until ``load`` has ``at_least`` more acknowledged tickets than now."""
    target = len(load.acknowledged) + at_least
    proc.wait_until(lambda: len(load.acknowledged) >= target, timeout=30,
                    what=f"{at_least} more tickets filed")
