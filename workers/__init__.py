"""The Celery worker's side of Accord: thin tasks (``workers.tasks``) and the entry module.

``celery -A workers worker`` and ``celery -A workers beat`` find the Celery app in
``workers.celery``, which builds the Flask app when it is imported (as the entry module of Flask's
own ``examples/celery`` does). Importing this package or ``workers.tasks`` builds nothing; the
application package ``signing`` never imports ``workers``.
"""
