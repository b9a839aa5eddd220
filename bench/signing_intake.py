"""How many signatures per second Accord takes in, against the ceiling of the work itself, on the same stack.

    .venv/bin/python bench/signing_intake.py [--clients 32 --signatures 400]

1. Creates its own PostgreSQL database (dropped at the end), applies the migrations and prepares one
   declaration open for signature by N cities, each with a delegate holding an Ed25519 key (enrolled
   through ``services.keys``) and an API token (``services.tokens``), N = ``--signatures`` + one per
   client for the warm-up.
2. Serves Accord with ``gunicorn -w 4 -k gthread --threads 8`` on 127.0.0.1 (``bench/accord_wsgi.py``:
   ``create_app()`` with a temporary instance folder, plus the ceiling route) in its production set-up:
   ``DATABASE_URL``, ``SECRET_KEY``, ``TASK_MODE=celery`` and ``REDIS_URL`` naming a dedicated Redis
   database (``--redis``, emptied with FLUSHDB before and after; no worker runs, so the e-mail jobs wait
   in Redis and each signature request does what production does: commit, then publish).
   After a warm-up (not measured), ``--clients`` threads sign through the JSON API: ``POST
   …/signing-payload``, sign locally, ``POST …/signatures``. Latency is that whole exchange, per signature.
3. The ceiling, on the same server: ``POST /bench/ceiling`` (registered by ``bench/accord_wsgi.py`` only)
   does one Ed25519 verification and one INSERT + commit through the app's own SQLAlchemy session, nothing
   else; driven by the same clients, half before the app (payload-sized stand-ins) and half after (the
   signed payloads), so that a drift in the machine's load weighs on both alike.
4. Prints signatures/s, p50/p99, the ceiling's requests/s, the server's CPU time per signature and per
   ceiling request, and the ratio (target ≥ 0.5).

Loopback only; every loop is bounded; the server it starts, the database it creates and the Redis
database it used are cleaned up whatever happens. Exit status 1 if a request failed or the stored
signatures (or published jobs) do not add up.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import queue
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
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

DEFAULT_POSTGRES = os.environ.get("BENCH_POSTGRES_URL",
                                  os.environ.get("TEST_POSTGRES_URL",
                                                 "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PASSWORD = "bench password, not secret"  # noqa: S105 - a throwaway account in a throwaway database
SLUG = "bench-declaration"
TEXT = "We, the cities of the network, agree.\n\nThis text is signed by the benchmark.\n"
REQUEST_TIMEOUT = 60.0
START_TIMEOUT = 60.0
TARGET_RATIO = 0.5


@dataclass
class Delegate:
    token: str
    key: Ed25519PrivateKey
    fingerprint: str
    public: bytes


@dataclass
class Run:
    """What one load phase measured."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    done: int = 0
    signed: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)  # (public, payload, signature)

    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0

    def merged(self, other: Run) -> Run:
        """Two runs of the same work as one: their requests over their summed wall time."""
        return Run(latencies=self.latencies + other.latencies, errors=self.errors + other.errors,
                   elapsed=self.elapsed + other.elapsed, done=self.done + other.done, signed=self.signed + other.signed)

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


# --- database and data -----------------------------------------------------------------------------------


def create_database(admin_url: str) -> tuple[str, str]:
    name = f"accord_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return name, make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def prepare(url: str, instance: Path, secret: str, count: int) -> tuple[list[Delegate], str]:
    """Migrate, then one declaration open for signature by ``count`` cities, each with a delegate, key and token."""
    from flask_migrate import upgrade

    from signing import create_app
    from signing.extensions import db
    from signing.models import Role
    from signing.payload import b64encode, fingerprint
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


# --- redis -----------------------------------------------------------------------------------------------


def flush_redis(url: str) -> None:
    """Empty the dedicated Redis database (FLUSHDB: that database only)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def queued_jobs(url: str) -> int:
    """Messages waiting in the default Celery queue (a Redis list named ``celery``)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        return int(client.llen("celery"))
    finally:
        client.close()


