"""Celery, bound to the Flask app as in Flask's own ``examples/celery``.

``init_app`` builds the Celery app from the ``CELERY`` mapping of the configuration (broker, beat
schedule, …) with a task class that runs each task inside an app context. The services never import
the task functions: they publish a task by its registered name (the constants below), and the thin
task modules of the ``workers`` package register their functions under those same names. The
``workers`` package is loaded only by the worker process itself (``celery -A workers worker``).
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask, current_app
from kombu.messaging import Producer

# The registered names of the tasks (``workers.tasks``). They are part of the messages queued in the
# broker: a name stays as it is, so that messages queued by an earlier version still find their task.
SEND_EMAIL = "workers.tasks.send_email"
SEND_EMAILS = "workers.tasks.send_emails"
RUN_TASK = "workers.tasks.run_task"
RUN_JOBS = "workers.tasks.run_jobs"  # several of the above in one message: [[name, args], …]
DRAIN_OUTBOX = "workers.tasks.drain_outbox"
SEND_REMINDERS = "workers.tasks.send_reminders"
SEND_ENDORSEMENT_DIGEST = "workers.tasks.send_endorsement_digest"


def celery_init_app(app: Flask) -> Celery:
    """Make the Celery app of ``app`` (``app.extensions["celery"]``) and the default one of this process."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def celery_app() -> Celery:
    found: Celery = current_app.extensions["celery"]
    return found


def publish(producer: Producer, name: str, *args: Any) -> None:
    """Send one task message by its registered name (raises if the broker refuses it)."""
    celery_app().send_task(name, args=args, producer=producer)
