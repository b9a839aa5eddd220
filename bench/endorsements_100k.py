"""100,000 real signed endorsements on PostgreSQL: the public pages' latency, the export, and its verification.

    .venv/bin/python bench/endorsements_100k.py [--endorsements 100000] [--requests 400] [--repeat 2] [--pages-only]

1. Creates its own PostgreSQL database (dropped at the end), migrates it, freezes one declaration (three cities
   sign it through the services) and inserts ``--endorsements`` endorsers; each signs a real
   ``accord.endorsement/1`` statement with its own Ed25519 key (``bench/endorsement_setup.py``; not measured).
2. Loads them through the service's bulk path, ``services.endorsements.accept_many`` (every statement parsed and
   verified, one transaction per 1,000), and prints its rate.
3. Serves Accord with gunicorn (``bench/accord_wsgi.py``, 4 workers × 8 threads, ``TASK_MODE=celery`` with a
   dedicated Redis database as in production) and times, from ``--clients`` keep-alive clients, ``--requests``
   GETs of each: the public endorsement page (``/d/<slug>/endorsements``: counts by kind and country and the newest
   page), the list's last page (``?after=`` the keyset of the oldest page, ``endorsement_queries.oldest_after``)
   and the count endpoint (``/d/<slug>/endorsements/count.json``). Target: p99 < 50 ms.
4. Runs ``flask --app bench.accord_wsgi export-endorsements SLUG PATH`` as a child process and reads its wall time
   and peak resident memory (``os.wait4``). Targets: < 60 s and < 300 MB. The command is started by a small
   launcher process that the benchmark starts before anything else: Linux counts in a child's ``ru_maxrss`` the
   peak of the address space it was vforked from (``subprocess`` uses vfork), so a child started by the
   benchmark itself, hundreds of megabytes after the set-up, would report the benchmark's peak, not its own.
5. Verifies the export with ``python -m signing.verify PATH --jobs 2`` (a child process: the real command,
   interpreter start included) and times, in the same run and interleaved with it, the raw single-core Ed25519
   loop over the same statements (``Ed25519PublicKey.from_public_bytes(key).verify(signature, statement)``).
   Target: the verifier's rate ≥ 0.8 × twice the raw loop's rate. Best of ``--repeat`` of each.

Loopback only. Exit status 1 if a step failed (a request, a count, the verification); a missed target is
reported, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402

from bench import endorsement_setup as setup  # noqa: E402
from bench.harness import Client, create_database, drive, drop_database, flush_redis, free_port, start_gunicorn, stop  # noqa: E402

DEFAULT_POSTGRES = os.environ.get("BENCH_POSTGRES_URL", os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PAGE_P99_MS, EXPORT_SECONDS, EXPORT_MB, VERIFY_RATIO = 50.0, 60.0, 300.0, 0.8


def load(url: str, instance: Path, secret: str, count: int) -> tuple[list[tuple[bytes, bytes, bytes]], str, int | None]:
    """The frozen declaration and ``count`` endorsements loaded through ``accept_many``; the statements, the
    platform key's fingerprint and the ``after`` of the list's last page."""
    from flask_migrate import upgrade

    from signing import create_app
    from signing.extensions import db
    from signing.services import endorsement_queries, endorsements, platform_key

    app = create_app(setup.app_config(url, instance, secret), instance_path=instance)
    with app.app_context():
        upgrade()
        declaration = setup.freeze_declaration()
        started = time.monotonic()
        facts = setup.facts_of(declaration, setup.insert_endorsers(count))
        print(f"  inserted {count:,} endorsers in {time.monotonic() - started:.0f} s", flush=True)
        statements = setup.sign_statements(facts, "2026-11-30T12:00:00Z")
        signed = [endorsements.Signed(*item) for item in statements]
        started = time.perf_counter()
        result = endorsements.accept_many(declaration, signed, register_keys=True)
        took = time.perf_counter() - started
        print(f"bulk path (accept_many): {result.accepted:,} accepted, {result.refused} refused in {took:.1f} s "
              f"({result.accepted / took:,.0f} endorsements/s)", flush=True)
        if result.accepted != count:
            raise RuntimeError(f"accept_many accepted {result.accepted} of {count}: {(result.errors or [])[:3]}")
        fingerprint = platform_key.fingerprint(platform_key.load())
        last_after = endorsement_queries.oldest_after(declaration)
        db.session.remove()
        db.engine.dispose()
    return statements, fingerprint, last_after


def server_env(url: str, secret: str, instance: Path, redis: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SMTP_HOST", "TASK_MODE"}}
    env.update(PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), DATABASE_URL=url, SECRET_KEY=secret,
               ACCORD_BENCH_INSTANCE=str(instance), TASK_MODE="celery", REDIS_URL=redis)
    return env


def pages(port: int, paths: dict[str, str], requests: int, clients: int,
          warm_up: int = 4) -> list[tuple[str, float, float, int]]:
    """Each path GET ``requests`` times from ``clients`` clients: (label, p50 ms, p99 ms, failures).

    Warm-up: ``warm_up`` rounds of one GET per client, each round on new connections. gunicorn hands each
    connection to whichever worker accepts it first, so one round of 8 connections can leave one of the 4
    workers without any: its first requests (its templates compiled, its database connections opened, its
    caches filled) then fall in the measured run. Four rounds (the default since 2026-11-30; one before) reach
    every worker in practice: the figure is the steady state, not a worker's first request.
    """
    def get(client: Client, path: str) -> Any:
        status, _ = client.request("GET", path, None, {"Accept": "text/html,application/json"})
        return None if status == 200 else f"GET {path}: HTTP {status}"

    figures = []
    for label, path in paths.items():
        for _ in range(warm_up):  # warm-up: every worker's connections and caches
            drive(port, [path] * clients, clients, get)
        run = drive(port, [path] * requests, clients, get)
        figures.append((label, run.percentile(50) * 1000, run.percentile(99) * 1000, len(run.errors)))
        print(f"{label:<28} {path:<60} p50 {figures[-1][1]:6.1f} ms  p99 {figures[-1][2]:6.1f} ms  "
              f"({run.rate():.0f} requests/s, {len(run.errors)} failed){' ' + run.errors[0] if run.errors else ''}",
              flush=True)
    return figures


# Reads one command (JSON) on stdin, runs it, and answers its wall time, exit status and ``ru_maxrss``.
_LAUNCHER = """
import json, os, subprocess, sys, time
asked = json.loads(sys.stdin.readline())
started = time.perf_counter()
with open(asked["log"], "wb") as out:
    child = subprocess.Popen(asked["command"], cwd=asked["cwd"], env=asked["env"], stdout=out,
                             stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - started, "status": os.waitstatus_to_exitcode(status),
                  "maxrss_kib": usage.ru_maxrss}), flush=True)
