"""Housekeeping tasks run by the beat."""
from celery import shared_task

from portal import idempotency, tasks
from portal.auth import revocations


@shared_task(name=tasks.PURGE_IDEMPOTENCY_KEYS)
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Key records older than the retention window."""
    return idempotency.purge_expired()


@shared_task(name=tasks.RESTORE_REVOCATIONS)
def restore_revocations() -> int:
    """Put back the recent logouts Redis forgot (a restart without persistence, a failover)."""
    return revocations.restore()


@shared_task(name=tasks.PURGE_REVOCATIONS)
def purge_revocations() -> int:
    """Delete logouts whose sessions' refresh tokens have expired anyway."""
    return revocations.purge_expired()


@shared_task(name=tasks.PING, ignore_result=False)
def ping(value: str) -> str:
    """Round trip used by the health of the worker (and the stack test)."""
    return f"pong:{value}"
