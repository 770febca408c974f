"""Invoice tasks run by the beat."""
from datetime import date

from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from portal import tasks
from portal.finance import service


@shared_task(name=tasks.MARK_OVERDUE, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, retry_backoff_max=300, max_retries=5)
def mark_overdue(today=None) -> int:
    """Mark invoices past their due date OVERDUE (each commit announces its own); ``today`` (an
    ISO date, for a caller that fixed its own day) defaults to the UTC date when the task runs."""
    return len(service.mark_overdue(date.fromisoformat(today) if today else None))
