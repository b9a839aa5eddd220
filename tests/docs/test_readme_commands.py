"""The README's "Quick start" and "Production" commands, read from the README and run as a new user would.

Each runs in a fresh copy of the project (the files git tracks), from its folder, through bash, with a new
user's environment plus only what the README shows; no ``PYTHONPATH``. Only values are substituted: the
port ``make run`` serves on (``PORT``, which the README documents), and in Production the database, Redis
and SMTP server the exports name, replaced by the test's own, and gunicorn's port. The test's SMTP server
speaks STARTTLS and wants a login, as the README's ``smtp.example.org`` on port 587; the processes trust its
certificate authority through ``SSL_CERT_FILE``, as the system's store trusts a real server's.
"""

from __future__ import annotations

import re
import sqlite3
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import PASSWORD, free_port, message_text, read_mail
from tests.smtp_sink import SmtpServer
from tests.topology.conftest import ENV_NAMES, REPO_ROOT, Process, Processes, wait_until

from .conftest import (
    INSTALL_TIMEOUT,
    database_url_like,
    post_form,
    sign_until_frozen,
    wait_for_mail,
    wait_for_page,
)
from .documented import ProductionBlock, evaluate_exports, readme_commands, tls_authority, user_env, words

pytestmark = [pytest.mark.slow, pytest.mark.timeout(INSTALL_TIMEOUT + 300)]

HEAD_REVISION = max(path.name.split("_")[0] for path in (REPO_ROOT / "migrations/versions").glob("0*.py"))


def check_demo_served(tree: Path, base_url: str, output: str) -> None:
    """`make run` made .venv, migrated, loaded the demo, printed its logins and serves it on ``base_url``."""
    import requests

    instance = tree / "instance"
    assert (tree / ".venv/bin/python").exists() and (instance / "accord.sqlite3").exists()
    assert f"Serving Accord on {base_url}" in output
    logins = instance / "demo-logins.txt"
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600, "the demo logins are readable by others"
    found = re.search(r"^\s+secretariat\s+(\S+@\S+)\s+(\S+)", output, re.M)
    assert found, f"make run printed no secretariat login:\n{output[-3000:]}"
    email, password = found.groups()
    assert email in logins.read_text("utf-8")

    status, cookies = post_form(base_url, "/login", {"email": email, "password": password})
    assert status == 302, "the printed demo login does not log in"
    listing = requests.get(f"{base_url}/declarations/", cookies=cookies, timeout=10)
    assert listing.status_code == 200 and "/declarations/b40-izmir-2025" in listing.text
    assert requests.get(f"{base_url}/public/", timeout=10).status_code == 200

    # E-mail lands in instance/mail/, and every link in it names the address `make run` serves on.
    status, _ = post_form(base_url, "/reset", {"email": email})
    assert status == 302

    def reset_mail() -> list[str]:  # written once the answer is sent (the same work for every address)
        texts = [message_text(message) for message in read_mail(instance / "mail")]
        return [body for body in texts if f"{base_url}/reset/" in body]

    wait_until(lambda: bool(reset_mail()), "a password-reset e-mail in instance/mail/", timeout=30, interval=0.2)
    assert len(reset_mail()) == 1
    texts = [message_text(message) for message in read_mail(instance / "mail")]
    links = {link for body in texts for link in re.findall(r"https?://[^\s\"<>]+", body)}
    assert all(link == base_url or link.startswith(f"{base_url}/") for link in links), sorted(links)


def test_quick_start_commands_as_written(fresh_tree: Path, processes: Callable[[Path], Processes]) -> None:
    commands = readme_commands("Quick start")
    assert commands, "the Quick start section has no sh block"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = user_env(PORT=str(port))
    started = processes(fresh_tree)
    server: Process | None = None
    served = False
    for line in commands:
        command = words(line)
        if command[:2] == ["make", "run"]:
            server = started.start("make-run", ["bash", "-c", line], env)
            # A fresh .venv and every dependency first, then the migrations and the demo.
            wait_for_page(base_url, server.alive, server.log, timeout=INSTALL_TIMEOUT)
            check_demo_served(fresh_tree, base_url, server.log(10**7))
            served = True
            continue
        if server is not None:  # Ctrl-C before the next command
            server.stop()
            server = None
        result = subprocess.run(["bash", "-c", line], cwd=fresh_tree, env=env, capture_output=True, text=True,
                                timeout=300, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{line}\n-> rc {result.returncode}\n{output[-3000:]}"
        if command[:2] == ["make", "clean-instance"]:
            assert command[2:] == ["upgrade"], line
            with sqlite3.connect(fresh_tree / "instance/accord.sqlite3") as conn:
                assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)
        elif Path(command[0]).name == "flask" and command[3:] == ["demo", "--complete"]:
            assert "is frozen" in output, output
        elif Path(command[0]).name == "flask" and command[3:4] == ["export-bundle"]:
            assert zipfile.is_zipfile(fresh_tree / command[-1])
        elif command[1:3] == ["-m", "signing.verify"]:
            assert "VERIFIED: 12 signature(s)" in output, output
        else:
            pytest.fail(f"a Quick start command this test does not know how to check: {line}")
    assert served, "the Quick start section does not run make run"


