"""After a commit: ask the worker to deliver the new outbox events (best effort)."""
import logging

from flask import current_app

log = logging.getLogger(__name__)


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
    """Enqueue ``events.deliver`` for each id; if the broker is down the beat relay catches up."""
    for event_id in event_ids:
        if event_id and not send_best_effort("events.deliver", event_id):
            return  # the broker is down: do not make the request wait once per event


def published(answer, event_id):
    """For views: enqueue the committed event's delivery, then give back the view's answer."""
    enqueue_delivery(event_id)
    return answer
