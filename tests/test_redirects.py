"""``next`` after logging in: only a path on this site, judged the way a browser reads the URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, People, csrf_token

pytestmark = pytest.mark.usefixtures("fresh_g")

# Known open-redirect forms (each read as-is, or after percent-decoding by the query string).
OFF_SITE = [
    "//evil.example",
    "//evil.example/",
    "///evil.example",
    "////evil.example",
    "https://evil.example",
    "http:evil.example",
    "http:/evil.example",
    "http:\\\\evil.example",
    "HTTPS://evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "/\t/evil.example/",
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "\x01/\\evil.example",
    "/\x0b/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//user@evil.example",
    "https://accord.test@evil.example",
    "//accord.test@evil.example/",
    "/\\accord.test@evil.example",
    "//evil.example%2f..",
    "/\u202e//evil.example",
    "/\u200b/evil.example",
    "\u3000//evil.example",
    "／／evil.example",
    "//evil。example",
    "http://[::1]/",
    "x" * 3000,
]
# Stay on this site (the browser would resolve them to this origin), so they are followed as given.
ON_SITE = ["/account", "/declarations/b40-izmir?tab=signatures", "/%2f%2fevil.example", "/%5cevil.example",
           "/a//b", "/İzmir",
           "/%09/evil.example/"]  # sent as is (not decoded): a path on this site


def browser_location(response: Any) -> str:
    """The absolute URL a browser goes to: it drops tabs and newlines and reads backslashes as slashes."""
    raw = response.headers.get("Location", "")
    cleaned = "".join(ch for ch in raw if ch not in "\t\r\n").strip().replace("\\", "/")
    return urljoin("http://localhost/login", cleaned)


def login_with_next(client: FlaskClient, email: str, target: str) -> Any:
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD, "next": target})


@pytest.mark.parametrize("target", OFF_SITE)
def test_off_site_next_is_ignored(app: Flask, people: People, target: str) -> None:
    client = app.test_client()
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    # The form does not carry it on either.
    assert "evil" not in page.get_data(as_text=True)
    response = login_with_next(client, people.delegate.email, target)
    assert response.status_code == 302
    location = urlsplit(browser_location(response))
    assert (location.scheme, location.netloc, location.path) == ("http", "localhost", "/"), \
        response.headers["Location"]


def test_percent_encoded_forms_in_the_query_string(app: Flask, people: People) -> None:
    """The raw query string of the finding: the tab arrives decoded in the hidden field."""
    client = app.test_client()
    for raw in ("/%09/evil.example/", "/%0d%0a/evil.example", "%2f%2fevil.example", "/%5c/evil.example",
                "%5c%5cevil.example", "/%E2%80%AE//evil.example"):
        page = client.get("/login?next=" + raw)
        assert page.status_code == 200, raw
        assert "evil.example" not in page.get_data(as_text=True), raw


@pytest.mark.parametrize("target", ON_SITE)
def test_on_site_next_is_followed(app: Flask, people: People, target: str) -> None:
    client = app.test_client()
    response = login_with_next(client, people.delegate.email, target)
    assert response.status_code == 302
    location = urlsplit(browser_location(response))
    assert location.netloc == "localhost"
    assert location.path != "/" or target == "/"