# --- servers ---------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(module: str, port: int, env: dict[str, str], log: Path, workers: int,
                   threads: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", str(threads),
               "-b", f"127.0.0.1:{port}", "--no-control-socket", "--chdir", str(REPO), "--log-level", "warning",
               module]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn {module} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return process
        except OSError:
            time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"gunicorn {module} did not answer within {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a gunicorn we started (its master takes its workers down; the group is killed if it hangs)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def server_cpu(master: int) -> float | None:
    """CPU seconds (user + system) of a gunicorn master and its workers so far; None without Linux ``/proc``."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    try:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            pid, parent = int(entry.name), int(fields[1])
            if pid == master or parent == master:
                total += int(fields[11]) + int(fields[12])  # utime, stime
    except OSError:
        return None
    return total / ticks


def cpu_delta(start: float | None, end: float | None, add: bool = False) -> float | None:
    """``end - start`` (or, with ``add``, ``start + end``); None if either is unknown."""
    if start is None or end is None:
        return None
    return start + end if add else end - start


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "SMTP_HOST", "TASK_MODE", "SECRET_KEY"}}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


# --- clients ---------------------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP connection per client thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("POST", path, data, headers)

    def request(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        for attempt in (1, 2):  # once more if the server closed an idle keep-alive connection
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            try:
                return response.status, json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                return response.status, {"raw": raw[:200].decode("utf-8", "replace")}
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def drive(port: int, jobs: list[Any], clients: int, work: Any) -> Run:
    """Run ``work(client, job)`` over every job from ``clients`` threads released together."""
    run = Run()
    pending: queue.Queue[Any] = queue.Queue()
    for job in jobs:
        pending.put(job)
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        client = Client(port)
        try:
            barrier.wait(timeout=60)
            while True:
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                try:
                    outcome = work(client, job)
                except Exception as exc:  # a failed request is counted, never fatal
                    with lock:
                        run.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                took = time.perf_counter() - started
                with lock:
                    if isinstance(outcome, str):
                        run.errors.append(outcome)
                    else:
                        run.latencies.append(took)
                        run.done += 1
                        if outcome is not None:
                            run.signed.append(outcome)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, name=f"bench-client-{i}", daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=60)
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=600)
    run.elapsed = time.perf_counter() - began
    if any(thread.is_alive() for thread in threads):
        run.errors.append("a client thread did not finish within 600 s")
    return run


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


def verify_and_insert(client: Client, job: tuple[bytes, bytes, bytes]) -> Any:
    public, payload, signature = job
    status, body = client.post("/bench/ceiling", {"public_key": base64.b64encode(public).decode(),
                                     "payload": base64.b64encode(payload).decode(),
                                     "signature": base64.b64encode(signature).decode()})
    return None if status == 201 else f"ceiling: HTTP {status} {body}"


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
        print(f"database {name}; preparing {args.signatures} + {args.clients} (warm-up) delegates with keys and "
              "API tokens ...", flush=True)
        instance = temp / "instance"
        everyone, warm_token = prepare(url, instance, secret, args.signatures + args.clients)
        # One delegate per client signs during the warm-up (every worker's statements compiled, not measured).
        warm_delegates, delegates = everyone[: args.clients], everyone[args.clients:]
        create_ceiling_table(url)

        # One server for both phases: Accord as in production (Celery publishing to Redis) + the ceiling route.
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

        # The ceiling, half before and half after the app (the machine's load drifts): verify + INSERT + commit,
        # same server, same session and pool. Before, the bytes are a stand-in of a payload's size; after, the
        # payloads the delegates signed.
        before = args.ceiling_requests // 2
        stand_in = [(d.public, STAND_IN_PAYLOAD, d.key.sign(STAND_IN_PAYLOAD)) for d in delegates[:64]]
        print(f"ceiling (1/2): one Ed25519 verify + one INSERT per request, same app, {before} requests ...",
              flush=True)
        cpu_start = server_cpu(server.pid)
        ceiling_before = drive(port, [stand_in[i % len(stand_in)] for i in range(before)], args.clients,
                               verify_and_insert)
        cpu_ceiling = cpu_delta(cpu_start, server_cpu(server.pid))

        print(f"signing through the API: {args.clients} clients, {args.signatures} signatures ...", flush=True)
        cpu_start = server_cpu(server.pid)
        app_run = drive(port, delegates, args.clients, sign_through_api)
        cpu_app = cpu_delta(cpu_start, server_cpu(server.pid))
        stored = stored_signatures(url) - warm_signing.done
        published = count(url, "SELECT count(*) FROM outbox_emails WHERE published_at IS NOT NULL "
                               "AND dedupe_key LIKE 'signature_%'")
        emails = count(url, "SELECT count(*) FROM outbox_emails WHERE dedupe_key LIKE 'signature_%'")
        in_redis = queued_jobs(args.redis)

        signed = app_run.signed or stand_in
        after = args.ceiling_requests - before
        print(f"ceiling (2/2): the same, {after} requests with the signed payloads ...", flush=True)
        cpu_start = server_cpu(server.pid)
        ceiling_after = drive(port, [signed[i % len(signed)] for i in range(after)], args.clients, verify_and_insert)
        cpu_ceiling = cpu_delta(cpu_ceiling, cpu_delta(cpu_start, server_cpu(server.pid)), add=True)
        ceiling = ceiling_before.merged(ceiling_after)
        stop(server)
        server = None
        ceiling_rows = count(url, "SELECT count(*) FROM bench_ceiling WHERE payload <> :warm", warm=WARM_UP_PAYLOAD)

        ratio = app_run.rate() / ceiling.rate() if ceiling.rate() else float("nan")
        print()
        print(f"Accord signing intake — gunicorn -w {args.workers} -k gthread --threads {args.threads}, PostgreSQL, "
              f"TASK_MODE=celery (Redis), {args.clients} clients, loopback")
        print(f"  app:      {app_run.done} signatures in {app_run.elapsed:.2f} s = {app_run.rate():.1f} signatures/s; "
              f"latency (payload + signature requests) p50 {app_run.percentile(50) * 1000:.0f} ms, "
              f"p99 {app_run.percentile(99) * 1000:.0f} ms; errors {len(app_run.errors)}; stored {stored}; "
              f"receipts (warm-up included) {emails}, published {published}; jobs waiting in Redis {in_redis}")
        print(f"  ceiling:  {ceiling.done} requests in {ceiling.elapsed:.2f} s = {ceiling.rate():.1f}/s "
              f"(before the app {ceiling_before.rate():.1f}/s, after {ceiling_after.rate():.1f}/s); "
              f"latency p50 {ceiling.percentile(50) * 1000:.0f} ms, p99 {ceiling.percentile(99) * 1000:.0f} ms; "
              f"errors {len(ceiling.errors)}; rows {ceiling_rows}")
        if cpu_app is not None and cpu_ceiling is not None and app_run.done and ceiling.done:
            per_signature, per_request = cpu_app / app_run.done * 1000, cpu_ceiling / ceiling.done * 1000
            print(f"  server CPU (gunicorn processes, PostgreSQL and Redis not included): {per_signature:.1f} ms per "
                  f"signature, {per_request:.1f} ms per ceiling request ({per_signature / per_request:.1f}×)")
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        print(f"  ratio:    {ratio:.2f} of the ceiling ({verdict} the target of {TARGET_RATIO})")
        for label, errors in (("warm-up", warm_signing.errors), ("app", app_run.errors), ("ceiling", ceiling.errors)):
            for error in errors[:5]:
                print(f"  {label} error: {error}")
        failed = (bool(app_run.errors or ceiling.errors or warm_signing.errors) or stored != args.signatures
                  or ceiling_rows != args.ceiling_requests or published != emails or in_redis < emails)
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
