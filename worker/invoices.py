"""Invoice tasks run by the beat."""
from datetime import date

from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from portal import tasks
from portal.finance import late_fees, rent, service

_DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(name=tasks.MARK_OVERDUE, autoretry_for=_DB_ERRORS,
             retry_backoff=True, retry_backoff_max=300, max_retries=5)
def mark_overdue(today=None) -> int:
    """Mark invoices past their due date OVERDUE (each commit announces its own); ``today`` (an
    ISO date, for a caller that fixed its own day) defaults to the UTC date when the task runs."""
    return len(service.mark_overdue(date.fromisoformat(today) if today else None))


@shared_task(name=tasks.ADD_LATE_FEES, autoretry_for=_DB_ERRORS, retry_backoff=True,
             retry_backoff_max=300, max_retries=5)
def add_late_fees() -> int:
    """Add each landlord's late fee to invoices unpaid past their grace days (once each)."""
    return len(late_fees.add_late_fees())


@shared_task(name=tasks.BILL_RENT, autoretry_for=_DB_ERRORS, retry_backoff=True,
             retry_backoff_max=300, max_retries=5)
def bill_rent(run_date=None) -> int:
    """Issue the rent invoices due to be issued on ``run_date`` (YYYY-MM-DD, default today)."""
    return len(rent.bill_rent(date.fromisoformat(run_date) if run_date else None))
