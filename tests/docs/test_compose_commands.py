"""docker-compose.yml without Docker: each built service's ``command`` and ``environment``, read from the file.

The services built from the Dockerfile (web, worker, beat) run in the installed copy of the project (the
image's ``WORKDIR``), with its virtualenv first on ``PATH`` (the image's Python), the Dockerfile's ``ENV`` and
the service's environment as compose interpolates it with ``SECRET_KEY`` set (as the README says:
``SECRET_KEY=... docker compose up``). The image-only services are replaced by the test's own: the host names
``postgres``, ``redis`` and ``mail`` become 127.0.0.1 with the test's database, Redis database and SMTP port;
a published port and ``/tmp`` (private to a container) are the only values changed in the commands.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from flask import Flask
from sqlalchemy.engine import make_url

from tests.conftest import PASSWORD, free_port, message_text
from tests.smtp_sink import SmtpServer
from tests.topology.conftest import SECRETARIAT_EMAIL, Processes

from .conftest import (
    INSTALL_TIMEOUT,
    database_url_like,
    post_form,
    sign_until_frozen,
    wait_for_mail,
    wait_for_page,
)
from .documented import COMPOSE_FILE, DOCKERFILE, compose_interpolate, dockerfile_env, user_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(INSTALL_TIMEOUT + 300)]

# The images the test stands in for, by repository: what replaces each.
STAND_INS = {"postgres": "postgres", "redis": "redis", "axllent/mailpit": "smtp"}
MAILPIT_SMTP_PORT = "1025"
SECRET_KEY = "compose-secret-" + "k" * 40
CONTAINER_TMP = "/tmp/"  # noqa: S108 - a container's own /tmp, replaced by the test's folder


def _image_services(services: dict[str, Any]) -> dict[str, str]:
    """Which compose host name each stand-in answers for: {"postgres": ..., "redis": ..., "smtp": ...}."""
    hosts: dict[str, str] = {}
    for name, service in services.items():
        if "build" in service:
            continue
        kind = STAND_INS.get(str(service["image"]).split(":")[0])
        assert kind, f"docker-compose.yml has a service the test cannot stand in for: {name} ({service['image']})"
        hosts[kind] = name
    assert set(hosts) == set(STAND_INS.values()), f"docker-compose.yml lacks {set(STAND_INS.values()) - set(hosts)}"
    return hosts


def _dockerfile_cmd() -> list[str]:
    [line] = [line for line in DOCKERFILE.read_text("utf-8").splitlines() if line.startswith("CMD ")]
    return list(yaml.safe_load(line[4:]))


def _kind(argv: list[str]) -> str:
    joined = " ".join(argv)
    if "gunicorn" in joined:
        return "web"
    for role in ("worker", "beat"):
        if argv[:3] == ["celery", "-A", "workers"] and role in argv:
            return role
    pytest.fail(f"a compose command this test does not know how to check: {joined}")


def test_compose_services_run_as_configured(
    production_tree: Path, processes: Callable[[Path], Processes], postgres_database: str, redis_url: str,
    smtp_factory: Callable[..., SmtpServer], app_builder: Callable[[dict[str, str]], Flask], tmp_path: Path,
) -> None:
    services: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text("utf-8"))["services"]
    hosts = _image_services(services)
    smtp = smtp_factory()
    web_port = free_port()

    def environment(service: dict[str, Any]) -> dict[str, str]:
        raw = service.get("environment") or {}
        if isinstance(raw, list):
            raw = dict(item.split("=", 1) for item in raw)
        values = {name: compose_interpolate(str(value), {"SECRET_KEY": SECRET_KEY}) for name, value in raw.items()}
        if "DATABASE_URL" in values:
            assert make_url(values["DATABASE_URL"]).host == hosts["postgres"], values["DATABASE_URL"]
            values["DATABASE_URL"] = database_url_like(values["DATABASE_URL"], postgres_database)
        if "REDIS_URL" in values:
            assert urlsplit(values["REDIS_URL"]).hostname == hosts["redis"], values["REDIS_URL"]
            values["REDIS_URL"] = redis_url
        if "SMTP_HOST" in values:
            assert (values["SMTP_HOST"], values.get("SMTP_PORT")) == (hosts["smtp"], MAILPIT_SMTP_PORT)
            values.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port))
        return values

    def argv(service: dict[str, Any]) -> list[str]:
        command = service.get("command") or _dockerfile_cmd()
        words = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
        for published in service.get("ports", []):
            bind = f"0.0.0.0:{str(published).split(':')[-1]}"
            if any(bind in word for word in words):
                words = [word.replace(bind, f"127.0.0.1:{web_port}") for word in words]
        return [word.replace(CONTAINER_TMP, f"{tmp_path}/") for word in words]

    # The copy's .venv stands in for the image's Python: both have requirements.txt installed, and nothing else.
    dockerfile = DOCKERFILE.read_text("utf-8")
    assert re.search(r"^RUN pip install .*-r requirements\.txt", dockerfile, re.M), "the image installs otherwise"
    image_path = f"{production_tree / '.venv/bin'}:{user_env()['PATH']}"
    built = {name: service for name, service in services.items() if "build" in service}
    started = processes(production_tree)
    envs: dict[str, dict[str, str]] = {}
    kinds: dict[str, Any] = {}
    for name, service in built.items():
        command = argv(service)
        envs[name] = environment(service)
        env = user_env(**dockerfile_env(), **envs[name], PATH=image_path)
        kinds[_kind(command)] = (name, started.start(name, command, env))
    assert set(kinds) == {"web", "worker", "beat"}, f"docker-compose.yml runs only {set(kinds)}"

    web_name, web = kinds["web"]
    wait_for_page(f"http://127.0.0.1:{web_port}", web.alive, started.logs, timeout=120)
    kinds["worker"][1].wait_for_log(r"@\S+ ready\.", "the worker to be ready")
    kinds["beat"][1].wait_for_log(r"beat: Starting", "beat to start")
    with pytest.raises(ValueError, match="SECRET_KEY"):  # `docker compose up` refuses to start without it
        compose_interpolate(str(built[web_name]["environment"]["SECRET_KEY"]), {})

    # An operator's command in the web container (`docker compose exec web flask --app wsgi create-user ...`).
    web_env = user_env(**dockerfile_env(), **envs[web_name], PATH=image_path)
    created = subprocess.run(["flask", "--app", "wsgi", "create-user", SECRETARIAT_EMAIL, "--name", "Secretariat",
                              "--role", "secretariat"], cwd=production_tree, env=web_env, input=f"{PASSWORD}\n" * 2,
                             text=True, capture_output=True, timeout=120, check=False)
    assert created.returncode == 0, created.stderr

    # The web app queues an e-mail; the worker sends it to the mail service, with links to PUBLIC_URL.
    status, _ = post_form(f"http://127.0.0.1:{web_port}", "/reset", {"email": SECRETARIAT_EMAIL})
    assert status == 302
    message = wait_for_mail(smtp, SECRETARIAT_EMAIL, started.logs)
    assert f"{envs[web_name]['PUBLIC_URL']}/reset/" in message_text(message)

    # Every city signs; the worker freezes the declaration, sealing it with the platform key the web made.
    sign_until_frozen(app_builder(envs[web_name]), started.logs, create_secretariat=False)
