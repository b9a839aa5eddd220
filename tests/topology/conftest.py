"""The production topology without Docker: real processes, each started and stopped by a fixture.

What the tests start, always on 127.0.0.1 and free ports, and always stop (SIGTERM to the
process group, then SIGKILL):

- a fresh database on the shared PostgreSQL (``TEST_POSTGRES_URL``), dropped afterwards;
- a dedicated database of the shared Redis (``TOPOLOGY_REDIS_URL``, default ``/11``), flushed
  before and after — or a ``redis-server`` of the test's own (the fault tests stop it);
- an aiosmtpd server per test, with a handler the test chooses;
- ``gunicorn wsgi:app``, ``celery -A workers worker`` and ``celery -A workers beat`` subprocesses,
  started from the project's folder as the README's Production section says (no ``PYTHONPATH``)
  and configured only through the environment, as in ``docker-compose.yml``.

The test process itself builds the same app in-process (same environment) to set up data,
inspect the outbox and run the sweep. A part that is absent skips (``missing``), or fails
under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from tests.conftest import PASSWORD, TEST_POSTGRES_URL, emptied_redis, free_port, missing
from tests.smtp_sink import Received, RecordingHandler, SmtpServer, smtp_servers

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
TOPOLOGY_REDIS_URL = os.environ.get("TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/11")
REDIS_SERVER = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
WAIT = 60.0  # the longest any single wait may take
COMMAND_TIMEOUT = 60

SECRET_KEY = "topology-secret-" + "z" * 40
MAIL_FROM_ADDRESS = "accord@accord.test"
PUBLIC_URL = "http://accord.test"
TITLE = "Black Sea Cities Declaration"
TEXT = "# Black Sea Cities\n\nFirst paragraph.\n\nSecond paragraph, with İzmir and Chișinău.\n"
CITIES = (("İzmir", "Türkiye"), ("Athens", "Greece"), ("Sofia", "Bulgaria"))

# Everything config.py reads: removed from the outer environment so nothing leaks in.
ENV_NAMES = (
    "DATABASE_URL", "SECRET_KEY", "REDIS_URL", "TASK_MODE", "SMTP_HOST", "SMTP_PORT", "SMTP_USER",
    "SMTP_PASSWORD", "SMTP_TLS", "SMTP_TIMEOUT", "MAIL_FROM", "PUBLIC_URL", "SESSION_COOKIE_SECURE",
    "LOGIN_RATE_LIMIT", "RESET_RATE_LIMIT", "ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM",
    "PLATFORM_KEY_PATH", "SEAL_KEY_PATH", "SEAL_CERT_PATH", "SEAL_TSA_URL", "WEBHOOKS_ALLOW_PRIVATE",
    "WEBHOOKS_TIMEOUT_SECONDS", "WEBHOOKS_DISABLE_AFTER_FAILURES",
    "SIGNING_PAYLOAD_TTL_SECONDS", "REMINDER_DAYS", "OUTBOX_STALE_SECONDS",
    "REQUIRE_2FA_FOR_SECRETARIAT", "TRUSTED_PROXIES", "HSTS_MAX_AGE",
)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT, interval: float = 0.1,
               details: Callable[[], str] = lambda: "") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds (with ``details()``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{details()}", pytrace=False)
        time.sleep(interval)


_CHATTER = re.compile(r"INFO/ForkPoolWorker-\d+\] (?!Task )")


# --- Processes -------------------------------------------------------------------------------------------


@dataclass
class Process:
    """One subprocess, leader of its own process group, its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self, tail: int = 6000) -> str:
        """The end of the log, without the pool processes' chatter (fontTools' INFO lines on every PDF)."""
        try:
            content = self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return ""
        lines = [line for line in content.splitlines(keepends=True) if not _CHATTER.search(line)]
        return "".join(lines)[-tail:]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for_log(self, pattern: str, what: str, timeout: float = WAIT) -> re.Match[str]:
        """Wait until the log matches ``pattern``; fail early if the process exits."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            match = re.search(pattern, self.log(tail=10**7))
            if match:
                found.append(match)
                return True
            if not self.alive():
                pytest.fail(f"{self.name} exited with {self.popen.returncode} before {what}:\n{self.log()}",
                            pytrace=False)
            return False

        wait_until(seen, what, timeout, interval=0.05, details=self.log)
        return found[0]

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole group at once (the process and its children), as a crash would."""
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=15)

    def stop(self) -> None:
        """SIGTERM the group, then SIGKILL whatever is left of it."""
        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=15)
        self._signal_group(signal.SIGKILL)  # children that outlived their parent


