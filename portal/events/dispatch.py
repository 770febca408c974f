"""After a commit: ask the worker to deliver the new outbox events (best effort)."""
import logging

from flask import current_app

log = logging.getLogger(__name__)


def enqueue_delivery(*event_ids) -> None:
    """Enqueue ``events.deliver`` for each id; if the broker is down the beat relay catches up."""
    celery = current_app.extensions["celery"]
    for event_id in event_ids:
        if not event_id:
            continue
        try:
            # ignore_result: no result-backend subscription, which retries for ~20 s when Redis
            # is down; the outcome is the outbox row, not a Celery result.
            celery.send_task("events.deliver", args=[event_id], retry=False, ignore_result=True)
        except Exception as exc:  # broker down: the change is committed, the relay will send it
            log.warning("could not enqueue events.deliver(%s): %s", event_id, exc)
            return  # the broker is down: do not make the request wait once per event


def published(answer, event_id):
    """For views: enqueue the committed event's delivery, then give back the view's answer."""
    enqueue_delivery(event_id)
    return answer
