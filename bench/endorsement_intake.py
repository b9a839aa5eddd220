"""How many endorsements per second Accord takes in, one request each, against the same stack's ceiling.

    .venv/bin/python bench/endorsement_intake.py [--clients 32 --endorsements 400]

1. Creates its own PostgreSQL database (dropped at the end), migrates it, freezes one declaration (three cities
   sign it: ``bench/endorsement_setup.py``), and prepares ``--endorsements`` + ``--clients`` (warm-up) people,
   each with a one-time e-mail link (its hash stored, as ``services.endorsement_links`` stores it) and a real
   ``accord.endorsement/1`` statement signed with a fresh Ed25519 key.
2. Serves Accord with ``gunicorn -w 4 -k gthread --threads 8`` (``bench/accord_wsgi.py``) in its production set-up:
   PostgreSQL, ``TASK_MODE=celery`` with a dedicated Redis database (``--redis``, emptied before and after; no
   worker runs, so each endorsement's receipt e-mail and log task wait in Redis: the request does what production
   does — commit, then publish).
3. Not measured: each person opens their link in their own session (GET the page, POST its form), then the signing
   page (its CSRF token); one person per client endorses as a warm-up.
4. Measured, ``--clients`` keep-alive clients: ``POST /d/<slug>/endorse/submit`` — the one request that endorses
   (session cookie, ``X-CSRFToken``, JSON ``{payload, signature, public_key, name, show_name, country}`` as
   ``static/js/endorse.js`` sends it: parsed, checked, verified, stored,
   logged, receipt queued). The **ceiling** is ``bench/signing_intake.py``'s: ``POST /bench/ceiling`` on the same
   server (one Ed25519 verification and one INSERT through the app's own session), half before and half after.
5. Prints both rates and p50/p99 latencies. Targets: rate ratio ≥ 0.5, endorsement p99 ≤ 2 × the ceiling's p99.

Loopback only. Exit status 1 if a request failed or the stored endorsements do not add up; a missed target is
reported, not an error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import endorsement_setup as setup  # noqa: E402
from bench.harness import (  # noqa: E402
    Client,
    Run,
    cpu_delta,
    create_database,
    drive,
    drop_database,
    flush_redis,
    free_port,
    server_cpu,
    start_gunicorn,
    stop,
)
from bench.signing_intake import create_ceiling_table, verify_and_insert  # noqa: E402

DEFAULT_POSTGRES = os.environ.get("BENCH_POSTGRES_URL", os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
TARGET_RATIO, TARGET_P99 = 0.5, 2.0
_FORM_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def prepare(url: str, instance: Path, secret: str, count: int) -> list[tuple[str, tuple[bytes, bytes, bytes]]]:
    """People with a one-time link each and their signed statements: ``(link token, (payload, sig, key))``."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from signing import create_app
    from signing.extensions import db
    from signing.models import EndorsementLink, Endorser, utcnow

    app = create_app(setup.app_config(url, instance, secret), instance_path=instance)
    with app.app_context():
        upgrade()
        declaration = setup.freeze_declaration()
        people = setup.insert_endorsers(count, kinds=("person",))
        ids = dict(db.session.execute(select(Endorser.public_id, Endorser.id)).tuples().all())
        tokens = [secrets.token_urlsafe(32) for _ in people]
        now = utcnow()
        db.session.execute(insert(EndorsementLink), [
            {"endorser_id": ids[public_id], "declaration_id": declaration.id, "created_at": now,
             "expires_at": now + timedelta(hours=2), "token_hash": hashlib.sha256(token.encode()).hexdigest()}
            for (public_id, _, _), token in zip(people, tokens, strict=True)])
        db.session.commit()
        statements = setup.sign_statements(setup.facts_of(declaration, people), setup.now_stamp())
        db.session.remove()
        db.engine.dispose()
    return list(zip(tokens, statements, strict=True))


