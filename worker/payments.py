"""Payment webhook tasks: apply a stored delivery; re-enqueue deliveries stuck in RECEIVED."""
from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from portal.events.dispatch import enqueue_delivery
from portal.finance import payments


@shared_task(name="payments.process_delivery", autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, retry_backoff_max=60, retry_jitter=True, max_retries=10)
def process_delivery(delivery_id: str) -> None:
    """Apply one webhook delivery (exactly once however often it runs), then announce it."""
    enqueue_delivery(*payments.process_delivery(delivery_id))


@shared_task(name="payments.requeue_stuck_deliveries")
def requeue_stuck_deliveries(older_than_s=None) -> int:
    """Enqueue again the deliveries whose processing message was lost."""
    return payments.requeue_stuck(older_than_s)
