"""After a commit, ask the worker to deliver the outbox events it made durable: recording an
event marks the session, and one ``after_commit`` hook enqueues what was committed, whoever
committed it (a view, a page, a task); a rollback forgets it. Best effort: with the broker
down the commit stands and the beat's outbox relay sends what was missed."""
import logging

import redis
import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from portal.extensions import redis_client
from portal.tasks import DELIVER_EVENT

log = logging.getLogger(__name__)

_PENDING = "portal.outbox_pending"
# Set on a session whose commits only release savepoints of an outer transaction (an idempotent
# request): what they committed is enqueued when the outer transaction commits (``release``).
_HELD = "portal.outbox_held"


def send_best_effort(task: str, *args) -> bool:
    """Send a Celery task for committed work; False (logged) when the broker is down, for the
    beat to send it again later. Never waits on a dead broker."""
    try:
        # ignore_result: no result-backend subscription, which retries for ~20 s when Redis
        # is down; the outcome is in the database, not a Celery result.
        current_app.extensions["celery"].send_task(task, args=list(args), retry=False,
                                                   ignore_result=True)
        return True
    except Exception as exc:  # broker down: the work is committed, nothing is lost
        log.warning("could not enqueue %s%s: %s", task, args, exc)
        return False


def enqueue_delivery(*event_ids) -> None:
    """Make sure a delivery will run for these committed events.

    One ``events.deliver`` is sent while none is queued or running: the first commit sets the
    wake flag (``SET NX``) and sends the task, naming its first event; later commits find the
    flag and send nothing, because the delivery under way takes every pending event in batches
    and clears the flag only before its last look (``portal/events/drain.py``). With Redis down
    nothing is sent, and the beat's outbox relay delivers the events.
    """
    event_ids = [event_id for event_id in event_ids if event_id]
    if not event_ids:
        return
    config = current_app.config
    try:
        if not redis_client.conn.set(_wake_key(), "1", nx=True,
                                     px=int(config["DELIVERY_WAKE_TTL_S"] * 1000)):
            return
    except redis.RedisError as exc:
        log.warning("could not wake the delivery for %s: %s", event_ids, exc)
        return
    if not send_best_effort(DELIVER_EVENT, event_ids[0]):
        clear_wake()  # nothing was sent: the next commit tries again


def _wake_key() -> str:
    return redis_client.key("events", "delivery_wake")


def extend_wake() -> None:
    """Keep the wake flag while a delivery is still working through a backlog."""
    # PEXPIRE never creates a key: a flag already cleared stays cleared.
    redis_client.conn.pexpire(_wake_key(), int(current_app.config["DELIVERY_WAKE_TTL_S"] * 1000))


def clear_wake() -> None:
    """Drop the wake flag: the next commit sends a delivery of its own. Best effort: the flag
    expires by itself after ``DELIVERY_WAKE_TTL_S``."""
    try:
        redis_client.conn.delete(_wake_key())
    except redis.RedisError as exc:
        log.warning("could not clear the delivery's wake flag: %s", exc)


def mark_pending(session, event_id: str) -> None:
    """Remember an outbox event added to ``session``: its commit enqueues the delivery."""
    session.info.setdefault(_PENDING, []).append(event_id)


def hold(session) -> None:
    """Keep the deliveries ``session`` commits until ``release``: its commits are not final."""
    session.info[_HELD] = []


def release(session) -> None:
    """Enqueue what ``session`` committed while held, now that it is durable."""
    enqueue_delivery(*session.info.pop(_HELD, ()))


def _after_commit(session):
    event_ids = session.info.pop(_PENDING, None)
    held = session.info.get(_HELD)
    if event_ids and held is not None:
        held.extend(event_ids)
    elif event_ids and has_app_context():
        enqueue_delivery(*event_ids)


def _after_soft_rollback(session, previous_transaction):
    if previous_transaction.parent is None:  # the outermost transaction: its rows are gone
        session.info.pop(_PENDING, None)


def init_app(app) -> None:
    """Install the session hooks once per process (they hold no reference to an app)."""
    if not sa.event.contains(Session, "after_commit", _after_commit):
        sa.event.listen(Session, "after_commit", _after_commit)
        sa.event.listen(Session, "after_soft_rollback", _after_soft_rollback)
