"""Health check of the database, Redis and the Celery worker (its heartbeat)."""
