"""Event tasks: deliver what is pending (the commit names one event); relay the ones the
after-commit enqueue missed."""
import redis
from celery import shared_task
from sqlalchemy.exc import OperationalError

from portal import tasks
from portal.events import delivery, drain


@shared_task(name=tasks.DELIVER_EVENT, autoretry_for=(redis.RedisError, OperationalError),
             retry_backoff=1, retry_backoff_max=30, max_retries=5)
def deliver(event_id: str):
    """Notifications + stream entries for this event and every other one pending, in batches
    (at-least-once, idempotent); return how many were claimed."""
    return drain.drain(event_id)


@shared_task(name=tasks.RELAY_OUTBOX)
def relay_outbox() -> int:
    """Deliver outbox events left undelivered past the grace period."""
    return delivery.relay_pending()
