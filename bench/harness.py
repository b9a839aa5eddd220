"""Shared parts of the HTTP benchmarks: throwaway PostgreSQL databases, gunicorn, keep-alive clients, timing.

Loopback only; every wait is bounded. Nothing here measures anything by itself.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
REQUEST_TIMEOUT = 60.0
START_TIMEOUT = 60.0

@dataclass
class Run:
    """What one load phase measured."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    done: int = 0
    signed: list[Any] = field(default_factory=list)  # what each successful job returned (if not None)

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

# --- redis -----------------------------------------------------------------------------------------------


@contextmanager
def temporary_database(admin_url: str) -> Iterator[str]:
    """A new empty database's URL, dropped on the way out whatever happens."""
    name, url = create_database(admin_url)
    try:
        yield url
    finally:
        drop_database(admin_url, name)


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


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rpartition(")")[2].split()  # the fields after ``(comm)``: state, ppid, …


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn's workers, a Celery worker's pool), from ``/proc``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except OSError:  # the process ended meanwhile
                continue
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (0 for one that is gone)."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu(master: int) -> float | None:
    """CPU seconds of a server process and its descendants so far; None without Linux ``/proc``."""
    if not Path("/proc/self/stat").exists():
        return None
    return cpu_seconds(family(master))


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from ``/proc/stat``."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def cpu_delta(start: float | None, end: float | None, add: bool = False) -> float | None:
    """``end - start`` (or, with ``add``, ``start + end``); None if either is unknown."""
    if start is None or end is None:
        return None
    return start + end if add else end - start


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
