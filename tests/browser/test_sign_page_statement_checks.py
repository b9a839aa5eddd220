"""In Chromium: ``sign.js`` labels and checks the issued statement with the table the page carries.

The payload answer is altered in flight (Playwright's routing), the way a compromised or buggy server
could send it: an extra field, a field missing, an integer sent as a string, a statement that is not the
sentence of its fields. Each time the page refuses, names the problem, and never signs or sends. The
unaltered statement is shown with the table's labels, in the table's order.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from signing.core import statements
from tests.browser.conftest import LiveServer, log_in
from tests.browser.test_signing_journey import (
    DELEGATE_EMAIL,
    SLUG,
    TIMEOUT_MS,
    Watch,
    _enrol_key_in_browser,
    _open_sign_page,
    _seed,
    _signature_count,
)

pytestmark = pytest.mark.browser

Change = Callable[[dict[str, Any]], None]


def _altered(fields: dict[str, Any], change: Change) -> str:
    change(fields)
    data = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(data).decode("ascii")


CASES: list[tuple[Change, str]] = [
    (lambda fields: fields.update(extra="x"),
     "it has field(s) accord.signature/2 does not have: extra"),
    (lambda fields: fields.pop("nonce"), "it lacks the field(s) nonce"),
    (lambda fields: fields.update(signer_id=str(fields["signer_id"])), "its field signer_id is not an integer"),
    (lambda fields: fields.update(issuer=1), "its field issuer is not a string"),
    (lambda fields: fields.update(statement=fields["statement"].replace(" signs ", " withdraws the signature of ")),
     "its statement is not the sentence its fields make"),
    # accord.signature/2: the versions, item by item, and what they name.
    (lambda fields: fields["versions"][0].update(authoritative="yes"),
     "its field versions[0].authoritative is not a boolean"),
    (lambda fields: fields["versions"][0].pop("sha256"), "its field versions[0] is not an object of tag, sha256"),
    (lambda fields: fields.update(versions={"tag": "en"}), "its field versions is not an array"),
    (lambda fields: fields["versions"][0].update(sha256="0" * 64),
     "it names other language versions than the texts shown here"),
    (lambda fields: fields["versions"].append({"tag": "zz", "sha256": "0" * 64, "authoritative": False}),
     "it names other language versions than the texts shown here"),
]


def test_the_page_refuses_a_statement_that_departs_from_its_format(live_server: LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_server.url
    _seed(live_server)
    watch = Watch(base, [], [], set())
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch.attach(page)
    log_in(page, base, DELEGATE_EMAIL)
    fingerprint = _enrol_key_in_browser(page, base, watch)
    _open_sign_page(page, base, fingerprint)

    current: list[Change] = []

    def alter(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        if current:
            body["payload"] = _altered(json.loads(base64.b64decode(body["payload"])), current[0])
        route.fulfill(response=response, json=body)

    page.route(f"{base}/declarations/{SLUG}/sign/payload", alter)
    prepare, error = page.get_by_role("button", name="Prepare the signature"), page.locator("#signing-error")

    # Unaltered: accepted, and shown with the table's labels in the table's order.
    prepare.click()
    expect(page.locator("#hash-check")).to_contain_text("✓")
    labels = [field.label for field in statements.SIGNATURE_V2.fields]
    expect(page.locator("#payload-fields dt")).to_have_text(labels)
    expect(page.locator('#payload-fields dd[data-field="nonce"]')).not_to_be_empty()

    for number, (change, problem) in enumerate(CASES, start=2):
        current[:] = [change]
        prepare.click()
        expect(page.locator("#hash-check")).to_contain_text("✗")
        expect(error).to_be_visible()
        expect(error).to_contain_text("Refused: the statement Accord sent does not match this page")
        expect(error).to_contain_text(problem)
        expect(page.locator("#confirm-step")).to_be_hidden()
        assert len(watch.posts_to("/sign/payload")) == number

    page.wait_for_timeout(300)  # a request, had one been made, would have started by now
    assert watch.posts_to("/sign/submit") == []
    assert _signature_count(live_server) == 0
    context.close()
    assert watch.problems == []