class SmtpLogin:
    """aiosmtpd authenticator: accepts one login and records every attempt."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.attempts: list[tuple[str, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and session.ssl is not None
              and (auth_data.login, auth_data.password) == (self.user.encode(), self.password.encode()))
        self.attempts.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)


def test_production_commands_as_written(production_tree: Path, processes: Callable[[Path], Processes],
                                        postgres_database: str, database_engine: Engine, redis_url: str,
                                        smtp_factory: Callable[..., SmtpServer],
                                        app_builder: Callable[[dict[str, str]], Flask], tmp_path: Path) -> None:
    block = ProductionBlock.read()
    documented = evaluate_exports(block.exports, production_tree, user_env())
    substituted = {"DATABASE_URL", "REDIS_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_PASSWORD"}
    assert substituted <= set(documented), f"the README no longer exports {substituted - set(documented)}"
    assert documented["SMTP_USER"] and len(documented["SECRET_KEY"]) >= 32

    ca_file, tls = tls_authority(tmp_path / "tls")
    login = SmtpLogin(documented["SMTP_USER"], "smtp-password-" + postgres_database)
    smtp = smtp_factory(tls_context=tls, require_starttls=True, authenticator=login, auth_require_tls=True)
    env = user_env(**documented, SSL_CERT_FILE=str(ca_file))
    env.update(DATABASE_URL=database_url_like(documented["DATABASE_URL"], postgres_database), REDIS_URL=redis_url,
               SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port), SMTP_PASSWORD=login.password)

    started = processes(production_tree)
    web_port = free_port()
    servers: set[str] = set()
    secretariat, worker = "", None

    def run(line: str, stdin: str = "") -> str:
        result = subprocess.run(["bash", "-c", line], cwd=production_tree, env=env, input=stdin, text=True,
                                capture_output=True, timeout=120, check=False)
        assert result.returncode == 0, f"{line}\n-> rc {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    for line in block.commands:
        command = words(line)
        program, rest = Path(command[0]).name, command[1:]
        if program == "flask" and rest[2:4] == ["db", "upgrade"]:
            run(line)
            with database_engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        elif program == "flask" and rest[2:4] == ["platform-key", "generate"]:
            assert "sha256:" in run(line)
            assert (production_tree / "instance/platform_key.pem").exists()
        elif program == "flask" and rest[2:4] == ["seal", "generate"]:
            assert "Created a self-signed seal certificate" in run(line)
            assert (production_tree / "instance/seal.crt").exists()
            assert (production_tree / "instance/seal_key.pem").stat().st_mode & 0o777 == 0o600
        elif program == "flask" and rest[2:3] == ["create-user"]:
            run(line, stdin=f"{PASSWORD}\n{PASSWORD}\n")
            with database_engine.connect() as conn:
                role = conn.execute(text("SELECT role FROM users WHERE email = :e"), {"e": rest[3]}).scalar()
            assert role == rest[rest.index("--role") + 1]
            secretariat = rest[3]
        elif program == "gunicorn":
            documented_bind = rest[rest.index("--bind") + 1]
            assert documented_bind.startswith("127.0.0.1:"), documented_bind
            web = started.start("gunicorn", ["bash", "-c", line.replace(documented_bind, f"127.0.0.1:{web_port}")],
                                env)
            wait_for_page(f"http://127.0.0.1:{web_port}", web.alive, web.log, timeout=60)
            servers.add("web")
        elif program == "celery" and rest[:3] == ["-A", "workers", "worker"]:
            worker = started.start("worker", ["bash", "-c", line], env)
            worker.wait_for_log(r"@\S+ ready\.", "the worker to be ready")
            servers.add("worker")
        elif program == "celery" and rest[:3] == ["-A", "workers", "beat"]:
            started.start("beat", ["bash", "-c", line], env).wait_for_log(r"beat: Starting", "beat to start")
            servers.add("beat")
        else:
            pytest.fail(f"a Production command this test does not know how to check: {line}")
    assert servers == {"web", "worker", "beat"}, f"the Production section starts only {servers}"
    assert secretariat and worker is not None, "the Production section creates no user"

    # Real work: the web app queues a password-reset e-mail; the worker sends it over STARTTLS, logged in.
    status, _ = post_form(f"http://127.0.0.1:{web_port}", "/reset", {"email": secretariat})
    assert status == 302
    message = wait_for_mail(smtp, secretariat, started.logs)
    assert f"{documented['PUBLIC_URL']}/reset/" in message_text(message)
    assert str(message["From"]) == documented["MAIL_FROM"]
    assert login.attempts and all(ok for _, ok in login.attempts), login.attempts
    assert "workers.tasks.send_email" in worker.log(10**6)

    # The worker freezes a signed declaration with the platform key the README had made.
    sign_until_frozen(app_builder({name: env[name] for name in ENV_NAMES if name in env}), started.logs,
                      create_secretariat=True)
