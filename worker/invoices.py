"""Invoice tasks run by the beat."""
from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from portal import tasks
from portal.finance import service


@shared_task(name=tasks.MARK_OVERDUE, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, retry_backoff_max=300, max_retries=5)
def mark_overdue() -> int:
    """Mark invoices past their due date OVERDUE (each commit announces its own)."""
    return len(service.mark_overdue())
