"""The Celery worker killed (SIGKILL) while it delivers a burst of events in batches: a new worker
and the beat's relay deliver every committed event, each once in the stream."""
import json
import time

import pytest
import sqlalchemy as sa

from portal.events.models import OutboxEvent
from portal.extensions import db
from tests.integration import processes as proc
from tests.integration.events_stack import running_stack

BURST = 400


@pytest.fixture(scope="module")
def stack(app, demo, database_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("crash-stack"), database_url) as stack:
        yield stack


def counts(stack) -> tuple:
    """(events delivered, events claimed but not delivered) of the outbox."""
    with stack.ctx():
        return db.session.execute(sa.select(
            sa.func.count(OutboxEvent.delivered_at),
            sa.func.count().filter(OutboxEvent.delivered_at.is_(None),
                                   OutboxEvent.attempts > 0))).one()


def test_a_worker_killed_mid_batch_loses_no_event_and_publishes_none_twice(stack, demo):
    audience = [f"landlord:{demo['ll1']}", "role:OPS"]
    ids, worker = [], stack.processes["worker"]

    def kill_once_a_batch_is_out():
        if worker.poll() is None and counts(stack)[0] > 0:
            worker.kill()
            worker.wait(timeout=10)
    for n in range(BURST):
        ids.append(stack.publish("ticket.created", "tenant", landlord_id=demo["ll1"],
                                 tenant_id=demo["ten1"], resources=[{"type": "ticket",
                                                                     "id": f"tkt_crash{n}"}],
                                 audience=audience))
        kill_once_a_batch_is_out()
    deadline = time.monotonic() + 60
    while worker.poll() is None and time.monotonic() < deadline:
        kill_once_a_batch_is_out()
        time.sleep(0.01)
    assert worker.returncode is not None, "the worker delivered nothing in a minute"
    assert counts(stack)[0] < BURST  # the crash left work undone
    with proc.worker(stack.env, stack.folder, name="worker-after-crash"):
        stack.wait_delivered(ids, timeout=90)
    published = [json.loads(fields["d"])["id"]
                 for _id, fields in stack.redis().xrange("it:events")
                 if fields["t"] == "ticket.created"]
    assert sorted(published) == sorted(ids)  # every event, none twice
