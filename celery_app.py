"""Entry point for ``celery -A celery_app worker|beat``: builds the app; the worker imports the
task modules listed in config.py (``CELERY["include"]``)."""
from portal import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
