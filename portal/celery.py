"""Celery wired the Flask way: one Celery app per Flask app, tasks run inside an app context."""
from celery import Celery, Task
from flask import has_app_context

from portal.health.heartbeat import heartbeat_step


def celery_init_app(app) -> Celery:
    """Create the Celery app bound to this Flask app (settings: ``CELERY`` in config.py) and
    store it in ``app.extensions``."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # Reuse an active context (the embedded test worker, nested calls) instead of
            # nesting one: Flask-SQLAlchemy scopes its session to the app context.
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    config = app.config
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object({
        **config["CELERY"],
        "broker_url": config.get("CELERY_BROKER_URL") or config["REDIS_URL"],
        "result_backend": config.get("CELERY_RESULT_BACKEND") or config["REDIS_URL"],
    })
    celery.steps["consumer"].add(heartbeat_step(app))  # read by /api/health
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
