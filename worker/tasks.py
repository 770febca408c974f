"""Imports every task module so the worker registers them all by name."""
from worker import events  # noqa: F401
from worker import maintenance  # noqa: F401
from worker import invoices, payments  # noqa: F401
