"""The beat schedule, as one reviewable list."""


def beat_schedule(config) -> dict:
    """Periodic tasks and how often they run (seconds, from config)."""
    return {
        "relay-outbox": {"task": "events.relay_outbox", "schedule": config["OUTBOX_RELAY_S"]},
        "purge-idempotency-keys": {"task": "maintenance.purge_idempotency_keys",
                                   "schedule": config["IDEMPOTENCY_PURGE_S"]},
        # A restore that waited longer than its own interval is stale: the next one replaces it.
        "restore-revocations": {"task": "maintenance.restore_revocations",
                                "schedule": config["REVOCATION_RESTORE_S"],
                                "options": {"expires": config["REVOCATION_RESTORE_S"]}},
        "purge-revocations": {"task": "maintenance.purge_revocations",
                              "schedule": config["IDEMPOTENCY_PURGE_S"]},
        "mark-overdue-invoices": {"task": "invoices.mark_overdue",
                                  "schedule": config["OVERDUE_SCHEDULE_S"]},
        "requeue-stuck-payment-deliveries": {"task": "payments.requeue_stuck_deliveries",
                                             "schedule": config["WEBHOOK_REQUEUE_S"]},
    }
