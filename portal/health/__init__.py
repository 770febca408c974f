"""Health check of the database and Redis."""