class Session:
    """A person's browser session: its cookies and CSRF token (opened over its own connection, not measured)."""

    def __init__(self, port: int) -> None:
        self.port, self.csrf = port, ""
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            sent = {"Cookie": self.cookie(), **(headers or {})}
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for header in response.msg.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value
            return response.status, text
        finally:
            conn.close()

    def cookie(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


def open_link(port: int, job: tuple[str, tuple[bytes, bytes, bytes]]) -> Any:
    token, signed = job
    session = Session(port)
    path = f"/d/{setup.SLUG}/endorse/link/{token}"
    status, page = session.request("GET", path)
    match = _FORM_TOKEN.search(page)
    if status != 200 or match is None:
        return f"link page: HTTP {status}"
    form = urlencode({"csrf_token": match.group(1) or match.group(2)}).encode()
    status, _ = session.request("POST", path, form, {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 302:
        return f"opening the link: HTTP {status}"
    status, page = session.request("GET", f"/d/{setup.SLUG}/endorse/sign")
    meta = _META_TOKEN.search(page)
    if status != 200 or meta is None:
        return f"signing page: HTTP {status}"
    session.csrf = meta.group(1)
    return (session, signed)


def endorse(client: Client, job: tuple[Session, tuple[bytes, bytes, bytes]]) -> Any:
    """The measured request: one endorsement, as ``static/js/endorse.js`` posts it."""
    session, (data, signature, public) = job
    # endorse.js also sends the person's name field (left empty here), the consent box and the country the statement
    # names, which the server stores with the endorsement when they change.
    body = json.dumps({"payload": base64.b64encode(data).decode(), "signature": base64.b64encode(signature).decode(),
                       "public_key": base64.b64encode(public).decode(), "name": "", "show_name": False,
                       "country": json.loads(data)["country"]}).encode()
    status, answer = client.request("POST", f"/d/{setup.SLUG}/endorse/submit", body, {
        "Content-Type": "application/json", "Accept": "application/json", "Cookie": session.cookie(),
        "X-CSRFToken": session.csrf})
    return (public, data, signature) if status == 201 else f"submit: HTTP {status} {answer}"


def _per(seconds: float | None, requests: int) -> str:
    """Server CPU time per request (the gunicorn processes; PostgreSQL and Redis not included)."""
    return f"{seconds / requests * 1000:.1f} ms/request" if seconds is not None and requests else "n/a"


def stored(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM endorsements")).scalar_one())
    finally:
        engine.dispose()


def opened(port: int, jobs: list[Any], clients: int) -> list[Any]:
    """Every link opened in its own session (not measured); the sessions in the order of ``jobs``."""
    run = drive(port, list(enumerate(jobs)), clients, lambda _client, job: (job[0], open_link(port, job[1])))
    failures = [outcome for _, outcome in run.signed if isinstance(outcome, str)] + run.errors
    if failures:
        raise RuntimeError(f"{len(failures)} session(s) could not be opened: {failures[:3]}")
    return [outcome for _, outcome in sorted(run.signed, key=lambda item: item[0])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--endorsements", type=int, default=400)
    parser.add_argument("--ceiling-requests", type=int, default=0, help="default: 2 × --endorsements")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="a dedicated Redis database: emptied before and after")
    args = parser.parse_args()
    ceiling_requests = args.ceiling_requests or 2 * args.endorsements

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="accord-bench-intake-"))
    instance, secret = work / "instance", secrets.token_hex(32)
    instance.mkdir()
    name, url = create_database(args.postgres)
    server = None
    try:
        flush_redis(args.redis)
        jobs = prepare(url, instance, secret, args.endorsements + args.clients)
        create_ceiling_table(url)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SMTP_HOST", "TASK_MODE"}}
        env.update(PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), DATABASE_URL=url, SECRET_KEY=secret,
                   ACCORD_BENCH_INSTANCE=str(instance), TASK_MODE="celery", REDIS_URL=args.redis)
        server = start_gunicorn("bench.accord_wsgi:app", port, env, work / "gunicorn.log", args.workers, args.threads)
        sessions = opened(port, jobs, args.clients)
        warm, measured = sessions[: args.clients], sessions[args.clients :]
        stand_in = [signed for _, signed in warm]
        warm_run = drive(port, warm, args.clients, endorse)
        drive(port, [(public, data, sig) for data, sig, public in stand_in], args.clients, verify_and_insert)

        half = ceiling_requests // 2
        ceiling_jobs = [(public, data, sig) for data, sig, public in stand_in]
        master = server.pid
        cpu = server_cpu(master)
        before = drive(port, [ceiling_jobs[i % len(ceiling_jobs)] for i in range(half)], args.clients,
                       verify_and_insert)
        cpu_before, cpu = cpu_delta(cpu, server_cpu(master)), server_cpu(master)
        intake = drive(port, measured, args.clients, endorse)
        cpu_intake, cpu = cpu_delta(cpu, server_cpu(master)), server_cpu(master)
        signed = intake.signed or ceiling_jobs
        after = drive(port, [signed[i % len(signed)] for i in range(ceiling_requests - half)], args.clients,
                      verify_and_insert)
        cpu_ceiling = cpu_delta(cpu_before, cpu_delta(cpu, server_cpu(master)), add=True)
        ceiling: Run = before.merged(after)
        stop(server)
        server = None
        count = stored(url)

        ratio = intake.rate() / ceiling.rate() if ceiling.rate() else float("nan")
        p99_ratio = intake.percentile(99) / ceiling.percentile(99)
        print(f"\nendorsement intake — gunicorn -w {args.workers} -k gthread --threads {args.threads}, PostgreSQL, "
              f"TASK_MODE=celery (Redis), {args.clients} clients, loopback")
        print(f"  ceiling:      {ceiling.rate():7.1f} requests/s ({ceiling.done}; before {before.rate():.1f}/s, after "
              f"{after.rate():.1f}/s), p50 {ceiling.percentile(50) * 1000:.0f} ms, "
              f"p99 {ceiling.percentile(99) * 1000:.0f} ms, server CPU {_per(cpu_ceiling, ceiling.done)}")
        print(f"  endorsements: {intake.rate():7.1f} /s ({intake.done} in {intake.elapsed:.2f} s), "
              f"p50 {intake.percentile(50) * 1000:.0f} ms, p99 {intake.percentile(99) * 1000:.0f} ms, "
              f"server CPU {_per(cpu_intake, intake.done)}")
        print(f"  rate ratio {ratio:.2f} (target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}); "
              f"p99 ratio {p99_ratio:.2f} (target <= {TARGET_P99}: {'met' if p99_ratio <= TARGET_P99 else 'NOT met'})")
        expected = args.endorsements + warm_run.done
        print(f"  stored {count} endorsements (expected {expected})")
        for label, errors in (("warm-up", warm_run.errors), ("intake", intake.errors), ("ceiling", ceiling.errors)):
            for error in errors[:5]:
                print(f"  {label} error: {error}")
        failed = bool(intake.errors or ceiling.errors or warm_run.errors) or count != expected
    except Exception as exc:  # reported, and everything is cleaned up
        print(f"FAILED: {exc}", file=sys.stderr)
        failed = True
    finally:
        stop(server)
        drop_database(args.postgres, name)
        flush_redis(args.redis)
        shutil.rmtree(work, ignore_errors=True)
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}; {} CPUs".format(
        *load_before, *os.getloadavg(), os.cpu_count()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
