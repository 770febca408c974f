"""Celery task shells: each names a task and calls one service function."""