class Processes:
    """Starts the topology's processes (in ``cwd``, the project root by default); ``stop_all`` stops them."""

    def __init__(self, folder: Path, cwd: Path = REPO_ROOT) -> None:
        self.folder = folder
        self.cwd = cwd
        self.started: list[Process] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        log_path = self.folder / f"{name}-{len(self.started)}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        process = Process(name, popen, log_path)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.popen.pid}, rc {p.popen.poll()}) ---\n{p.log(3000)}"
                         for p in self.started)

    def worker(self, env: dict[str, str], name: str = "worker", concurrency: int = 2) -> Process:
        """``celery -A workers worker``; returns once it consumes."""
        process = self.start(name, [
            str(BIN / "celery"), "-A", "workers", "worker", "--loglevel=INFO", f"--concurrency={concurrency}",
            "--without-gossip", "--without-mingle", "-n", f"{name}-{uuid.uuid4().hex[:8]}@%h",
        ], env)
        process.wait_for_log(r"@\S+ ready\.", f"{name} to be ready")
        return process

    def beat(self, env: dict[str, str], schedule: Path) -> Process:
        process = self.start("beat", [
            str(BIN / "celery"), "-A", "workers", "beat", "--loglevel=INFO", "--schedule", str(schedule),
        ], env)
        process.wait_for_log(r"beat: Starting", "beat to start")
        return process

    def gunicorn(self, env: dict[str, str], port: int, workers: int = 2) -> Process:
        """``gunicorn wsgi:app``; returns once it answers HTTP."""
        import requests

        process = self.start("gunicorn", [
            str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "wsgi:app",
        ], env)

        def answers() -> bool:
            if not process.alive():
                pytest.fail(f"gunicorn exited with {process.popen.returncode}:\n{process.log()}", pytrace=False)
            try:
                return requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(answers, "gunicorn to answer", interval=0.2, details=process.log)
        return process


