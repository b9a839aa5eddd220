"""A city's witness in a real browser (Chromium via Playwright): a witness key made by WebCrypto, cosignatures
that verify with ``signing/core/note.py``, and a split view refused, shown and reported.

A delegate enrols a witness key on /account/keys; new entries are sequenced; opening any page makes the
browser check the log (its signature, an RFC 9162 consistency proof from what it cosigned before) and cosign
it. Then the log's answers are replaced, for that browser only, by those of a forked Accord with the same key
and origin: the browser refuses to cosign, shows a banner, and the secretariat receives a fork report.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.browser.conftest import LiveServer, log_in
from tests.conftest import PASSWORD, read_mail, seed_people
from tests.tlog.test_witness import entries

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000


def _in(app: Flask, work: Callable[[], Any]) -> Any:
    from signing.extensions import db

    with app.app_context():
        try:
            return work()
        finally:
            db.session.remove()


def _witness_status(page: Any, prefix: str) -> str:
    """Wait until witness.js has finished with ``prefix`` (any other final outcome fails at once, with it)."""
    page.wait_for_function("() => !['checking', undefined].includes(document.documentElement.dataset.witness)",
                           timeout=TIMEOUT_MS)
    status = str(page.evaluate("() => document.documentElement.dataset.witness"))
    assert status.startswith(prefix), status
    return status


def test_a_browser_witness_cosigns_and_catches_a_split_view(
        live_server: LiveServer, browser: Any, app_factory: Callable[..., Flask], sqlite_template: Path,
        tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from signing.core import note
    from signing.models import LogForkReport

    app, base = live_server.app, live_server.url
    _in(app, seed_people)
    _in(app, lambda: entries(2, "before"))
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    log_in(page, base, "izmir@b40.example")
    page.goto(f"{base}/account/keys")
    assert page.evaluate("() => document.documentElement.dataset.witness") is None, "no witness key yet"
    page.get_by_label("Account password (asked again for a witness key)").fill("not the password")
    page.get_by_role("button", name="Create and enrol a witness key").click()
    expect(page.locator("#witness-enrol-status")).to_contain_text("The key was not kept.")
    page.get_by_label("Account password (asked again for a witness key)").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Create and enrol a witness key").click()
    expect(page.locator(".flash-success")).to_contain_text("The witness key sha256:")
    expect(page.locator("#witness-keys-table td.in-browser")).to_have_text("yes, in this browser")
    first = _witness_status(page, "cosigned")

    # New entries; opening any page checks the consistency proof and cosigns the new checkpoint.
    _in(app, lambda: entries(11, "after"))
    client = app.test_client()
    size = int(client.get("/log/checkpoint").get_data(as_text=True).split("\n")[1])
    page.goto(f"{base}/declarations")
    assert _witness_status(page, "cosigned ") == f"cosigned {size}" != first
    log_key = note.parse_verifier(client.get("/log/key").get_data(as_text=True).strip())
    (listed,) = client.get("/api/v1/log/witnesses").json["witnesses"]
    assert listed["city"] == "izmir" and listed["origin"] == "browser"
    witness_key = note.parse_verifier(listed["verifier_key"])
    served = client.get("/log/checkpoint").get_data(as_text=True)
    _, verified, others = note.open_note(served, [log_key, witness_key])
    assert [v.verifier.name for v in verified] == [log_key.name, witness_key.name] and others == []
    assert abs(verified[1].timestamp - time.time()) < 300  # type: ignore[operator]

    # A forked Accord (same key and origin, another history) answers this browser's log requests.
    fork_db = tmp_path / "fork.sqlite3"
    shutil.copyfile(sqlite_template, fork_db)
    forked = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{fork_db}")
    _in(forked, seed_people)
    _in(forked, lambda: entries(40, "forged"))
    fork_client = forked.test_client()
    forged_note = fork_client.get("/log/checkpoint").get_data(as_text=True)

    def from_the_fork(route: Any) -> None:
        path = route.request.url.removeprefix(base)
        answer = fork_client.get(path)
        route.fulfill(status=answer.status_code, body=answer.get_data(), content_type=answer.content_type)

    page.route(f"{base}/log/checkpoint", from_the_fork)
    page.route(f"{base}/api/v1/log/proof/consistency?*", from_the_fork)
    cosignatures_before = sum(url.endswith("/api/v1/log/cosignatures") for url in posts)
    page.goto(f"{base}/")
    status = _witness_status(page, "fork")
    assert "consistency proof" in status, status
    alarm = page.get_by_role("alert")
    expect(alarm).to_contain_text("contradicts the one it cosigned before")
    expect(alarm).to_contain_text("It was reported to the secretariat.")
    assert sum(url.endswith("/api/v1/log/cosignatures") for url in posts) == cosignatures_before

    def reports() -> list[tuple[str, str, int | None]]:
        from signing.extensions import db

        return [(r.old_checkpoint, r.new_checkpoint, r.witness_key_id)
                for r in db.session.scalars(db.select(LogForkReport))]

    ((old, new, witness_id),) = _in(app, reports)
    assert new == forged_note and witness_id is not None
    assert note.parse_checkpoint(note.parse_note(old)[0]).size == size
    assert any("caught two checkpoints" in m["Subject"] for m in read_mail(app.config["MAIL_FILE_DIR"]))
    evidence = page.evaluate(
        """() => new Promise((resolve, reject) => {
             const req = indexedDB.open("accord-witness");
             req.onsuccess = () => {
               const all = req.result.transaction("state").objectStore("state").getAll();
               all.onsuccess = () => { resolve(all.result); req.result.close(); };
               all.onerror = () => reject(all.error);
             };
             req.onerror = () => reject(req.error);
           })""")
    kept = [record["value"] for record in evidence if record["name"].startswith("evidence:")]
    assert len(kept) == 1 and kept[0]["newCheckpoint"] == forged_note and kept[0]["oldCheckpoint"] == old
    assert problems == []
    context.close()
