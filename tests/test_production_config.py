"""Production configuration against real services.

PostgreSQL, Redis, an SMTP server (aiosmtpd on 127.0.0.1) and, for the Celery
path, a real worker process. Each part that is absent skips its tests with the
reason (``missing``), or fails them under ``CI=true``.

The client requests here run outside any app context the test holds: a request
reuses an app context that is already pushed for the same app, and with it
``g`` (where Flask-Login caches the current user), which would let one client
see another's login.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import ConfigError
from tests.conftest import (
    PASSWORD,
    TEST_REDIS_URL,
    csrf_token,
    emptied_redis,
    free_port,
    link_in,
    login,
    message_text,
    missing,
)
from tests.smtp_sink import RecordingHandler, SmtpServer, smtp_servers

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

SECRET_KEY = "production-secret-" + "y" * 40
MAIL_FROM_ADDRESS = "accord@accord.test"
MAIL_FROM = f"Accord Test <{MAIL_FROM_ADDRESS}>"
SECRETARIAT_EMAIL = "sec@b40.example"
INVITEE_NAME = "Nikos Delegate"
INVITEE_EMAIL = "nikos@athens.example"
NEW_PASSWORD = "a brand new passphrase for Nikos"

# Everything load_config reads from the environment: cleared first so the outer shell cannot leak in.
ENV_NAMES = (
    "DATABASE_URL", "SECRET_KEY", "REDIS_URL", "TASK_MODE", "SMTP_HOST", "SMTP_PORT", "SMTP_USER",
    "SMTP_PASSWORD", "SMTP_TLS", "SMTP_TIMEOUT", "MAIL_FROM", "PUBLIC_URL", "SESSION_COOKIE_SECURE",
    "LOGIN_RATE_LIMIT", "RESET_RATE_LIMIT", "ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM",
    "REQUIRE_2FA_FOR_SECRETARIAT",
)


# --- An SMTP server that records what it receives ------------------------------------------------


@dataclass
class RefusingHandler(RecordingHandler):
    """Refuses every recipient for good."""

    async def handle_RCPT(  # aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        return "550 no such user"


@pytest.fixture
def smtp_factory() -> Iterator[Callable[..., SmtpServer]]:
    """``start(handler=None, port=None)`` runs an aiosmtpd server on 127.0.0.1; all are stopped after."""
    yield from smtp_servers()


@pytest.fixture
def smtp_server(smtp_factory: Callable[..., SmtpServer]) -> SmtpServer:
    return smtp_factory()


# --- Redis, the environment, the app --------------------------------------------------------------


@pytest.fixture
def redis_db() -> Iterator[Any]:
    """The dedicated test database of TEST_REDIS_URL (/15), emptied before and after the test."""
    with emptied_redis(TEST_REDIS_URL, "TEST_REDIS_URL") as client:
        yield client


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """monkeypatch, with every configuration variable removed from the environment first."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def production_env(
    database_url: str, smtp_port: int, *, task_mode: str = "inline", redis: bool = True
) -> dict[str, str]:
    values = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_TLS": "none",
        "SMTP_TIMEOUT": "5",
        "MAIL_FROM": MAIL_FROM,
        "TASK_MODE": task_mode,
        "PUBLIC_URL": "http://accord.test",
        # These tests drive the secretariat's pages with a password alone (tests/test_second_factor.py
        # checks that production mode requires a second factor of the secretariat by default).
        "REQUIRE_2FA_FOR_SECRETARIAT": "false",
    }
    if redis:
        values["REDIS_URL"] = TEST_REDIS_URL
    return values


def production_app(app_factory: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, values: dict[str, str],
                   **overrides: Any) -> Flask:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return app_factory(**overrides)


def seed(app: Flask) -> str:
    """A secretariat account and a city; returns the city's slug."""
    from signing.models import Role
    from signing.services import accounts, cities

    with app.app_context():
        accounts.create_user(SECRETARIAT_EMAIL, "Secretariat", Role.SECRETARIAT, password=PASSWORD)
        return cities.create_city("Athens", "Greece", None).slug


def secretariat_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    response = login(client, SECRETARIAT_EMAIL)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def invite(client: FlaskClient, slug: str, email_address: str = INVITEE_EMAIL) -> Any:
    token = csrf_token(client, f"/admin/cities/{slug}")
    return client.post(
        f"/admin/cities/{slug}/invite",
        data={"csrf_token": token, "display_name": INVITEE_NAME, "email": email_address},
    )


def outbox_rows(app: Flask) -> list[Any]:
    """Every outbox row, freshly read and detached (plain attributes stay readable)."""
    from sqlalchemy import select

    from signing.extensions import db
    from signing.models import OutboxEmail

    with app.app_context():
        rows = list(db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))
        db.session.expunge_all()
        return rows


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


