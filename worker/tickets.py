"""Ticket tasks run by the beat."""
from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from portal import tasks
from portal.tickets import sla


@shared_task(name=tasks.MARK_SLA_BREACHES, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, retry_backoff_max=60, max_retries=3)
def mark_sla_breaches() -> int:
    """Announce tickets past their response time, each once."""
    return len(sla.mark_breaches())
