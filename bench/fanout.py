"""Benchmark: 2,000 notification e-mails through the outbox and a real Celery worker vs raw smtplib.

    .venv/bin/python bench/fanout.py [--emails 2000] [--concurrency 2] [--timeout 300]

Everything runs on loopback and is cleaned up afterwards:

- an aiosmtpd server in its own process (it accepts and counts messages, stores nothing);
- PostgreSQL: a temporary database (``accord_bench_<random>``, migrated, dropped at the end) on
  ``BENCH_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``);
- Redis database 14 of ``BENCH_REDIS_HOST`` (default 127.0.0.1:6379), emptied (FLUSHDB) before and after;
- a real ``celery -A workers worker`` process in production mode (``TASK_MODE=celery``).

**Outbox path**: in one transaction the app queues ``--emails`` rendered notifications
(``outbox.queue_email``, template ``signing_opened``, one recipient each) and commits; ``transactions.commit``
publishes one ``send_emails`` task per chunk of ``outbox.EMAIL_CHUNK`` (100) e-mails to Redis; the worker
renders each chunk's messages and delivers them over one SMTP connection, marking the rows sent. Timed from
the start of the transaction until every row is ``sent``.

**Raw path**: the same number of messages (one rendered notification, re-addressed) sent with
``smtplib`` over one reused connection — the floor the outbox pays its durability on top of.

Prints e-mails/s for both and ``ratio = outbox e-mails/s / raw e-mails/s`` (target >= 0.5), and the CPU
time per e-mail of the worker processes, the SMTP sink and this process during the outbox run (from /proc),
with how busy the whole machine was.
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.harness import cpu_seconds, family, free_port, machine_cpu, temporary_database  # noqa: E402

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_HOST = os.environ.get("BENCH_REDIS_HOST", "127.0.0.1:6379")
REDIS_URL = f"redis://{REDIS_HOST}/14"
MAIL_FROM = "Accord Bench <accord@bench.example>"
LOGLEVEL = os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING")  # INFO logs every task to the worker log

# The SMTP sink: a separate process, so the server never competes with the client for one GIL.
SINK = textwrap.dedent("""
    import sys, threading
    from aiosmtpd.controller import Controller

    class Counter:
        def __init__(self):
            self.count = 0
            self.lock = threading.Lock()

        async def handle_DATA(self, server, session, envelope):
            with self.lock:
                self.count += 1
            return "250 OK"

    handler = Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=int(sys.argv[1]), ready_timeout=10)
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(handler.count, flush=True)
        else:
            break
    controller.stop()
""")


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(interval)


def stop(process: subprocess.Popen[Any], name: str) -> None:
    """Stop a process this script started: SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        print(f"{name} did not stop on SIGTERM; killing it", file=sys.stderr)
        process.kill()
        process.wait(timeout=10)


class Sink:
    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, "-c", SINK, str(self.port)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"the SMTP sink did not start (said {line!r})")

    def count(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.stdin is not None:
            with suppress(OSError):
                self.process.stdin.write("stop\n")
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop(self.process, "the SMTP sink")


@contextmanager
def redis_db14() -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=10)
    client.ping()
    client.flushdb()
    try:
        yield client
    finally:
        with suppress(redis.RedisError):
            client.flushdb()
        client.close()


def environment(database_url: str, smtp_port: int, instance: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-" + "z" * 40,
        "REDIS_URL": REDIS_URL,
        "TASK_MODE": "celery",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_TLS": "none",
        "SMTP_TIMEOUT": "10",
        "MAIL_FROM": MAIL_FROM,
        "PUBLIC_URL": "http://accord.bench",
        "PLATFORM_KEY_PATH": str(instance / "platform_key.pem"),
    }


CONTEXT = {
    "display_name": "Delegate", "title": "B40 Local Economic and Cultural Cooperation Summit Declaration",
    "slug": "b40-izmir-2025", "number": 2, "sha256": "f" * 64, "deadline": "2026-12-01 12:00 UTC",
}


def run_raw(sink: Sink, count: int, message: bytes) -> float:
    """Seconds to send ``count`` messages over one reused SMTP connection."""
    before = sink.count()
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        for index in range(count):
            smtp.sendmail("accord@bench.example", [f"raw{index}@bench.example"], message)
    elapsed = time.perf_counter() - start
    received = sink.count() - before
    if received != count:
        raise RuntimeError(f"raw smtplib: the sink received {received} of {count}")
    return elapsed


