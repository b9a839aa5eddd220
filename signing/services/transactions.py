"""Ending the services' transactions: commit, rollback, and the work that runs after a commit.

A service works in the session's implicit transaction and ends it here, never inside a model method.
Work that may only follow a successful commit (the outbox handing its new rows to the workers) is
registered with ``before_commit``: its ``prepare`` function runs after the last flush, inside the
transaction, and returns what to run once the commit succeeded (or ``None``). A rollback forgets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from ..extensions import db

AfterCommit = Callable[[], None]
Prepare = Callable[[], AfterCommit | None]
_PREPARE_KEY = "accord_before_commit"


def before_commit(name: str, prepare: Prepare) -> None:
    """Call ``prepare`` when this transaction commits (once per ``name``); run what it returns after the commit."""
    db.session.info.setdefault(_PREPARE_KEY, {}).setdefault(name, prepare)


def commit(*, keep: Iterable[object] = (), defer: bool = False) -> list[AfterCommit]:
    """Commit the current transaction, then run the after-commit work it registered.

    ``keep``: objects whose loaded values stay usable after the commit (they hold what this transaction
    wrote or read) instead of being expired like everything else, so a response built from them needs
    no further query. ``defer=True`` returns the after-commit work instead of running it, for the caller to
    ``run`` (a list to run once: without ``defer`` the work has run and the list is empty).
    """
    prepares: dict[str, Prepare] = db.session.info.pop(_PREPARE_KEY, {})
    try:
        db.session.flush()
        work = [after for after in (prepare() for prepare in prepares.values()) if after is not None]
        _commit_keeping(keep)
    except Exception:
        rollback()
        raise
    if defer:
        return work
    run(work)
    return []


def run(work: Iterable[AfterCommit]) -> None:
    for after in work:
        after()


def rollback() -> None:
    db.session.info.pop(_PREPARE_KEY, None)
    db.session.rollback()


def _commit_keeping(keep: Iterable[object]) -> None:
    """Commit; expire every loaded object as usual, except those in ``keep``."""
    kept = {id(obj) for obj in keep if obj is not None}
    session = db.session()
    if not kept or not session.expire_on_commit:
        session.commit()
        return
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    for obj in list(session.identity_map.values()):
        if id(obj) not in kept:
            session.expire(obj)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    """Whatever way the outermost transaction ended, what it registered means nothing to the next one."""
    if transaction.parent is None:
        session.info.pop(_PREPARE_KEY, None)


def init_app(app: Flask) -> None:
    """Hook ``_forget`` into the session (once per process, whatever the number of apps)."""
    if not event.contains(db.session, "after_transaction_end", _forget):
        event.listen(db.session, "after_transaction_end", _forget)
