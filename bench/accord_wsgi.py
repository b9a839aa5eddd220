"""``wsgi:app`` for the benchmark: the same ``create_app()``, with the instance folder in a temporary directory.

``wsgi.py`` always uses the repository's ``instance/``; with ``TASK_MODE=inline`` and file mail the
benchmark would fill its ``mail/`` folder, so ``bench/signing_intake.py`` serves this module instead
(``ACCORD_BENCH_INSTANCE`` names the folder). Everything else comes from the environment as in production.
"""

import os

from signing import create_app

app = create_app(instance_path=os.environ["ACCORD_BENCH_INSTANCE"])
