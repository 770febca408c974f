"""Celery task shells: each names a task (portal/tasks.py) and calls one service function."""