# --- PostgreSQL ---------------------------------------------------------------------------------------------


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh, empty database on the shared PostgreSQL (dropped afterwards, connections and all)."""
    admin = create_engine(TEST_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not available"
        admin.dispose()
        missing("PostgreSQL", f"cannot connect to {TEST_POSTGRES_URL}: {type(exc).__name__}")
    name = f"accord_topo_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def lock_waiters(database_url: str) -> list[str]:
    """The statements of the sessions on this database waiting for a lock (seen from an admin connection)."""
    admin = create_engine(TEST_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return [str(query) for query in conn.execute(
                text("SELECT query FROM pg_stat_activity WHERE datname = :name AND wait_event_type = 'Lock'"),
                {"name": make_url(database_url).database},
            ).scalars()]
    finally:
        admin.dispose()


@pytest.fixture
def procs(database: str, tmp_path: Path) -> Iterator[Processes]:
    """The processes of one test, stopped after it (before its database is dropped)."""
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


# --- Redis ------------------------------------------------------------------------------------------------------


@pytest.fixture
def shared_redis() -> Iterator[str]:
    """The dedicated database of the shared Redis (TOPOLOGY_REDIS_URL), emptied before and after."""
    with emptied_redis(TOPOLOGY_REDIS_URL, "TOPOLOGY_REDIS_URL"):
        yield TOPOLOGY_REDIS_URL


class RedisServer:
    """A ``redis-server`` of the test's own, on a free port; stopped and restarted on the same port.

    Its data is kept in an append-only file fsynced on every write, as a production Redis keeps
    its queues across a restart.
    """

    def __init__(self, procs: Processes, folder: Path) -> None:
        self.procs = procs
        self.folder = folder
        self.port = free_port()
        self.process: Process | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url(), socket_connect_timeout=1, socket_timeout=5)

    def ping(self) -> bool:
        import redis

        client = self.client()
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = self.procs.start("redis", [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--protected-mode", "yes",
            "--dir", str(self.folder), "--save", "", "--appendonly", "yes", "--appendfsync", "always",
            "--daemonize", "no",
        ], {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        process = self.process
        wait_until(lambda: process.alive() and self.ping(), f"redis-server on port {self.port}",
                   timeout=30, details=process.log)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        wait_until(lambda: not self.ping(), f"redis-server on port {self.port} to stop", timeout=15)


@pytest.fixture
def redis_server(procs: Processes, tmp_path: Path) -> RedisServer:
    """A started ``redis-server`` of this test (stopped with the other processes)."""
    if not Path(REDIS_SERVER).exists():
        missing("redis-server", f"no {REDIS_SERVER}")
    server = RedisServer(procs, tmp_path / "redis")
    server.start()
    return server


# --- SMTP -----------------------------------------------------------------------------------------------------


@dataclass
class FlakyHandler(RecordingHandler):
    """Answers ``451`` (try again later) to the first ``failures`` attempts, then accepts."""

    failures: int = 2

    def answer(self) -> str | None:
        if len(self.attempts) <= self.failures:
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        return None


@pytest.fixture
def smtp_factory() -> Iterator[Callable[..., SmtpServer]]:
    """``start(handler=None)``: an aiosmtpd server on 127.0.0.1 and a free port; all stopped after."""
    yield from smtp_servers()


def mail_counts(received: list[Received]) -> Counter[tuple[str, str]]:
    return Counter(message.pair for message in received)


def assert_each_once(received: list[Received]) -> None:
    duplicates = {pair: n for pair, n in mail_counts(received).items() if n > 1}
    assert not duplicates, f"e-mails sent more than once: {duplicates}"


# --- Environment and the in-process app ---------------------------------------------------------------------


def service_env(database_url: str, redis_url: str, smtp_port: int, key_path: Path, **extra: str) -> dict[str, str]:
    """The production configuration of every process (as docker-compose's ``x-accord-env``)."""
    values = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "REDIS_URL": redis_url,
        "TASK_MODE": "celery",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_TLS": "none",
        "SMTP_TIMEOUT": "5",
        "MAIL_FROM": f"Accord Topology <{MAIL_FROM_ADDRESS}>",
        "PUBLIC_URL": PUBLIC_URL,
        "PLATFORM_KEY_PATH": str(key_path),
        "SEAL_KEY_PATH": str(key_path.parent / "seal_key.pem"),
        "SEAL_CERT_PATH": str(key_path.parent / "seal.crt"),
        "SESSION_COOKIE_SECURE": "false",
        # Cheap password hashes: the tests enrol keys (the password is checked again) many times.
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "8192",
        "ARGON2_PARALLELISM": "1",
    }
    values.update(extra)
    return values


def process_env(values: dict[str, str]) -> dict[str, str]:
    """The environment of a subprocess: the outer one without any configuration, plus ``values``.

    No ``PYTHONPATH``: each command finds the project from the folder it starts in, as the README's.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ENV_NAMES and k != "PYTHONPATH" and not k.startswith(("CELERY_", "FLASK_", "PYTEST_"))}
    env.update(values, PYTHONUNBUFFERED="1")
    return env


def flask_cli(values: dict[str, str], *args: str) -> str:
    """``flask --app wsgi ARGS`` in a subprocess with the production environment; returns its output."""
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=REPO_ROOT, env=process_env(values),
                            capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    assert result.returncode == 0, f"flask {' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def app_builder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Flask]]:
    """``build(values)``: the app in this process, configured by the same environment as the services."""
    from signing import create_app
    from signing.extensions import db

    built: list[Flask] = []

    def build(values: dict[str, str]) -> Flask:
        for name in ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        app = create_app(instance_path=tmp_path / "instance")
        built.append(app)
        return app

    try:
        yield build
    finally:
        for app in built:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def migrate(app: Flask) -> None:
    """The real Alembic migrations, in this process (``flask db upgrade``)."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


