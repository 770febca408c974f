"""Finance: invoices with gapless numbers, signed payment webhooks, overdue marking."""
