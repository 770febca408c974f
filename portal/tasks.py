"""Celery task names: one constant per task, used by the decorator that defines it (worker/),
by whoever sends it, and by the beat schedule (config.py)."""

DELIVER_EVENT = "events.deliver"
RELAY_OUTBOX = "events.relay_outbox"
PROCESS_PAYMENT = "payments.process_delivery"
REQUEUE_PAYMENTS = "payments.requeue_stuck_deliveries"
MARK_OVERDUE = "invoices.mark_overdue"
ADD_LATE_FEES = "invoices.add_late_fees"
BILL_RENT = "invoices.bill_rent"
PURGE_IDEMPOTENCY_KEYS = "maintenance.purge_idempotency_keys"
RESTORE_REVOCATIONS = "maintenance.restore_revocations"
PURGE_REVOCATIONS = "maintenance.purge_revocations"
PING = "maintenance.ping"

# The modules that define them: the worker imports these at start (Celery's ``include``).
TASK_MODULES = ("worker.events", "worker.payments", "worker.invoices", "worker.maintenance")