# --- Data ---------------------------------------------------------------------------------------------------------


@dataclass
class Delegate:
    user_id: int
    email: str
    display_name: str
    city_slug: str
    city_name: str
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    fingerprint: str = ""

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class Network:
    secretariat_id: int
    secretariat_email: str
    delegates: list[Delegate]
    others: list[str]  # e-mail addresses of the other members (observers)

    @property
    def everyone(self) -> list[str]:
        return [self.secretariat_email, *self.others, *(d.email for d in self.delegates)]


SECRETARIAT_EMAIL = "sec@b40.example"


def seed_network(app: Flask, cities: tuple[tuple[str, str], ...] = CITIES, *, observer: bool = True,
                 create_secretariat: bool = True) -> Network:
    """Cities with one delegate each, an observer, and the secretariat (made here unless it exists)."""
    from signing.models import Role
    from signing.services import accounts
    from signing.services import cities as city_service

    with app.app_context():
        if create_secretariat:
            secretariat = accounts.create_user(SECRETARIAT_EMAIL, "Secretariat", Role.SECRETARIAT, password=PASSWORD)
        else:
            found = accounts.find_by_email(SECRETARIAT_EMAIL)
            assert found is not None, "the secretariat account is missing"
            secretariat = found
        others = []
        if observer:
            others.append(accounts.create_user("obs@b40.example", "Observer", Role.OBSERVER, password=PASSWORD).email)
        delegates = []
        for name, country in cities:
            city = city_service.create_city(name, country, None)
            user = accounts.create_user(f"{city.slug}@b40.example", f"{name} delegate", Role.DELEGATE, city=city,
                                        password=PASSWORD)
            delegates.append(Delegate(user.id, user.email, user.display_name, city.slug, city.name))
        return Network(secretariat.id, secretariat.email, delegates, others)


def enrol_keys(app: Flask, network: Network) -> None:
    """Each delegate enrols the public key of a private key that only the test holds."""
    from signing.core.payload import b64encode
    from signing.extensions import db
    from signing.models import User
    from signing.services import keys

    with app.app_context():
        for delegate in network.delegates:
            user = db.session.get(User, delegate.user_id)
            row = keys.enrol(user, b64encode(delegate.public_key), "laptop", PASSWORD, origin="cli")
            delegate.fingerprint = row.fingerprint


def api_tokens(app: Flask, network: Network) -> dict[int, str]:
    """A bearer token per delegate (user id -> token), made with the tokens service."""
    from signing.extensions import db
    from signing.models import User
    from signing.services import tokens

    with app.app_context():
        return {d.user_id: tokens.create(db.session.get(User, d.user_id), "topology test")[1]
                for d in network.delegates}


def open_declaration(app: Flask, network: Network, slug: str = "black-sea") -> int:
    """A declaration in consultation, then open for signature by every city on revision 1 (rule "all")."""
    from signing.extensions import db
    from signing.models import User
    from signing.services import declarations

    with app.app_context():
        secretariat = db.session.get(User, network.secretariat_id)
        declaration = declarations.create(TITLE, TEXT, secretariat, slug=slug)
        declarations.open_consultation(declaration, secretariat)
        declarations.open_signing(declaration, 1, secretariat, rule_kind="all")
        return int(declaration.id)


def sign(app: Flask, delegate: Delegate, slug: str = "black-sea") -> None:
    """The delegate's whole signing round trip, through the services (payload, offline signature, submit)."""
    from signing.extensions import db
    from signing.models import User
    from signing.services import declarations, signatures

    with app.app_context():
        user = db.session.get(User, delegate.user_id)
        declaration = declarations.get(slug)
        issued = signatures.issue_signature_payload(declaration, user, delegate.fingerprint)
        data = bytes(issued.payload)
        declaration = declarations.get(slug)
        signatures.submit_signature(declaration, user, data, delegate.private_key.sign(data))


