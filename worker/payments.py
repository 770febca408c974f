"""Payment webhook tasks: apply a stored delivery; re-enqueue deliveries stuck in RECEIVED."""
from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from portal import tasks
from portal.finance import payment_apply


@shared_task(name=tasks.PROCESS_PAYMENT, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, retry_backoff_max=60, retry_jitter=True, max_retries=10)
def process_delivery(delivery_id: str) -> None:
    """Apply one webhook delivery (exactly once however often it runs)."""
    payment_apply.process_delivery(delivery_id)


@shared_task(name=tasks.REQUEUE_PAYMENTS)
def requeue_stuck_deliveries(older_than_s=None) -> int:
    """Enqueue again the deliveries whose processing message was lost."""
    return payment_apply.requeue_stuck(older_than_s)
