"""Invoice tasks run by the beat."""
from datetime import date

from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from portal.events.dispatch import enqueue_delivery
from portal.finance import service


@shared_task(name="invoices.mark_overdue", autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, retry_backoff_max=300, max_retries=5)
def mark_overdue(today=None) -> int:
    """Mark invoices past their due date OVERDUE and announce each; ``today`` (ISO date, for a
    caller that fixed its own day) defaults to the UTC date when the task runs."""
    event_ids = service.mark_overdue(date.fromisoformat(today) if today else None)
    enqueue_delivery(*event_ids)
    return len(event_ids)