# --- a. No SECRET_KEY in production ---------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""], ids=["unset", "empty"])
def test_production_without_secret_key_refuses_to_start(env: pytest.MonkeyPatch, tmp_path: Path,
                                                       secret: str | None) -> None:
    from signing import create_app

    env.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/accord")
    if secret is not None:
        env.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(instance_path=tmp_path / "instance")
    assert not (tmp_path / "instance" / "secret_key").exists(), "production must not invent a key"


# --- b. Production mode: PostgreSQL, SMTP, Redis -------------------------------------------------


@POSTGRES
def test_production_mode_sends_mail_over_smtp(app_factory: Callable[..., Flask], database_url: str,
                                              env: pytest.MonkeyPatch, smtp_server: SmtpServer,
                                              redis_db: Any) -> None:
    app = production_app(app_factory, env, production_env(database_url, smtp_server.port))
    assert app.config["PRODUCTION"] is True
    assert app.config["MAIL_BACKEND"] == "smtp"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["RATELIMIT_STORAGE_URI"] == TEST_REDIS_URL
    assert app.config["TASK_MODE"] == "inline"
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert app.config["PUBLIC_URL"] == "http://accord.test"
    slug = seed(app)

    client = app.test_client()
    response = login(client, SECRETARIAT_EMAIL)
    assert response.status_code == 302
    session_cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert session_cookies and all("Secure" in c and "HttpOnly" in c for c in session_cookies), session_cookies

    response = invite(client, slug)
    assert response.status_code == 302, response.get_data(as_text=True)
    wait_for(lambda: len(smtp_server.received) >= 1, 10, "the invitation over SMTP")
    assert len(smtp_server.received) == 1
    got = smtp_server.received[0]
    assert got.mail_from == MAIL_FROM_ADDRESS
    assert got.rcpt_tos == [INVITEE_EMAIL]
    message = got.message
    assert message["To"] == INVITEE_EMAIL
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert re.search(r"http://accord\.test/invitation/\S+", message_text(message))
    html = message.get_body(preferencelist=("html",))
    assert html is not None and 'href="http://accord.test/invitation/' in str(html.get_content())
    invitation_path = link_in(message, "/invitation/")

    guest = app.test_client()
    token = csrf_token(guest, invitation_path)
    response = guest.post(invitation_path, data={"csrf_token": token, "password": NEW_PASSWORD,
                                                 "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert f"Welcome, {INVITEE_NAME}" in guest.get("/").get_data(as_text=True)

    anonymous = app.test_client()
    token = csrf_token(anonymous, "/reset")
    response = anonymous.post("/reset", data={"csrf_token": token, "email": INVITEE_EMAIL})
    assert response.status_code == 302
    # The reset link is made once the answer is sent (the same work for every address before it), when the WSGI
    # server closes the response; the test client leaves that to the caller.
    response.close()
    wait_for(lambda: len(smtp_server.received) >= 2, 10, "the password reset over SMTP")
    assert len(smtp_server.received) == 2
    reset = smtp_server.received[1]
    assert reset.rcpt_tos == [INVITEE_EMAIL]
    reset_path = link_in(reset.message, "/reset/")
    assert anonymous.get(reset_path).status_code == 200

    rows = outbox_rows(app)
    assert [(r.template, r.recipient, r.status, r.attempts) for r in rows] == [
        ("invitation", INVITEE_EMAIL, "sent", 1),
        ("password_reset", INVITEE_EMAIL, "sent", 1),
    ]
    for row in rows:
        assert row.sent_at is not None and row.last_error is None
        assert not [key for key in row.context if key.startswith("secret_")], row.context
        assert "display_name" in row.context  # only the secrets are dropped


# --- c. SMTP down: the invitation stands, the mail waits for drain --------------------------------


@POSTGRES
def test_smtp_down_keeps_mail_pending_until_drain(app_factory: Callable[..., Flask], database_url: str,
                                                  env: pytest.MonkeyPatch,
                                                  smtp_factory: Callable[..., SmtpServer]) -> None:
    from signing.services import outbox

    port = free_port()  # nothing listens here yet
    app = production_app(app_factory, env, production_env(database_url, port, redis=False))
    slug = seed(app)

    response = invite(secretariat_client(app), slug)
    assert response.status_code == 302, response.get_data(as_text=True)
    [row] = outbox_rows(app)
    assert (row.status, row.attempts, row.sent_at) == ("pending", 1, None)
    assert row.last_error and "cannot connect" in row.last_error
    assert "secret_url" in row.context  # still needed to send it later

    server = smtp_factory(port=port)
    with app.app_context():
        assert outbox.drain() == {"emails": 1, "tasks": 0}
    wait_for(lambda: len(server.received) >= 1, 10, "the drained invitation")
    with app.app_context():
        assert outbox.drain() == {"emails": 0, "tasks": 0}
    time.sleep(0.3)
    assert len(server.received) == 1
    assert server.received[0].rcpt_tos == [INVITEE_EMAIL]
    assert "/invitation/" in message_text(server.received[0].message)
    [row] = outbox_rows(app)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert "secret_url" not in row.context


# --- d. Permanent refusal: the row fails and the secretariat sees it ------------------------------


@POSTGRES
def test_permanent_refusal_marks_mail_failed(app_factory: Callable[..., Flask], database_url: str,
                                             env: pytest.MonkeyPatch,
                                             smtp_factory: Callable[..., SmtpServer]) -> None:
    server = smtp_factory(handler=RefusingHandler())
    app = production_app(app_factory, env, production_env(database_url, server.port, redis=False))
    slug = seed(app)
    client = secretariat_client(app)

    response = invite(client, slug)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert server.received == []
    [row] = outbox_rows(app)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error and "550" in row.last_error and "no such user" in row.last_error

    page = client.get("/admin/mail")
    assert page.status_code == 200
    failed_rows = re.findall(r'<tr class="mail-failed">(.*?)</tr>', page.get_data(as_text=True), re.DOTALL)
    assert len(failed_rows) == 1
    assert INVITEE_EMAIL in failed_rows[0] and "no such user" in failed_rows[0]


# --- e. Login rate limit kept in Redis ------------------------------------------------------------


@POSTGRES
def test_login_rate_limit_is_kept_in_redis(app_factory: Callable[..., Flask], database_url: str,
                                           env: pytest.MonkeyPatch, redis_db: Any) -> None:
    values = production_env(database_url, free_port())
    app = production_app(app_factory, env, values, LOGIN_RATE_LIMIT="3 per minute")
    assert app.config["RATELIMIT_STORAGE_URI"] == TEST_REDIS_URL
    seed(app)

    def attempt(client: FlaskClient) -> int:
        token = csrf_token(client, "/login")
        data = {"csrf_token": token, "email": SECRETARIAT_EMAIL, "password": "wrong password, again"}
        return client.post("/login", data=data).status_code

    client = app.test_client()
    assert [attempt(client) for _ in range(3)] == [401, 401, 401]
    response = client.post("/login", data={"csrf_token": csrf_token(client, "/login"),
                                           "email": SECRETARIAT_EMAIL, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert redis_db.dbsize() > 0, "the limiter kept nothing in Redis"

    # Another app process shares the counter through Redis: still refused.
    other = production_app(app_factory, env, values, LOGIN_RATE_LIMIT="3 per minute")
    assert attempt(other.test_client()) == 429


# --- f. TASK_MODE=celery with a real worker process ------------------------------------------------


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
@POSTGRES
def test_celery_worker_sends_the_invitation(app_factory: Callable[..., Flask], database_url: str,
                                            env: pytest.MonkeyPatch, smtp_server: SmtpServer, redis_db: Any,
                                            tmp_path: Path) -> None:
    celery_bin = Path(sys.executable).parent / "celery"
    if not celery_bin.exists():
        missing("Celery", f"no {celery_bin}")
    values = production_env(database_url, smtp_server.port, task_mode="celery")
    app = production_app(app_factory, env, values)
    assert app.config["TASK_MODE"] == "celery"
    slug = seed(app)

    # As the README's Production section starts it: from the project's folder, no PYTHONPATH.
    worker_env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES and k != "PYTHONPATH"}
    worker_env.update(values, PYTHONUNBUFFERED="1")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [str(celery_bin), "-A", "workers", "worker", "--loglevel=INFO", "--concurrency=1", "--pool=solo",
             "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"accord-test-{os.getpid()}@%h"],
            cwd=REPO_ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT,
        )

    def worker_log() -> str:
        return log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    try:
        response = invite(secretariat_client(app), slug)
        assert response.status_code == 302, response.get_data(as_text=True)
        [row] = outbox_rows(app)
        assert row.published_at is not None, "the web process did not publish the task"
        assert smtp_server.received == []  # the web process itself sends nothing

        deadline = time.monotonic() + 30
        while not smtp_server.received:
            if worker.poll() is not None:
                pytest.fail(f"the worker exited with {worker.returncode}:\n{worker_log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no mail from the worker within 30 s:\n{worker_log()}")
            time.sleep(0.2)
        wait_for(lambda: outbox_rows(app)[0].status == "sent", 10, "the worker to mark the row sent")
        time.sleep(1)  # room for a duplicate to show up
        assert len(smtp_server.received) == 1, worker_log()
        assert smtp_server.received[0].rcpt_tos == [INVITEE_EMAIL]
        assert link_in(smtp_server.received[0].message, "/invitation/")
        [row] = outbox_rows(app)
        assert (row.status, row.attempts) == ("sent", 1)
        assert "workers.tasks.send_email" in worker_log()
    finally:
        _stop(worker)
