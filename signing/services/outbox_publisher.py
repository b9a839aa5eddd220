"""Publishing a hot path's outbox jobs off the request's CPU path, batched: one thread per process.

``outbox.inserted(..., one_message=True)`` (the endorsement intake) asks for its jobs to go to the broker
as one message. In celery mode, when ``OUTBOX_BACKGROUND_PUBLISH`` is on (the default outside tests),
the request only hands the committed rows' ids to this process's publisher (``submit``) and returns;
the publisher thread takes whatever has accumulated since its last turn (it lingers ``LINGER_SECONDS``
after the first rows arrive) and publishes it as one ``run_jobs`` message (a few for a large backlog:
``BATCH_ITEMS`` rows each), with one producer.

Crash safety is the outbox's own, unchanged: the rows carry ``published_at`` from their transaction, so
  * a publish that fails resets their ``published_at`` to NULL (``outbox._publish``) and the next sweep
    (``outbox.drain``) republishes them;
  * rows whose process died (or exited) before the publisher got to them look like lost messages and are
    republished by the sweep once ``OUTBOX_STALE_SECONDS`` have passed, as for a process that died
    between its commit and its publish before.
At a normal exit the rows waiting are published first (``atexit``, at most ``EXIT_WAIT_SECONDS``).

One publisher per process, started lazily by the first ``submit`` in that process: gunicorn forks its
workers after importing the app, so a thread (and its lock, and its waiting rows) seen in another pid
belongs to the parent; the child starts afresh (``os.register_at_fork`` and a pid check). Waiting rows of
the parent are the parent's to publish. ``flush`` waits until everything submitted so far is published
(tests, the exit).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

log = logging.getLogger(__name__)
BATCH_ITEMS = 200  # outbox rows per message at most
EXIT_WAIT_SECONDS = 5.0
LINGER_SECONDS = 0.01  # after the first rows arrive, how long the publisher lets concurrent requests' rows join
Items = list[tuple[str, int]]
Publish = Callable[[Items], None]  # publishes rows inside an app context (``outbox._publish``)


@dataclass
class _Publisher:
    pid: int
    ready: threading.Condition = field(default_factory=threading.Condition)
    waiting: list[tuple[Flask, Publish, Items]] = field(default_factory=list)
    submitted: int = 0  # submissions so far
    done: int = 0  # submissions published (or given up on: the sweep has them)
    thread: threading.Thread | None = None


_publisher: _Publisher | None = None
_guard = threading.Lock()


def _reset_after_fork() -> None:
    global _publisher, _guard
    _publisher = None  # the parent's thread does not exist here; its lock may have been held at the fork
    _guard = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _current() -> _Publisher:
    global _publisher
    found = _publisher
    if found is not None and found.pid == os.getpid():
        return found
    with _guard:
        if _publisher is None or _publisher.pid != os.getpid():
            _publisher = _Publisher(pid=os.getpid())
        return _publisher


def submit(app: Flask, items: Items, publish: Publish) -> None:
    """Hand committed rows (their ``published_at`` set) to this process's publisher. Never blocks on the broker."""
    publisher = _current()
    with publisher.ready:
        publisher.waiting.append((app, publish, list(items)))
        publisher.submitted += 1
        if publisher.thread is None or not publisher.thread.is_alive():
            publisher.thread = threading.Thread(target=_run, args=(publisher,), name="outbox-publisher",
                                                daemon=True)
            publisher.thread.start()
        publisher.ready.notify_all()


def flush(timeout: float = 10.0) -> bool:
    """Wait until everything submitted in this process so far is published; False on timeout."""
    publisher = _current()
    with publisher.ready:
        target = publisher.submitted
        return publisher.ready.wait_for(lambda: publisher.done >= target, timeout)


def _run(publisher: _Publisher) -> None:
    while True:
        with publisher.ready:
            publisher.ready.wait_for(lambda: bool(publisher.waiting))
        time.sleep(LINGER_SECONDS)  # the rows of requests committing now join this message (no CPU spent)
        with publisher.ready:
            taken, publisher.waiting = publisher.waiting, []
        try:
            _publish_batches(taken)
        finally:
            with publisher.ready:
                publisher.done += len(taken)
                publisher.ready.notify_all()


def _publish_batches(taken: list[tuple[Flask, Publish, Items]]) -> None:
    """Publish what accumulated, per app, ``BATCH_ITEMS`` rows a message. Never raises (the sweep retries)."""
    grouped: dict[int, tuple[Flask, Publish, Items]] = {}
    for app, publish, items in taken:
        grouped.setdefault(id(app), (app, publish, []))[2].extend(items)
    for app, publish, items in grouped.values():
        for start in range(0, len(items), BATCH_ITEMS):
            try:
                with app.app_context():
                    publish(items[start : start + BATCH_ITEMS])
            except Exception:  # published_at stays set: the sweep republishes them once stale
                log.exception("the outbox publisher could not publish %d row(s)", len(items[start:]))


@atexit.register
def _flush_at_exit() -> None:
    publisher = _publisher
    if publisher is not None and publisher.pid == os.getpid() and publisher.thread is not None:
        flush(EXIT_WAIT_SECONDS)
