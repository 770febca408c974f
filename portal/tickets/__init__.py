"""Tickets: the maintenance workflow (state machine, quotes, approval, timeline)."""
