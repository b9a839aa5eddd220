"""Fixtures of the documentation tests: fresh copies of the project, and the services the documents name.

What a document names (PostgreSQL, Redis, an SMTP server) is replaced by the test's own: a database
created and dropped on ``TEST_POSTGRES_URL``, the Redis database of ``TEST_REDIS_URL`` (flushed before
and after) and an aiosmtpd server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.conftest import TEST_POSTGRES_URL, TEST_REDIS_URL, emptied_redis, missing
from tests.smtp_sink import SmtpServer, smtp_servers
from tests.topology.conftest import (
    Processes,
    app_builder,
    declaration_status,
    enrol_keys,
    open_declaration,
    seed_network,
    sign,
    wait_until,
)

from .documented import ProductionBlock, copy_tracked_files, user_env

__all__ = ["app_builder"]  # the in-process app of the topology tests, for the compose test

INSTALL_TIMEOUT = 900  # a pip install from an empty cache downloads every dependency
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def fresh_tree(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project's tracked files, with nothing installed (removed afterwards, .venv and all)."""
    tree = tmp_path / "accord"
    copy_tracked_files(tree)
    yield tree
    shutil.rmtree(tree, ignore_errors=True)


@pytest.fixture(scope="session")
def installed_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the project where the Production section's install lines ran (once per session)."""
    tree = tmp_path_factory.mktemp("production") / "accord"
    copy_tracked_files(tree)
    setup = ProductionBlock.read().setup
    assert setup, "the Production section does not say how to install the dependencies"
    for line in setup:
        result = subprocess.run(["bash", "-c", line], cwd=tree, env=user_env(), capture_output=True, text=True,
                                timeout=INSTALL_TIMEOUT, check=False)
        assert result.returncode == 0, f"{line}\n-> rc {result.returncode}\n{result.stdout[-3000:]}{result.stderr}"
    yield tree
    shutil.rmtree(tree, ignore_errors=True)


@pytest.fixture
def production_tree(installed_tree: Path) -> Path:
    """The installed copy, without what an earlier test left in it (``instance/``, beat's schedule)."""
    shutil.rmtree(installed_tree / "instance", ignore_errors=True)
    for leftover in installed_tree.glob("celerybeat-schedule*"):
        leftover.unlink()
    return installed_tree


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The name of a fresh, empty database on the shared PostgreSQL (dropped afterwards)."""
    admin = create_engine(TEST_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not available"
        admin.dispose()
        missing("PostgreSQL", f"cannot connect to {TEST_POSTGRES_URL}: {type(exc).__name__}")
    name = f"accord_docs_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_url_like(documented: str, database: str) -> str:
    """The documented PostgreSQL URL with the test's server, login and database in it (its scheme kept)."""
    ours = make_url(TEST_POSTGRES_URL)
    url = make_url(documented).set(host=ours.host, port=ours.port, username=ours.username, password=ours.password,
                                   database=database)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def database_engine(postgres_database: str) -> Iterator[Engine]:
    """An engine on the test's database, to look at what the commands did."""
    engine = create_engine(make_url(TEST_POSTGRES_URL).set(database=postgres_database))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """``TEST_REDIS_URL``, its database emptied before and after."""
    with emptied_redis(TEST_REDIS_URL, "TEST_REDIS_URL"):
        yield TEST_REDIS_URL


@pytest.fixture
def smtp_factory() -> Iterator[Callable[..., SmtpServer]]:
    yield from smtp_servers()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[[Path], Processes]]:
    """``start_in(folder)``: a ``Processes`` whose commands run in ``folder``; every process stopped after."""
    made: list[Processes] = []

    def start_in(folder: Path) -> Processes:
        made.append(Processes(tmp_path, cwd=folder))
        return made[-1]

    try:
        yield start_in
    finally:
        for group in reversed(made):
            group.stop_all()


# --- Talking to the site as a browser would --------------------------------------------------------------------------


def wait_for_page(base_url: str, alive: Callable[[], bool], details: Callable[[], str], timeout: float) -> None:
    """Wait until ``base_url/login`` answers 200; fail at once if the serving process has exited."""
    import requests

    def answers() -> bool:
        if not alive():
            pytest.fail(f"the server exited before answering {base_url}:\n{details()}", pytrace=False)
        try:
            return requests.get(f"{base_url}/login", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    wait_until(answers, f"{base_url} to answer", timeout=timeout, interval=0.5, details=details)


def post_form(base_url: str, path: str, fields: dict[str, str], cookies: dict[str, str] | None = None) -> tuple[
        int, dict[str, str]]:
    """GET the form at ``path``, POST it back with its CSRF token and ``fields``; returns (status, cookies).

    Cookies are sent back whatever their ``Secure`` flag: the test plays the TLS proxy in front of the site.
    """
    import requests

    jar = dict(cookies or {})

    def cookie_header() -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}

    page = requests.get(f"{base_url}{path}", headers=cookie_header(), timeout=10)
    assert page.status_code == 200, f"GET {path}: {page.status_code}"
    jar.update({k: v for k, v in page.cookies.get_dict().items() if v is not None})
    token = _CSRF.search(page.text)
    assert token, f"no CSRF token on {path}"
    response = requests.post(f"{base_url}{path}", data={"csrf_token": token.group(1), **fields},
                             headers=cookie_header(), allow_redirects=False, timeout=30)
    jar.update({k: v for k, v in response.cookies.get_dict().items() if v is not None})
    return response.status_code, jar


def wait_for_mail(server: SmtpServer, recipient: str, details: Callable[[], str],
                  timeout: float = 60) -> EmailMessage:
    """The one message ``server`` receives for ``recipient`` (waits for it)."""
    def arrived() -> bool:
        return any(recipient in message.rcpt_tos for message in server.received)

    wait_until(arrived, f"an e-mail to {recipient}", timeout=timeout, interval=0.2, details=details)
    time.sleep(0.5)  # room for a duplicate
    found = [message for message in server.received if recipient in message.rcpt_tos]
    assert len(found) == 1, f"{len(found)} e-mails to {recipient}"
    return found[0].message


def sign_until_frozen(app: Flask, details: Callable[[], str], *, create_secretariat: bool) -> None:
    """A declaration that one city signs, through the services of ``app`` (configured as the processes are);
    the worker must then freeze it, which needs the platform key."""
    network = seed_network(app, (("Sofia", "Bulgaria"),), observer=False, create_secretariat=create_secretariat)
    enrol_keys(app, network)
    open_declaration(app, network)
    for delegate in network.delegates:
        sign(app, delegate)
    wait_until(lambda: declaration_status(app) == "frozen", "the worker to freeze the declaration", timeout=90,
               interval=0.5, details=details)
