"""The interface's languages: every message has its Turkish translation, pages and e-mails follow the reader.

The catalog checks extract the messages afresh from the sources (``babel.cfg``, as ``make translations-extract``
does), so a new ``_()`` without its Turkish translation fails here, listing what is missing.
"""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import People, csrf_token, login, message_text, read_mail

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "signing" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "lazy_ngettext": (1, 2), "N_": None, "pgettext": ((1, "c"), 2), "t": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# The catalogs that must translate every message (a new language joins once it is complete).
COMPLETE = ("tr",)


def _extracted() -> Catalog:
    """The messages of the sources as they are now (the same extraction as ``make translations-extract``)."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _catalog(code: str) -> Catalog:
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=code)


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    return _extracted()


def _forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@pytest.mark.parametrize("code", COMPLETE)
def test_every_message_has_its_translation(extracted: Catalog, code: str) -> None:
    turkish = _catalog(code)
    missing = []
    for message in extracted:
        if not message.id:
            continue
        found = turkish.get(message.id, context=message.context)
        strings = _forms(found.string) if found is not None else []
        if found is None or found.fuzzy or not strings or not all(s.strip() for s in strings):
            where = ", ".join(f"{path}:{line}" for path, line in message.locations[:2])
            missing.append(f"{message.id!r} ({where})")
    assert not missing, (
        f"{len(missing)} message(s) without a translation in {code} (run `make translations-update`, then translate "
        f"signing/translations/{code}/LC_MESSAGES/messages.po):\n" + "\n".join(missing)
    )


@pytest.mark.parametrize("code", COMPLETE)
def test_a_catalog_holds_no_obsolete_messages(extracted: Catalog, code: str) -> None:
    turkish = _catalog(code)
    current = {m.id if isinstance(m.id, str) else m.id[0] for m in extracted if m.id}
    obsolete = [m.id for m in turkish if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in current]
    assert not obsolete, f"messages no source uses any more (run `make translations-update`): {obsolete}"


@pytest.mark.parametrize("code", sorted(p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")))
def test_placeholders_of_each_translation_are_the_originals(code: str) -> None:
    problems = []
    for message in _catalog(code):
        if not message.id:
            continue
        originals = _forms(message.id)
        wanted = set(PLACEHOLDER.findall(originals[0])) | {n for o in originals[1:] for n in PLACEHOLDER.findall(o)}
        for translated in _forms(message.string):
            if translated and set(PLACEHOLDER.findall(translated)) != wanted:
                problems.append(f"{originals[0]!r} -> {translated!r}")
            # a lone % would break the formatting of the message at run time
            if translated and re.search(r"%(?!\(\w+\)[sd]|%)", translated) and "%(" in originals[0]:
                problems.append(f"stray % in {translated!r}")
    assert not problems, "\n".join(problems)


def test_html_tags_of_each_translation_are_the_originals() -> None:
    tag = re.compile(r"</?[a-z]+\b[^>]*>")
    problems = []
    for message in _catalog("tr"):
        if not message.id:
            continue
        for original, translated in zip(_forms(message.id), _forms(message.string), strict=False):
            if sorted(tag.findall(original)) != sorted(tag.findall(translated)):
                problems.append(f"{original!r} -> {translated!r}")
    assert not problems, "\n".join(problems)


def test_the_catalogs_compile(tmp_path: Path) -> None:
    """``make translations`` runs ``pybabel compile``: every catalog compiles, and the result is read back."""
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy, ignore=shutil.ignore_patterns("*.mo"))
    pybabel = Path(sys.executable).with_name("pybabel")
    done = subprocess.run([str(pybabel), "compile", "--statistics", "-d", str(copy)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with open(copy / "tr" / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        translations = gettext.GNUTranslations(mo)
    assert translations.gettext("Log in") == "Giriş yap"
    assert translations.ngettext("On. %(count)s unused recovery code left.",
                                 "On. %(count)s unused recovery codes left.", 3) % {"count": 3} \
        == "Açık. Kullanılmamış 3 kurtarma kodu kaldı."
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\btranslations\b", makefile, re.M), "make test must compile the catalogs"
    assert re.search(r"^upgrade: .*\btranslations\b", makefile, re.M), "make run (via upgrade) must compile them"


def test_a_language_is_one_catalog() -> None:
    """``LANGUAGES`` is English and the catalogs present: adding Greek is ``signing/translations/el/...``."""
    from signing.i18n import LANGUAGES

    catalogs = {p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")}
    assert set(LANGUAGES) == {"en"} | catalogs
    assert LANGUAGES["tr"] == "Türkçe"


def test_a_new_catalog_adds_its_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signing.i18n as i18n

    fake = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, fake, ignore=shutil.ignore_patterns("*.mo"))
    (fake / "el" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(fake / "tr" / "LC_MESSAGES" / "messages.po", fake / "el" / "LC_MESSAGES" / "messages.po")
    monkeypatch.setattr(i18n, "TRANSLATIONS", fake)
    assert i18n._catalog_locales() == ["el", "tr"]
    assert i18n._own_name("el") == "Ελληνικά"


# --- pages and e-mails ----------------------------------------------------------------------------------------


def _page(response: Any) -> str:
    text: str = response.get_data(as_text=True)
    return text


def test_anonymous_pages_follow_accept_language(client: FlaskClient) -> None:
    english = _page(client.get("/login"))
    assert '<html lang="en">' in english and "Forgot your password?" in english
    turkish = _page(client.get("/login", headers={"Accept-Language": "tr-TR,tr;q=0.9,en;q=0.5"}))
    assert '<html lang="tr">' in turkish
    assert "Parolanızı mı unuttunuz?" in turkish and "Giriş yap" in turkish
    assert "<title>Giriş yap · Accord</title>" in turkish and turkish.count('class="language-switch"') == 1
    assert "Forgot your password?" not in turkish
    # A language Accord does not have falls back to English.
    assert "Forgot your password?" in _page(client.get("/login", headers={"Accept-Language": "fr"}))


def test_the_login_page_switch_sets_the_language(client: FlaskClient) -> None:
    token = csrf_token(client, "/login?next=/declarations")
    response = client.post("/language", data={"csrf_token": token, "locale": "tr",
                                              "next": "/login?next=/declarations"})
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/declarations"
    assert "accord_lang=tr" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    page = _page(client.get("/login?next=/declarations", headers={"Accept-Language": "en"}))
    assert '<html lang="tr">' in page and "Arayüz artık şu dilde: Türkçe." in page  # the choice beats the browser
    assert 'value="/declarations"' in page  # where the login goes next is kept
    # Back to the browser's language: the cookie is removed.
    response = client.post("/language", data={"csrf_token": token, "locale": "", "next": "/login"})
    assert "accord_lang=;" in response.headers["Set-Cookie"]
    assert "Forgot your password?" in _page(client.get("/login"))


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_the_switch_never_sends_the_browser_elsewhere(client: FlaskClient, target: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/language", data={"csrf_token": token, "locale": "tr", "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_switch_refuses_what_it_does_not_offer(client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    for bad in ("xx", "tr\n", "../../etc", "t" * 40):
        response = client.post("/language", data={"csrf_token": token, "locale": bad, "next": "/login"})
        assert response.status_code == 302 and "Set-Cookie" not in response.headers or \
            "accord_lang" not in response.headers.get("Set-Cookie", "")
        assert "Choose one of the languages offered." in _page(client.get("/login"))
    # Without the CSRF token nothing is set.
    response = client.post("/language", data={"locale": "tr", "next": "/login"})
    assert response.status_code == 400 and "accord_lang" not in response.headers.get("Set-Cookie", "")
    # A cookie naming an unknown language is ignored.
    client.set_cookie("accord_lang", "xx")
    assert '<html lang="en">' in _page(client.get("/login"))


def test_the_account_choice_is_kept_and_beats_the_browser(app: Flask, client: FlaskClient, people: People) -> None:
    from signing.extensions import db
    from signing.models import User

    login(client, people.delegate.email)
    assert '<html lang="en">' in _page(client.get("/account"))
    token = csrf_token(client, "/account")
    response = client.post("/language", data={"csrf_token": token, "locale": "tr", "next": "/account"})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    db.session.expire_all()
    assert db.session.get(User, people.delegate.id).locale == "tr"
    home = _page(client.get("/", headers={"Accept-Language": "en-GB,en"}))
    assert '<html lang="tr">' in home and "Hoş geldiniz, İzmir delegate" in home
    account = _page(client.get("/account", headers={"Accept-Language": "en"}))
    assert '<option selected value="tr">Türkçe</option>' in account
    assert "Parolayı değiştir" in account and "temsilci" in account  # the role in the reader's words
    # A new session on another browser (no cookie) still finds the account's choice.
    other = app.test_client()
    login(other, people.delegate.email)
    assert "Hoş geldiniz" in _page(other.get("/", headers={"Accept-Language": "en"}))
    # "As my browser asks" clears it.
    client.post("/language", data={"csrf_token": token, "locale": "", "next": "/account"})
    db.session.expire_all()
    assert db.session.get(User, people.delegate.id).locale is None
    assert "Welcome, İzmir delegate" in _page(client.get("/", headers={"Accept-Language": "en"}))


def test_form_errors_and_refusals_in_turkish(client: FlaskClient, people: People) -> None:
    headers = {"Accept-Language": "tr"}
    token = csrf_token(client, "/login")
    page = _page(client.post("/login", data={"csrf_token": token, "email": "", "password": ""}, headers=headers))
    assert "This field is required." not in page  # WTForms' own message, translated
    page = _page(client.post("/login", data={"csrf_token": token, "email": "nobody@b40.example",
                                             "password": "wrong password"}, headers=headers))
    assert "E-posta adresi ya da parola yanlış." in page
    page = _page(client.get("/no-such-page", headers=headers))
    assert "Bu adreste hiçbir şey yok." in page and "Bulunamadı" in page
    # JSON refusals: the message in the reader's language, the code an English identifier.
    response = client.post("/declarations/none/sign/payload", json={}, headers=headers)
    assert response.status_code in {400, 401}
    error = response.get_json()["error"]
    assert error["code"] in {"login_required", "csrf_failed"} and re.search(r"[ğüşıöçİ]", error["message"])


def test_times_and_numbers_follow_the_locale(app: Flask) -> None:
    from flask_babel import force_locale, format_decimal

    from signing.i18n import when

    moment = datetime(2026, 11, 30, 13, 25, 7, tzinfo=UTC)
    with app.test_request_context("/"):
        with force_locale("en"):
            assert when(moment) == "Nov 30, 2026 13:25 UTC" and format_decimal(12345) == "12,345"
        with force_locale("tr"):
            assert when(moment) == "30 Kas 2026 13:25 UTC" and format_decimal(12345) == "12.345"


@pytest.fixture
def mail_dir(app: Flask) -> Iterator[Path]:
    yield Path(app.config["MAIL_FILE_DIR"])


def test_an_email_is_in_its_recipients_language(app: Flask, people: People, mail_dir: Path) -> None:
    from signing.services import accounts, languages

    languages.set_locale(people.delegate, "tr")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):  # the sender's language does not matter
        accounts.send_password_reset(people.delegate.email, "tr-request")
        accounts.send_password_reset(people.observer.email, "en-request")
    by_recipient = {str(m["To"]): m for m in read_mail(mail_dir)}
    turkish = by_recipient[people.delegate.email]
    assert turkish["Subject"] == "Accord parolanızı sıfırlayın"
    text = message_text(turkish)
    assert text.startswith("Merhaba İzmir delegate,") and "saat boyunca geçerlidir" in text
    html = turkish.get_body(preferencelist=("html",))
    assert html is not None and '<html lang="tr">' in str(html.get_content())
    english = by_recipient[people.observer.email]
    assert english["Subject"] == "Reset your Accord password"
    assert message_text(english).startswith("Hello Observer,")


def test_the_scripts_messages_reach_the_page(client: FlaskClient, people: People) -> None:
    """The scripts' messages (``t("…")`` in static/js) are what the extraction finds there, and a page in
    Turkish carries their translations for the scripts (none in English: the scripts hold it)."""
    import json
    from html import unescape

    from babel.messages.extract import extract_from_file

    from signing.i18n import script_messages

    folder = ROOT / "static" / "js"
    extracted = set()
    for script in folder.glob("*.js"):
        for _line, message, _notes, _context in extract_from_file("javascript", str(script), keywords={"t": None}):
            extracted.add(message)
    assert set(script_messages(folder)) == extracted and len(extracted) > 20
    login(client, people.delegate.email)
    assert 'name="accord-messages"' not in _page(client.get("/account/keys"))
    page = _page(client.get("/account/keys", headers={"Accept-Language": "tr"}))
    meta = re.search(r'<meta name="accord-messages" content="([^"]*)">', page)
    assert meta, "no script messages on a Turkish page"
    catalog = json.loads(unescape(meta.group(1)))
    assert catalog["Making a key in this browser…"] == "Bu tarayıcıda bir anahtar oluşturuluyor…"
    assert catalog["%(reason)s The key was not kept."] == "%(reason)s Anahtar saklanmadı."
