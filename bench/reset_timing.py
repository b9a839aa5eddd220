"""Does ``POST /reset`` answer as fast for an address with no account as for one with an account?

Serves the embedded default (SQLite, e-mail written as files, follow-up work in-process) with Werkzeug's
threaded server on 127.0.0.1 in a temporary instance folder, then times ``--rounds`` reset requests for
each kind of address, interleaved (known, unknown, known, ...), each on a new connection and
``--pause`` seconds apart, from sending the request to reading the whole response. Prints the median
and 90th percentile of both and their ratio (known / unknown), and exits 1 if a request failed.
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

KNOWN = "known@bench.example"
UNKNOWN = "unknown@bench.example"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway account of the benchmark
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _serve(instance: Path) -> tuple[object, int]:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from signing import create_app
    from signing.models import Role
    from signing.services import accounts

    app = create_app({"SECRET_KEY": "bench-" + "x" * 40, "RESET_RATE_LIMIT": "1000000 per minute",
                      "PUBLIC_URL": "http://127.0.0.1"}, instance_path=instance)
    with app.app_context():
        upgrade()
        accounts.create_user(KNOWN, "Known", Role.OBSERVER, password=PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_port


def _form(port: int) -> tuple[str, str]:
    """A session cookie and a CSRF token for it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/reset")
    response = conn.getresponse()
    body = response.read().decode()
    cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
    conn.close()
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body)
    if not match or not cookie:
        sys.exit("could not read the reset form")
    return cookie, match.group(1)


def _post(port: int, cookie: str, token: str, email: str) -> tuple[float, int]:
    body = urlencode({"csrf_token": token, "email": email})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    conn.request("POST", "/reset", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, response.status


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="requests per kind of address (default 200)")
    parser.add_argument("--pause", type=float, default=0.2,
                        help="seconds between requests, for work done after a response (default 0.2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="accord-bench-reset-") as folder:
        server, port = _serve(Path(folder) / "instance")
        cookie, token = _form(port)
        times: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
        failures = 0
        for _ in range(5):  # warm-up, not measured
            for email in (KNOWN, UNKNOWN):
                _post(port, cookie, token, email)
                time.sleep(args.pause)
        for _ in range(args.rounds):
            for email in (KNOWN, UNKNOWN):
                elapsed, status = _post(port, cookie, token, email)
                failures += status != 302
                times[email].append(elapsed)
                time.sleep(args.pause)
        time.sleep(1)
        server.shutdown()  # type: ignore[attr-defined]
        # Every request for the known address sent its link (after the answer), none for the unknown one.
        sent = len(list((Path(folder) / "instance" / "mail").glob("*.eml")))
    print(f"{'address':<10} {'median ms':>10} {'p90 ms':>8}")
    for label, email in (("known", KNOWN), ("unknown", UNKNOWN)):
        print(f"{label:<10} {statistics.median(times[email]) * 1000:>10.2f} {_p90(times[email]) * 1000:>8.2f}")
    ratio_median = statistics.median(times[KNOWN]) / statistics.median(times[UNKNOWN])
    ratio_p90 = _p90(times[KNOWN]) / _p90(times[UNKNOWN])
    print(f"ratio known/unknown: median {ratio_median:.2f}, p90 {ratio_p90:.2f}")
    print(f"reset e-mails written: {sent} (expected {args.rounds + 5})")
    if failures:
        print(f"{failures} request(s) did not answer 302")
    return 1 if failures or sent != args.rounds + 5 else 0


if __name__ == "__main__":
    sys.exit(main())