def rows(app: Flask, model: Any, *where: Any) -> list[Any]:
    """Rows read afresh and detached (their loaded attributes stay readable)."""
    from signing.extensions import db

    with app.app_context():
        found = list(db.session.scalars(select(model).where(*where).order_by(model.id)))
        db.session.expunge_all()
        db.session.remove()
        return found


def count(app: Flask, model: Any, *where: Any) -> int:
    from signing.extensions import db

    with app.app_context():
        value = int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)
        db.session.remove()
        return value


def declaration_status(app: Flask, slug: str = "black-sea") -> str:
    from signing.models import Declaration

    [declaration] = rows(app, Declaration, Declaration.slug == slug)
    return str(declaration.status)


def all_mail_sent(app: Flask) -> bool:
    from signing.models import OutboxEmail

    return count(app, OutboxEmail, OutboxEmail.status != "sent") == 0


# --- The bundle's VERIFY.txt ------------------------------------------------------------------------------------


def _bash(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=folder, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT, check=False, env={"PATH": "/usr/local/bin:/usr/bin:/bin"})


def _first_word(result: subprocess.CompletedProcess[str]) -> str:
    words = result.stdout.split()
    return words[0] if words else ""


def run_verify_txt(folder: Path, platform_fingerprint: str) -> tuple[int, list[str]]:
    """Run every command VERIFY.txt prints (bash, in the unpacked folder) and check what each must print.

    Returns how many signatures ``openssl pkeyutl -verify`` verified, and the failed checks.
    """
    document = (folder / "VERIFY.txt").read_text("utf-8")
    hash_line = re.search(r"its SHA-256 must be ([0-9a-f]{64})", document)
    assert hash_line, document
    commands = [line.strip() for line in document.splitlines()
                if line.startswith("   ") and (line.split()[0] in {"openssl", "sha256sum", "grep", "find"}
                                                or line.strip().startswith("nss=$(mktemp"))]
    failures: list[str] = []
    verified = 0
    for index, line in enumerate(commands):
        command, _, comment = line.partition("    # ")
        expect = comment.removeprefix("expect ").strip()
        if command.startswith("grep -o"):
            continue  # checked with the ``sha256sum SHA256SUMS`` before it
        result = _bash(command, folder)
        if command.startswith("openssl pkeyutl -verify"):
            ok = result.returncode == 0 and "Signature Verified Successfully" in result.stdout
            verified += ok
        elif command.startswith("openssl pkey "):
            ok = _first_word(result) == (expect or platform_fingerprint.removeprefix("sha256:"))
        elif command == "sha256sum -c SHA256SUMS":
            lines = result.stdout.splitlines()
            ok = result.returncode == 0 and bool(lines) and all(out.endswith(": OK") for out in lines)
        elif command == "sha256sum SHA256SUMS":
            grep = commands[index + 1]
            assert grep.startswith("grep -o"), grep
            ok = _bash(grep, folder).stdout.strip() == f'"SHA256SUMS":"{_first_word(result)}"'
        elif command.startswith("find "):
            ok = result.returncode == 0 and result.stdout == ""
        elif command == "sha256sum declaration.md":
            ok = _first_word(result) == hash_line.group(1)
        elif command.startswith("sha256sum ") and len(command.split()) == 2 and re.fullmatch(r"[0-9a-f]{64}", expect):
            ok = _first_word(result) == expect  # format 3: each language version, each mandate
        elif command.startswith("grep -c"):
            ok = result.stdout.strip() == expect
        elif command.startswith("openssl x509 -in seal.crt"):  # format 2: the PDF seal's certificate
            ok = result.returncode == 0 and result.stdout.startswith("sha256 Fingerprint=")
        elif command.startswith("nss=$(mktemp"):  # format 2: pdfsig, the seal certificate trusted
            ok = "Signature is Valid." in result.stdout and "Certificate is Trusted." in result.stdout
        else:
            ok = False
            failures.append(f"a command the test does not know: {command}")
            continue
        if not ok:
            failures.append(f"{command}\n  -> rc {result.returncode}: {result.stdout.strip()} {result.stderr.strip()}")
    return verified, failures
