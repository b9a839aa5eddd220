"""How many signatures per second Accord takes in, against the ceiling of the work itself, on the same stack.

    .venv/bin/python bench/signing_intake.py [--clients 32 --signatures 400]

1. Creates its own PostgreSQL database (dropped at the end), applies the migrations and prepares one
   declaration open for signature by N cities, each with a delegate holding an Ed25519 key (enrolled
   through ``services.keys``) and an API token (``services.tokens``), N = 2 × ``--signatures`` + one per
   client for the warm-up.
2. Serves Accord with ``gunicorn -w 4 -k gthread --threads 8`` on 127.0.0.1 (``bench/accord_wsgi.py``:
   ``create_app()`` with a temporary instance folder, plus the ceiling route) in its production set-up:
   ``DATABASE_URL``, ``SECRET_KEY``, ``TASK_MODE=celery`` and ``REDIS_URL`` naming a dedicated Redis
   database (``--redis``, emptied with FLUSHDB before and after; no worker runs, so the e-mail jobs wait
   in Redis and each signature request does what production does: commit, then publish).
   After a warm-up (not measured), ``--clients`` threads sign through the JSON API in two ways:
   - whole exchanges, one group of ``--signatures`` delegates: ``POST …/signing-payload``, sign locally,
     ``POST …/signatures``; latency is that whole exchange;
   - in two waves, the other group: first every payload request (and the local signature), then every
     signature request, so that the intake proper (the request that verifies and stores a signature,
     the counterpart of the ceiling) is measured on its own.
3. The ceiling, on the same server: ``POST /bench/ceiling`` (registered by ``bench/accord_wsgi.py`` only)
   does one Ed25519 verification and one INSERT + commit through the app's own SQLAlchemy session, nothing
   else; driven by the same clients, half before the app (payload-sized stand-ins) and half after (the
   signed payloads), so that a drift in the machine's load weighs on both alike.
   Then, for comparison only, ``POST /bench/authenticated-ceiling``: the API's token check, then the same.
4. Prints, for the ceiling and each signing phase, the rate, p50/p99 latency and the gunicorn processes'
   CPU time per request, and the ratios to the ceiling of the whole exchange and of the signature
   request (target ≥ 0.5).

Loopback only; every loop is bounded; the server it starts, the database it creates and the Redis
database it used are cleaned up whatever happens. Exit status 1 if a request failed or the stored
signatures (or published jobs) do not add up.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.harness import (  # noqa: E402
    Client,
    Run,
    cpu_delta,
    create_database,
    drive,
    drop_database,
    flush_redis,
    free_port,
    queued_jobs,
    server_cpu,
    start_gunicorn,
    stop,
)

DEFAULT_POSTGRES = os.environ.get("BENCH_POSTGRES_URL",
                                  os.environ.get("TEST_POSTGRES_URL",
                                                 "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PASSWORD = "bench password, not secret"  # noqa: S105 - a throwaway account in a throwaway database
SLUG = "bench-declaration"
TEXT = "We, the cities of the network, agree.\n\nThis text is signed by the benchmark.\n"
TARGET_RATIO = 0.5


@dataclass
class Delegate:
    token: str
    key: Ed25519PrivateKey
    fingerprint: str
    public: bytes



def prepare(url: str, instance: Path, secret: str, count: int) -> tuple[list[Delegate], str]:
    """Migrate, then one declaration open for signature by ``count`` cities, each with a delegate, key and token."""
    from flask_migrate import upgrade

    from signing import create_app
    from signing.core.payload import b64encode, fingerprint
    from signing.extensions import db
    from signing.models import Role
    from signing.services import accounts, cities, declarations, keys, tokens

    app = create_app({
        "DATABASE_URL": url, "SECRET_KEY": secret, "TASK_MODE": "inline", "MAIL_FILE_DIR": str(instance / "mail"),
        "PLATFORM_KEY_PATH": str(instance / "platform_key.pem"),
        # Cheap password hashes for the throwaway accounts; the measured path authenticates by token.
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8192, "ARGON2_PARALLELISM": 1,
    }, instance_path=instance)
    delegates = []
    with app.app_context():
        upgrade()
        secretariat = accounts.create_user("secretariat@bench.example", "Bench secretariat", Role.SECRETARIAT,
                                           password=PASSWORD)
        _, warm_token = tokens.create(secretariat, "bench warm-up")
        started = time.monotonic()
        for index in range(count):
            city = cities.create_city(f"Bench City {index:04d}", "Benchland", None, slug=f"bench-{index:04d}")
            user = accounts.create_user(f"delegate{index:04d}@bench.example", f"Delegate {index:04d}",
                                        Role.DELEGATE, city=city, password=PASSWORD)
            key = Ed25519PrivateKey.generate()
            public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            keys.enrol(user, b64encode(public), "bench", PASSWORD, origin="cli")
            _, token = tokens.create(user, "bench")
            delegates.append(Delegate(token=token, key=key, fingerprint=fingerprint(public), public=public))
            if (index + 1) % 100 == 0:
                print(f"  prepared {index + 1}/{count} delegates ({time.monotonic() - started:.0f} s)", flush=True)
        declaration = declarations.create("Bench declaration", TEXT, secretariat, slug=SLUG)
        declarations.open_consultation(declaration, secretariat)
        declarations.open_signing(declaration, 1, secretariat)
        db.session.remove()
        db.engine.dispose()
    return delegates, warm_token


CEILING_TABLE = ("CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, payload bytea NOT NULL, "
                 "signature bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
WARM_UP_PAYLOAD = b"warm-up"
STAND_IN_PAYLOAD = b"{" + b"x" * 766 + b"}"  # the size of a signature payload, for the ceiling run before the app


def create_ceiling_table(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(CEILING_TABLE))
    finally:
        engine.dispose()


def count(url: str, query: str, **params: Any) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(query), params).scalar_one())
    finally:
        engine.dispose()


def stored_signatures(url: str) -> int:
    return count(url, "SELECT count(*) FROM signatures WHERE status = 'valid'")

def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "SMTP_HOST", "TASK_MODE", "SECRET_KEY"}}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def sign_through_api(client: Client, delegate: Delegate) -> Any:
    base = f"/api/v1/declarations/{SLUG}"
    status, body = client.post(f"{base}/signing-payload", {"key_fingerprint": delegate.fingerprint}, delegate.token)
    if status != 201:
        return f"signing-payload: HTTP {status} {body}"
    payload = base64.b64decode(body["payload"])
    signature = delegate.key.sign(payload)
    status, body = client.post(f"{base}/signatures", {"payload": body["payload"],
                                                      "signature": base64.b64encode(signature).decode()},
                               delegate.token)
    if status != 201:
        return f"signatures: HTTP {status} {body}"
    return (delegate.public, payload, signature)


def issue_and_sign(client: Client, delegate: Delegate) -> Any:
    """The first half of the exchange alone: the payload request (and the delegate's local signature)."""
    status, body = client.post(f"/api/v1/declarations/{SLUG}/signing-payload",
                               {"key_fingerprint": delegate.fingerprint}, delegate.token)
    if status != 201:
        return f"signing-payload: HTTP {status} {body}"
    signature = delegate.key.sign(base64.b64decode(body["payload"]))
    return (delegate, body["payload"], base64.b64encode(signature).decode())


def submit(client: Client, job: tuple[Delegate, str, str]) -> Any:
    """The second half alone: post a payload issued (and signed) earlier."""
    delegate, payload, signature = job
    status, body = client.post(f"/api/v1/declarations/{SLUG}/signatures",
                               {"payload": payload, "signature": signature}, delegate.token)
    if status != 201:
        return f"signatures: HTTP {status} {body}"
    return (delegate.public, base64.b64decode(payload), base64.b64decode(signature))


def verify_and_insert(client: Client, job: tuple[bytes, bytes, bytes]) -> Any:
    public, payload, signature = job
    status, body = client.post("/bench/ceiling", {"public_key": base64.b64encode(public).decode(),
                                     "payload": base64.b64encode(payload).decode(),
                                     "signature": base64.b64encode(signature).decode()})
    return None if status == 201 else f"ceiling: HTTP {status} {body}"


def authenticated_verify_and_insert(client: Client, job: tuple[str, bytes, bytes, bytes]) -> Any:
    token, public, payload, signature = job
    status, body = client.post("/bench/authenticated-ceiling", {"public_key": base64.b64encode(public).decode(),
                                                                 "payload": base64.b64encode(payload).decode(),
                                                                 "signature": base64.b64encode(signature).decode()},
                               token)
    return None if status == 201 else f"authenticated ceiling: HTTP {status} {body}"


def warm_up(port: int, clients: int, call: Any) -> None:
    """Open every worker's connections and imports before the clock starts (not measured)."""
    drive(port, list(range(clients * 2)), clients, call)


# --- main ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent client threads (default 32)")
    parser.add_argument("--signatures", type=int, default=400, help="signatures = delegates = cities (default 400)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    parser.add_argument("--ceiling-requests", type=int, default=0,
                        help="requests for the ceiling, half before and half after the app (default: 4 × "
                             "--signatures, so that it runs long enough to measure)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="an administrative PostgreSQL URL on this machine (default: BENCH_POSTGRES_URL, "
                             "TEST_POSTGRES_URL or postgres@127.0.0.1:5432)")
    parser.add_argument("--redis", default=DEFAULT_REDIS,
                        help="a Redis database on this machine for the Celery broker, used by nothing else: it is "
                             "emptied (FLUSHDB) before and after the run (default: BENCH_REDIS_URL or "
                             "redis://127.0.0.1:6379/12)")
    args = parser.parse_args(argv)
    args.ceiling_requests = args.ceiling_requests or 4 * args.signatures
    if not (1 <= args.clients <= 256 and 1 <= args.signatures <= 20_000 and 1 <= args.workers <= 32
            and 1 <= args.threads <= 64 and 2 <= args.ceiling_requests <= 100_000):
        parser.error("--clients 1..256, --signatures 1..20000, --workers 1..32, --threads 1..64, "
                     "--ceiling-requests 2..100000")
    host = make_url(args.postgres).host
    if host not in LOOPBACK and host is not None:
        parser.error(f"the benchmark runs on this machine only; {host!r} is not a loopback address")
    redis_url = urlsplit(args.redis)
    if redis_url.scheme != "redis" or redis_url.hostname not in LOOPBACK or redis_url.path.strip("/") in {"", "0"}:
        parser.error("--redis must be redis://<loopback>:<port>/<db> with a dedicated database number other than 0")

    temp = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    secret = secrets.token_urlsafe(48)
    name = url = None
    server: subprocess.Popen[bytes] | None = None
    try:
        flush_redis(args.redis)
        name, url = create_database(args.postgres)
        total = 2 * args.signatures
        print(f"database {name}; preparing {total} + {args.clients} (warm-up) delegates with keys and "
              "API tokens ...", flush=True)
        instance = temp / "instance"
        everyone, warm_token = prepare(url, instance, secret, total + args.clients)
        # One delegate per client signs during the warm-up (every worker's statements compiled, not measured);
        # then one group signs in whole exchanges, the other in two separate waves (all payloads, then all
        # signatures), so that each request's share is measured too.
        warm_delegates = everyone[: args.clients]
        whole_group = everyone[args.clients: args.clients + args.signatures]
        split_group = everyone[args.clients + args.signatures:]
        create_ceiling_table(url)

        # One server for every phase: Accord as in production (Celery publishing to Redis) + the ceiling route.
        port = free_port()
        env = server_env(DATABASE_URL=url, SECRET_KEY=secret, TASK_MODE="celery", REDIS_URL=args.redis,
                         ACCORD_BENCH_INSTANCE=str(instance), PLATFORM_KEY_PATH=str(instance / "platform_key.pem"),
                         PUBLIC_URL=f"http://127.0.0.1:{port}")
        server = start_gunicorn("bench.accord_wsgi:app", port, env, temp / "accord.log", args.workers, args.threads)
        warm_key = Ed25519PrivateKey.generate()
        warm_job = (warm_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
                    WARM_UP_PAYLOAD, warm_key.sign(WARM_UP_PAYLOAD))
        # Not measured: every worker's connections (PostgreSQL, Redis) and imports, for both routes.
        warm_up(port, args.clients, lambda client, _: client.request(
            "GET", "/api/v1/me", None, {"Authorization": f"Bearer {warm_token}"}) and None)
        warm_up(port, args.clients, lambda client, _: verify_and_insert(client, warm_job))
        warm_signing = drive(port, warm_delegates, args.clients, sign_through_api)

        def measured(label: str, jobs: list[Any], work: Any) -> tuple[Run, float | None]:
            print(f"{label}: {len(jobs)} with {args.clients} clients ...", flush=True)
            cpu_start = server_cpu(server.pid) if server else None
            run = drive(port, jobs, args.clients, work)
            return run, cpu_delta(cpu_start, server_cpu(server.pid) if server else None)

        # The ceiling, half before and half after the app (the machine's load drifts): verify + INSERT + commit,
        # same server, same session and pool. Before, the bytes are a stand-in of a payload's size; after, the
        # payloads the delegates signed.
        before = args.ceiling_requests // 2
        stand_in = [(d.public, STAND_IN_PAYLOAD, d.key.sign(STAND_IN_PAYLOAD)) for d in whole_group[:64]]
        ceiling_before, cpu_ceiling = measured(
            "ceiling (1/2): one Ed25519 verify + one INSERT per request",
            [stand_in[i % len(stand_in)] for i in range(before)], verify_and_insert)
        whole, cpu_whole = measured("signing, whole exchanges (payload request, local signature, signature request)",
                                    whole_group, sign_through_api)
        issue, cpu_issue = measured("signing, first wave: payload requests only", split_group, issue_and_sign)
        intake, cpu_intake = measured("signing, second wave: signature requests only", issue.signed, submit)
        stored = stored_signatures(url) - warm_signing.done
        published = count(url, "SELECT count(*) FROM outbox_emails WHERE published_at IS NOT NULL "
                               "AND dedupe_key LIKE 'signature_%'")
        emails = count(url, "SELECT count(*) FROM outbox_emails WHERE dedupe_key LIKE 'signature_%'")
        in_redis = queued_jobs(args.redis)

        signed = (whole.signed + intake.signed) or stand_in
        after = args.ceiling_requests - before
        ceiling_after, cpu_after = measured("ceiling (2/2): the same with the signed payloads",
                                            [signed[i % len(signed)] for i in range(after)], verify_and_insert)
        cpu_ceiling = cpu_delta(cpu_ceiling, cpu_after, add=True)
        ceiling = ceiling_before.merged(ceiling_after)
        # A second point of comparison, not the target's: the ceiling after the API's token check.
        as_delegates = [(d.token, d.public, STAND_IN_PAYLOAD, d.key.sign(STAND_IN_PAYLOAD)) for d in whole_group[:64]]
        authenticated, cpu_authenticated = measured(
            "authenticated ceiling: the API's token check, then the same",
            [as_delegates[i % len(as_delegates)] for i in range(after)], authenticated_verify_and_insert)
        stop(server)
        server = None
        ceiling_rows = count(url, "SELECT count(*) FROM bench_ceiling WHERE payload <> :warm", warm=WARM_UP_PAYLOAD)

        print()
        print(f"Accord signing intake — gunicorn -w {args.workers} -k gthread --threads {args.threads}, PostgreSQL, "
              f"TASK_MODE=celery (Redis), {args.clients} clients, loopback")
        ceiling_cpu = cpu_ceiling / ceiling.done * 1000 if cpu_ceiling is not None and ceiling.done else None
        print(f"  ceiling:           {ceiling.rate():7.1f} requests/s ({ceiling.done} in {ceiling.elapsed:.2f} s; "
              f"before {ceiling_before.rate():.1f}/s, after {ceiling_after.rate():.1f}/s), "
              f"p50 {ceiling.percentile(50) * 1000:.0f} ms, p99 {ceiling.percentile(99) * 1000:.0f} ms"
              + (f", server CPU {ceiling_cpu:.1f} ms/request" if ceiling_cpu else ""))
        authenticated_cpu = (cpu_authenticated / authenticated.done * 1000
                             if cpu_authenticated is not None and authenticated.done else None)
        print(f"  authenticated ceiling: {authenticated.rate():7.1f} requests/s, "
              f"p50 {authenticated.percentile(50) * 1000:.0f} ms, p99 {authenticated.percentile(99) * 1000:.0f} ms"
              + (f", server CPU {authenticated_cpu:.1f} ms/request" if authenticated_cpu else "")
              + " (not the target's ceiling)")
        verdicts = []
        for label, run, cpu in (("whole exchange", whole, cpu_whole), ("payload request", issue, cpu_issue),
                                ("signature request", intake, cpu_intake)):
            ratio = run.rate() / ceiling.rate() if ceiling.rate() else float("nan")
            verdicts.append((label, ratio))
            per = cpu / run.done * 1000 if cpu is not None and run.done else None
            print(f"  {label + ':':18} {run.rate():7.1f} /s ({run.done} in {run.elapsed:.2f} s), "
                  f"p50 {run.percentile(50) * 1000:.0f} ms, p99 {run.percentile(99) * 1000:.0f} ms"
                  + (f", server CPU {per:.1f} ms ({per / ceiling_cpu:.1f}× the ceiling's)" if per and ceiling_cpu
                     else "") + f", ratio {ratio:.2f}")
        print(f"  stored {stored} signatures (expected {total}); receipts (warm-up included) {emails}, published "
              f"{published}; jobs waiting in Redis {in_redis}")
        if authenticated.rate():
            print(f"  for comparison, against the authenticated ceiling: whole exchange "
                  f"{whole.rate() / authenticated.rate():.2f}, "
                  f"signature request {intake.rate() / authenticated.rate():.2f}")
        for label, ratio in verdicts:
            if label != "payload request":
                verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
                print(f"  ratio, {label}: {ratio:.2f} of the ceiling ({verdict} the target of {TARGET_RATIO})")
        for label, errors in (("warm-up", warm_signing.errors), ("whole", whole.errors), ("payload", issue.errors),
                              ("signature", intake.errors), ("ceiling", ceiling.errors),
                              ("authenticated ceiling", authenticated.errors)):
            for error in errors[:5]:
                print(f"  {label} error: {error}")
        failed = (bool(whole.errors or issue.errors or intake.errors or ceiling.errors or warm_signing.errors
                       or authenticated.errors)
                  or stored != total or ceiling_rows != args.ceiling_requests + after or published != emails
                  or in_redis < total)
        return 1 if failed else 0
    finally:
        stop(server)
        if name is not None:
            drop_database(args.postgres, name)
        try:
            flush_redis(args.redis)
        except Exception as exc:  # reported, never hiding the run's own outcome
            print(f"could not empty {args.redis}: {exc}", file=sys.stderr)
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