def run_outbox(app: Any, sink: Sink, count: int, timeout: float) -> tuple[float, float]:
    """Seconds to queue (and publish) ``count`` e-mails, and until all are sent."""
    from sqlalchemy import func, select

    from signing.extensions import db
    from signing.models import OutboxEmail
    from signing.services import outbox, transactions

    before = sink.count()
    with app.app_context():
        start = time.perf_counter()
        for index in range(count):
            outbox.queue_email(f"bench:{index}", f"delegate{index}@bench.example", "signing_opened", **CONTEXT)
        transactions.commit()
        queued = time.perf_counter() - start

        progress = {"at": time.monotonic()}

        def sent() -> bool:
            done = db.session.scalar(select(func.count()).select_from(OutboxEmail)
                                     .where(OutboxEmail.status != "pending")) or 0
            db.session.rollback()
            if time.monotonic() - progress["at"] > 10:
                progress["at"] = time.monotonic()
                print(f"  … {done:,} of {count:,} sent after {time.perf_counter() - start:.0f} s", flush=True)
            return done >= count

        try:
            wait_for(sent, timeout, f"the worker to send {count} e-mails", interval=0.1)
        except TimeoutError:
            stuck = db.session.execute(select(OutboxEmail.id, OutboxEmail.attempts, OutboxEmail.published_at,
                                              OutboxEmail.last_error).where(OutboxEmail.status == "pending")
                                       .limit(10)).all()
            print("still pending (id, attempts, published_at, last error):", *stuck, sep="\n  ", file=sys.stderr)
            raise
        elapsed = time.perf_counter() - start
        failed = db.session.scalar(select(func.count()).select_from(OutboxEmail)
                                   .where(OutboxEmail.status != "sent")) or 0
        db.session.rollback()
    if failed:
        raise RuntimeError(f"outbox: {failed} e-mail(s) not sent")
    received = sink.count() - before
    if received != count:
        raise RuntimeError(f"outbox: the sink received {received} of {count}")
    return queued, elapsed


def start_worker(env: dict[str, str], concurrency: int, log: Path) -> subprocess.Popen[bytes]:
    celery = Path(sys.executable).parent / "celery"
    scratch = log.parent / "tmp"  # the pool's temporary files, removed with the instance folder
    scratch.mkdir(exist_ok=True)
    env = {**env, "TMPDIR": str(scratch)}
    with log.open("wb") as handle:
        return subprocess.Popen(
            [str(celery), "-A", "workers", "worker", f"--loglevel={LOGLEVEL}", f"--concurrency={concurrency}",
             "--pool=prefork", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=REPO_ROOT, env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)}, stdout=handle,
            stderr=subprocess.STDOUT,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2, help="worker processes")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the worker")
    args = parser.parse_args()

    import tempfile

    from flask_migrate import upgrade

    instance = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    sink = Sink()
    worker: subprocess.Popen[bytes] | None = None
    log = instance / "worker.log"
    try:
        with temporary_database(POSTGRES_URL) as database_url, redis_db14():
            env = environment(database_url, sink.port, instance)
            os.environ.update(env)
            from signing import create_app
            from signing.extensions import db
            from signing.mail import build_message

            app = create_app(instance_path=instance)
            with app.app_context():
                upgrade()
                rendered = build_message("signing_opened", "raw@bench.example", CONTEXT, "raw")
                message = rendered.as_bytes(policy=rendered.policy.clone(linesep="\r\n"))  # SMTP line ends
            print(f"SMTP sink on 127.0.0.1:{sink.port}; PostgreSQL {database_url.rsplit('/', 1)[-1]}; "
                  f"Redis {REDIS_URL}; {args.emails:,} e-mails of {len(message):,} bytes")

            worker = start_worker(env, args.concurrency, log)
            celery_app = app.extensions["celery"]
            wait_for(lambda: bool(celery_app.control.ping(timeout=0.5)) or worker.poll() is not None, 60,
                     "the Celery worker to start", interval=0.2)
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{log.read_text()}")

            raw_s = run_raw(sink, args.emails, message)
            workers, cpus = family(worker.pid), os.cpu_count() or 1
            before = (cpu_seconds(workers), cpu_seconds([sink.process.pid]), cpu_seconds([os.getpid()]),
                      machine_cpu())
            queued_s, outbox_s = run_outbox(app, sink, args.emails, args.timeout)
            after = (cpu_seconds(workers), cpu_seconds([sink.process.pid]), cpu_seconds([os.getpid()]),
                     machine_cpu())
            raw_rate, outbox_rate = args.emails / raw_s, args.emails / outbox_s
            print(f"raw smtplib, one connection:       {raw_s:7.2f} s  {raw_rate:8,.0f} e-mails/s")
            print(f"outbox + Celery worker (x{args.concurrency}):      {outbox_s:7.2f} s  {outbox_rate:8,.0f} e-mails/s"
                  f"  (queued and published in {queued_s:.2f} s)")
            per_mail = [(a - b) * 1000 / args.emails for a, b in zip(after[:3], before[:3], strict=True)]
            busy = (after[3][0] - before[3][0]) / max(after[3][1] - before[3][1], 1)
            print(f"CPU per e-mail during the outbox run: worker {per_mail[0]:.2f} ms, SMTP sink {per_mail[1]:.2f} "
                  f"ms, this process (queue, publish, poll) {per_mail[2]:.2f} ms; all {cpus} CPUs {busy:.0%} busy "
                  f"(PostgreSQL, Redis and anything else running included); load {os.getloadavg()[0]:.2f}")
            ratio = outbox_rate / raw_rate
            print(f"ratio (outbox / raw): {ratio:.2f}  (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            stop(worker, "the Celery worker")
    except Exception:
        if log.exists():
            print("worker log (tail):\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:]),
                  file=sys.stderr)
        raise
    finally:
        if worker is not None:
            stop(worker, "the Celery worker")
        sink.close()
        for path in sorted(instance.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        instance.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
