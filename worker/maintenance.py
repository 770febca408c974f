"""Housekeeping tasks run by the beat."""
from celery import shared_task

from portal import idempotency
from portal.auth import revocations


@shared_task(name="maintenance.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Key records older than the retention window."""
    return idempotency.purge_expired()


@shared_task(name="maintenance.restore_revocations")
def restore_revocations() -> int:
    """Put back the recent logouts Redis forgot (a restart without persistence, a failover)."""
    return revocations.restore()


@shared_task(name="maintenance.purge_revocations")
def purge_revocations() -> int:
    """Delete logouts whose sessions' refresh tokens have expired anyway."""
    return revocations.purge_expired()


@shared_task(name="maintenance.ping", ignore_result=False)
def ping(value: str) -> str:
    """Round trip used by the health of the worker (and the stack test)."""
    return f"pong:{value}"
