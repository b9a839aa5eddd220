"""Celery integration, after Flask's own ``examples/celery``.

``celery_init_app`` binds a Celery app to a Flask app (tasks run inside an app
context). ``celery -A workers worker`` finds the Celery app through the lazy
module attribute below, so importing this package builds nothing.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config["REDIS_URL"] or "memory://"
    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(
        broker_url=broker,
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # Publishing happens after commit; if the broker is down, fail fast and let the sweep republish.
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        broker_connection_timeout=3,
        broker_transport_options={"visibility_timeout": 3600},
        timezone="UTC",
        imports=("workers.tasks",),
        beat_schedule={
            "drain-outbox": {"task": "workers.tasks.drain_outbox", "schedule": 60.0},
            # Hourly, on the hour: e-mail the cities that have not signed as a deadline nears.
            "send-reminders": {"task": "workers.tasks.send_reminders", "schedule": crontab(minute=0)},
        },
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def __getattr__(name: str) -> Any:
    """``workers.celery`` / ``workers.app``: build the Flask app on first use (worker start-up)."""
    if name in {"celery", "app"}:
        from signing import create_app

        flask_app = create_app()
        return flask_app.extensions["celery"]
    raise AttributeError(name)
