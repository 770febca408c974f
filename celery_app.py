"""Entry point for ``celery -A celery_app worker|beat``: builds the app and registers the tasks."""
from portal import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
# Import every task module so each task is registered by name.
import worker.tasks  # noqa: E402,F401