"""


def start_launcher() -> subprocess.Popen[str]:
    """The process that will start the export (see step 4): started while this one is still small."""
    return subprocess.Popen([sys.executable, "-c", _LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)


def export(launcher: subprocess.Popen[str], env: dict[str, str], path: Path) -> tuple[float, float, str]:
    """The export command as a child process of ``launcher``: (wall seconds, peak RSS in MB, its output)."""
    command = [sys.executable, "-m", "flask", "--app", "bench.accord_wsgi", "export-endorsements", setup.SLUG,
               str(path)]
    log = path.with_suffix(".log")
    answer, _ = launcher.communicate(json.dumps({"command": command, "cwd": str(REPO), "env": env,
                                                 "log": str(log)}) + "\n", timeout=3600)
    figures = json.loads(answer)
    output = log.read_text()
    if figures["status"]:
        raise RuntimeError(f"export-endorsements failed ({figures['status']}): {output[-2000:]}")
    return figures["seconds"], figures["maxrss_kib"] / 1024, output.strip()


def raw_loop(statements: list[tuple[bytes, bytes, bytes]]) -> float:
    started = time.perf_counter()
    for data, signature, public in statements:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    return time.perf_counter() - started


def verify(path: Path, fingerprint: str, jobs: int) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "signing.verify", str(path), "--jobs", str(jobs), "--platform-key",
                           fingerprint], cwd=REPO, capture_output=True, text=True, timeout=3600, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"signing.verify --jobs {jobs} failed: {done.stdout[-2000:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endorsements", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400, help="GETs of each page")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2, help="runs of the verifier and of the raw loop (best kept)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="a dedicated Redis database: emptied before and after")
    parser.add_argument("--page", default="/d/{slug}/endorsements", help="the public endorsement page")
    parser.add_argument("--last-page", default="/d/{slug}/endorsements?after={last}", help="the list's last page")
    parser.add_argument("--count", default="/d/{slug}/endorsements/count.json", help="the count endpoint")
    parser.add_argument("--warm-up", type=int, default=4,
                        help="warm-up rounds of the pages, each on new connections (see pages())")
    parser.add_argument("--pages-only", action="store_true", help="stop after the pages (no export, no verification)")
    args = parser.parse_args()

    load_before = os.getloadavg()
    launcher = start_launcher()
    work = Path(tempfile.mkdtemp(prefix="accord-bench-endorse-"))
    instance, secret = work / "instance", secrets.token_hex(32)
    instance.mkdir()
    name, url = create_database(args.postgres)
    server = None
    failed = False
    try:
        statements, fingerprint, last_after = load(url, instance, secret, args.endorsements)
        env = server_env(url, secret, instance, args.redis)
        flush_redis(args.redis)
        port = free_port()
        server = start_gunicorn("bench.accord_wsgi:app", port, env, work / "gunicorn.log", workers=4, threads=8)
        last = "" if last_after is None else str(last_after)  # keyset: the page of the oldest endorsements
        paths = {label: template.format(slug=setup.SLUG, last=last) for label, template in
                 (("public page", args.page), ("list, last page", args.last_page), ("count endpoint", args.count))}
        figures = pages(port, paths, args.requests, args.clients, args.warm_up)
        stop(server)
        server = None
        failed |= any(errors for *_, errors in figures)
        if args.pages_only:
            for label, _, p99, _ in figures:
                print(f"  {label}: p99 {p99:.1f} ms (< {PAGE_P99_MS:.0f}: {'met' if p99 < PAGE_P99_MS else 'NOT met'})")
            return 1 if failed else 0

        path = work / "endorsements.zip"
        seconds, peak_mb, output = export(launcher, env, path)
        print(f"export: {seconds:.1f} s, peak RSS {peak_mb:.0f} MB, {path.stat().st_size / 1e6:.0f} MB zip\n  {output}")

        raw_times, verify_times = [], []
        for _ in range(args.repeat):  # interleaved: both see the same machine load
            raw_times.append(raw_loop(statements))
            verify_times.append(verify(path, fingerprint, 2))
        raw_rate, verify_rate = len(statements) / min(raw_times), len(statements) / min(verify_times)
        ratio = verify_rate / (2 * raw_rate)
        print(f"raw Ed25519 loop, one core: {min(raw_times):.1f} s ({raw_rate:,.0f}/s); signing.verify --jobs 2: "
              f"{min(verify_times):.1f} s ({verify_rate:,.0f}/s); ratio to twice the raw rate {ratio:.2f}")

        print("\nTargets:")
        for label, _, p99, _ in figures:
            print(f"  {label}: p99 {p99:.1f} ms (< {PAGE_P99_MS:.0f}: {'met' if p99 < PAGE_P99_MS else 'NOT met'})")
        print(f"  export: {seconds:.1f} s (< {EXPORT_SECONDS:.0f}: {'met' if seconds < EXPORT_SECONDS else 'NOT met'}),"
              f" peak {peak_mb:.0f} MB (< {EXPORT_MB:.0f}: {'met' if peak_mb < EXPORT_MB else 'NOT met'})")
        print(f"  verify --jobs 2: {ratio:.2f} of twice the raw loop (>= {VERIFY_RATIO}: "
              f"{'met' if ratio >= VERIFY_RATIO else 'NOT met'})")
    except Exception as exc:  # reported, and everything is cleaned up
        print(f"FAILED: {exc}", file=sys.stderr)
        failed = True
    finally:
        if launcher.poll() is None:  # the export was not reached
            launcher.kill()
            launcher.wait()
        stop(server)
        drop_database(args.postgres, name)
        flush_redis(args.redis)
        shutil.rmtree(work, ignore_errors=True)
        print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}; {} CPUs".format(
            *load_before, *os.getloadavg(), os.cpu_count()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
