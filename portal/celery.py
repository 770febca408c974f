"""Celery wired the Flask way: one Celery app per Flask app, tasks run inside an app context."""
from celery import Celery, Task
from flask import has_app_context


def celery_init_app(app) -> Celery:
    """Create the Celery app bound to this Flask app and store it in ``app.extensions``."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # Reuse an active context (the embedded test worker, nested calls) instead of
            # nesting one: Flask-SQLAlchemy scopes its session to the app context.
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object({
        "broker_url": app.config["CELERY_BROKER_URL"],
        "result_backend": app.config["CELERY_RESULT_BACKEND"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 4,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"socket_connect_timeout": 2, "socket_timeout": 10},
        # A publish must not hang a request when the broker is down: fail fast, the relay retries.
        "task_publish_retry": False,
        "broker_connection_timeout": 2,
        "timezone": "UTC",
        "beat_schedule": app.config.get("BEAT_SCHEDULE", {}),
    })
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
