"""Event tasks: deliver one outbox event; relay the ones the after-commit enqueue missed."""
import redis
from celery import shared_task
from sqlalchemy.exc import OperationalError

from portal import tasks
from portal.events import delivery


@shared_task(name=tasks.DELIVER_EVENT, autoretry_for=(redis.RedisError, OperationalError),
             retry_backoff=1, retry_backoff_max=30, max_retries=5)
def deliver(event_id: str):
    """Notifications + stream entry for one outbox event (at-least-once, idempotent)."""
    return delivery.deliver_event(event_id)


@shared_task(name=tasks.RELAY_OUTBOX)
def relay_outbox() -> int:
    """Deliver outbox events left undelivered past the grace period."""
    return delivery.relay_pending()
