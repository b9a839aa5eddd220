"""The entry module of ``celery -A workers worker|beat``: the Flask app, configured from the environment.

Celery puts the working directory on ``sys.path`` only while it imports this module, so everything the
worker needs is imported here, at once, by ``create_app``.
"""

from __future__ import annotations

from celery import Celery

from signing import create_app

flask_app = create_app()
app: Celery = flask_app.extensions["celery"]
