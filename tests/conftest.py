"""Shared fixtures: a fresh, migrated database per test on SQLite and PostgreSQL.

The schema is built once per session with the real Alembic migrations into a
template (a SQLite file, a PostgreSQL template database); each test gets its own
copy. A part that is absent (PostgreSQL, Redis, Chromium) skips its tests with
the reason, except under ``CI=true``, where it fails them.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(part: str, reason: str) -> None:
    """Skip with the reason, or fail under CI=true where every part must be present."""
    message = f"{part} unavailable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing part is a failure)", pytrace=False)
    pytest.skip(message)


@contextmanager
def emptied_redis(url: str, setting: str) -> Iterator[Any]:
    """A client of the dedicated Redis database ``url`` (from the variable ``setting``), emptied before and after.

    Missing Redis is a skip (a failure under CI=true); database 0 is refused, so a test never empties real data.
    """
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        missing("Redis", f"cannot reach {url}: {exc}")
    if int(client.connection_pool.connection_kwargs.get("db", 0)) == 0:
        client.close()
        pytest.fail(f"{setting}={url} names Redis database 0; use a dedicated one such as /15")
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


def _pg_url(database: str) -> str:
    return make_url(TEST_POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


def _pg_admin() -> Any:
    return create_engine(TEST_POSTGRES_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def base_overrides(instance: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "MAIL_FILE_DIR": str(instance / "mail"),
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 8192,
        "ARGON2_PARALLELISM": 1,
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "RESET_RATE_LIMIT": "1000 per minute",
        "PUBLIC_URL": "http://accord.test",
    }


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    from signing import create_app
    from signing.extensions import db

    app = create_app({**base_overrides(instance), "SQLALCHEMY_DATABASE_URI": url}, instance_path=instance)
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(f"sqlite:///{path}", folder / "instance")
    return path


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    try:
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any failure means "not available"
        yield None
        return
    name = f"accord_tpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _migrate(_pg_url(name), tmp_path_factory.mktemp("pg-template") / "instance")
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database; parametrised by ``backend`` (default: sqlite)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "test.sqlite3"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    pg_name: str | None = request.getfixturevalue("pg_template")
    if pg_name is None:
        missing("PostgreSQL", f"cannot connect to {TEST_POSTGRES_URL}")
    name = f"accord_t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


BACKENDS = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def app_factory(database_url: str, instance_dir: Path) -> Iterator[Callable[..., Flask]]:
    """Build an app on this test's database; keyword arguments override the config."""
    from signing import create_app
    from signing.extensions import db

    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        config = {**base_overrides(instance_dir), "SQLALCHEMY_DATABASE_URI": database_url, **overrides}
        app = create_app(config, instance_path=instance_dir)
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Iterator[Flask]:
    app = app_factory()
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class People:
    secretariat: Any
    observer: Any
    delegate: Any
    other_delegate: Any
    city: Any
    other_city: Any

    def by_role(self, name: str) -> Any:
        return getattr(self, name)


def seed_people() -> People:
    """Two cities and one account of each kind, all with ``PASSWORD`` (inside an app context)."""
    from signing.models import Role
    from signing.services import accounts, cities

    izmir = cities.create_city("İzmir", "Türkiye", None)
    athens = cities.create_city("Athens", "Greece", None)
    return People(
        secretariat=accounts.create_user("sec@b40.example", "Secretariat", Role.SECRETARIAT, password=PASSWORD),
        observer=accounts.create_user("obs@b40.example", "Observer", Role.OBSERVER, password=PASSWORD),
        delegate=accounts.create_user("izmir@b40.example", "İzmir delegate", Role.DELEGATE, city=izmir,
                                      password=PASSWORD),
        other_delegate=accounts.create_user("athens@b40.example", "Athens delegate", Role.DELEGATE, city=athens,
                                            password=PASSWORD),
        city=izmir,
        other_city=athens,
    )


@pytest.fixture
def people(app: Flask) -> People:
    """Two cities and one account of each kind, all with ``PASSWORD``."""
    return seed_people()


_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """A CSRF token valid for this client's session, read from a rendered form."""
    response = client.get(path)
    match = _CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} (status {response.status_code})"
    return match.group(1)


def login(client: FlaskClient, email_address: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email_address, "password": password})


@pytest.fixture
def login_as(client: FlaskClient, people: People) -> Callable[[str], FlaskClient]:
    """``login_as("delegate")`` logs the test client in as that person (or stays anonymous)."""

    def do(role: str) -> FlaskClient:
        if role != "anonymous":
            response = login(client, people.by_role(role).email)
            assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do


def read_mail(folder: str | Path) -> list[EmailMessage]:
    """Messages written by the file mail transport, oldest first."""
    paths = sorted(Path(folder).glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in paths]  # type: ignore[misc]


def message_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def link_in(message: EmailMessage, path_prefix: str) -> str:
    """The path of the first link in the message that starts with ``path_prefix``."""
    match = re.search(r"http://accord\.test(" + re.escape(path_prefix) + r"[^\s\"<]+)", message_text(message))
    assert match, message_text(message)
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def fresh_g() -> Iterator[None]:
    """Start every request with an empty ``flask.g``, as a real server does.

    The ``app`` fixture keeps an application context pushed for the whole test, and a
    test-client request reuses a pushed context of the same app, so ``g`` would outlive
    the request: Flask-Login's cached ``g._login_user`` and Flask-WTF's ``g.csrf_token``
    would leak into the next request, even one from another client (another browser).
    It is on for every test (autouse).
    """
    from flask import g, request_started

    def clear(sender: Flask, **extra: Any) -> None:
        vars(g._get_current_object()).clear()

    request_started.connect(clear)
    try:
        yield
    finally:
        request_started.disconnect(clear)


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    """The interface's catalogs compiled, as ``make translations`` does (``make test`` runs it first; this
    covers a bare ``pytest``): a ``.mo`` missing or older than its ``.po`` is compiled again."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in Path(__file__).resolve().parent.parent.glob("signing/translations/*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with open(po_path, "rb") as po:
            catalog = read_po(po, locale=po_path.parent.parent.name)
        with open(mo_path, "wb") as mo:
            write_mo(mo, catalog)
