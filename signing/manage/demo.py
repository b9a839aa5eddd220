"""The demo network: B40 member cities, a secretariat account and one delegate per city."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy import func, select

from ..core import payload
from ..extensions import db
from ..models import Declaration, Role, Status, User, utcnow
from ..services import accounts, cities, declarations, keys, mandates, review, signatures

DEMO_CITIES: list[tuple[str, str]] = [
    ("İzmir", "Türkiye"),
    ("İstanbul", "Türkiye"),
    ("Athens", "Greece"),
    ("Thessaloniki", "Greece"),
    ("Sofia", "Bulgaria"),
    ("Plovdiv", "Bulgaria"),
    ("Belgrade", "Serbia"),
    ("Sarajevo", "Bosnia and Herzegovina"),
    ("Tirana", "Albania"),
    ("Skopje", "North Macedonia"),
    ("Bucharest", "Romania"),
    ("Chișinău", "Moldova"),
]
DEMO_DOMAIN = "b40.example"
LOGINS_FILE = "demo-logins.txt"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str
    city: str


def declaration_text() -> str:
    """The B40 İzmir 2025 declaration, the demo's first draft."""
    return resources.files("signing.demo_data").joinpath("b40-izmir-declaration-2025.md").read_text("utf-8")


# The Turkish version is a demonstration translation written for this demo, not an official text of the network.
DEMO_TRANSLATION = "demonstration translation"


def turkish_text() -> str:
    """The demo's Turkish version of the declaration (a demonstration translation; English is authoritative)."""
    return resources.files("signing.demo_data").joinpath("b40-izmir-declaration-2025.tr.md").read_text("utf-8")


def is_empty() -> bool:
    return (db.session.scalar(select(func.count()).select_from(User)) or 0) == 0


def load_demo() -> list[DemoLogin]:
    """Create the demo network with fresh random passwords; returns the logins (shown once)."""
    logins: list[DemoLogin] = []
    password = secrets.token_urlsafe(12)
    accounts.create_user(f"secretariat@{DEMO_DOMAIN}", "B40 Secretariat", Role.SECRETARIAT, password=password)
    logins.append(DemoLogin(f"secretariat@{DEMO_DOMAIN}", password, Role.SECRETARIAT.value, ""))
    for name, country in DEMO_CITIES:
        city = cities.create_city(name, country, None)
        password = secrets.token_urlsafe(12)
        email = f"{city.slug}@{DEMO_DOMAIN}"
        accounts.create_user(email, f"{name} delegate", Role.DELEGATE, city=city, password=password)
        logins.append(DemoLogin(email, password, Role.DELEGATE.value, name))
    load_demo_declaration()
    _save_logins(logins)
    return logins


DEMO_SLUG = "b40-izmir-2025"


def _user(email: str) -> User:
    user = accounts.find_by_email(email)
    assert user is not None  # noqa: S101 - created just before
    return user


def load_demo_declaration() -> None:
    """The B40 İzmir declaration in consultation: two revisions, a comment and an amendment.

    Revision 2 holds two language versions: English (authoritative, the real text) and Turkish, labelled
    a demonstration translation.
    """
    secretariat = _user(f"secretariat@{DEMO_DOMAIN}")
    text = declaration_text()
    declaration = declarations.create(
        "B40 Local Economic and Cultural Cooperation Summit Declaration", text, secretariat, slug=DEMO_SLUG
    )
    declarations.open_consultation(declaration, secretariat)
    revised = text.replace(
        "build a more just, sustainable and democratic world for all.",
        "build a more just, sustainable, inclusive and democratic world for all.",
    )
    closing = ("daha adil, sürdürülebilir ve demokratik bir dünya",
               "daha adil, sürdürülebilir, kapsayıcı ve demokratik bir dünya")
    declarations.save_versions(
        declaration, {"en": revised, "tr": turkish_text().replace(*closing)}, "en",
        "Closing sentence: add “inclusive”; Turkish version added (a demonstration translation)", secretariat,
        labels={"tr": DEMO_TRANSLATION},
    )
    revision = declaration.latest
    review.add_comment(
        revision, 2,
        "Could we name **cultural industries** more concretely — e.g. festivals, heritage and design?",
        _user(f"athens@{DEMO_DOMAIN}"),
    )
    paragraphs = review.paragraphs(revision)
    review.propose_amendment(
        revision, 4,
        paragraphs[4].replace("cross-border solidarity.", "cross-border solidarity between cities and regions."),
        "Regions are partners of cities in most of our countries.",
        _user(f"thessaloniki@{DEMO_DOMAIN}"),
    )


DEMO_KEY_LABEL = "demo key (discarded after signing)"


def complete_demo(logins: list[DemoLogin]) -> tuple[Declaration, int]:
    """Open signing on the demo declaration's latest revision and sign it for every city.

    Signing requires mayors' mandates. Each delegate enrols a fresh Ed25519 key the way the offline CLI
    does (the key pair is made here, only the public key reaches the server); the city's mayor (created
    here, added to ``logins`` and the saved logins) enrols a key the same way and signs a network mandate
    for the delegate's key; the delegate asks for a payload (which names the mandate), signs it and
    submits it. The private keys exist only inside this function and are never stored.
    The last signature meets the rule (all cities), which freezes the declaration: in the
    embedded default at once, in production through the workers. Once frozen, organisations and people
    endorse it (``demo_endorsements``); the witnesses then cosign the log with every entry in it.
    Returns the declaration and how many endorsements were added (0 while the freeze is queued).
    """
    from .demo_endorsements import endorse_demo
    from .demo_witness import witnesses

    secretariat = _user(f"secretariat@{DEMO_DOMAIN}")
    declaration = declarations.get(DEMO_SLUG)
    delegates = [(_user(login.email), login.password) for login in logins if login.role == Role.DELEGATE.value]
    with witnesses(delegates) as run_witnesses_again:  # three cities witness the log (signing.offline.witness)
        declarations.open_signing(declaration, declaration.latest.number, secretariat, rule_kind="all",
                                  require_mandates=True)
        for delegate, password in delegates:
            private_key = Ed25519PrivateKey.generate()
            key = keys.enrol(delegate, payload.b64encode(_raw(private_key)), DEMO_KEY_LABEL, password, origin="cli")
            logins.append(_mandate_by_mayor(delegate))  # the city's mayor mandates the delegate's key
            issued = signatures.issue_signature_payload(declaration, delegate, key.fingerprint)
            data = bytes(issued.payload)
            signatures.submit_signature(declaration, delegate, data, private_key.sign(data))
        run_witnesses_again()  # each cosigns the checkpoint of the freeze, after a consistency proof
        db.session.refresh(declaration)
        endorsed = endorse_demo(declaration) if declaration.state is Status.FROZEN else 0
        if endorsed:
            run_witnesses_again()  # and the checkpoint that logs the endorsements
    db.session.refresh(declaration)
    _save_logins(logins)
    return declaration, endorsed


def _raw(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


MANDATE_DAYS = 365


def _mandate_by_mayor(delegate: User) -> DemoLogin:
    """The delegate's city gets a mayor, whose key (made here, discarded) signs a network mandate for the delegate."""
    city = delegate.city
    assert city is not None  # noqa: S101 - demo delegates belong to a city
    password = secrets.token_urlsafe(12)
    email = f"mayor.{city.slug}@{DEMO_DOMAIN}"
    mayor = accounts.create_user(email, f"Mayor of {city.name}", Role.MAYOR, city=city, password=password)
    private_key = Ed25519PrivateKey.generate()
    key = keys.enrol(mayor, payload.b64encode(_raw(private_key)), DEMO_KEY_LABEL, password, origin="cli")
    issued = mandates.issue_mandate(mayor, key.fingerprint, delegate.id, None, payload.NETWORK_SCOPE,
                                    utcnow() + timedelta(days=MANDATE_DAYS))
    data = bytes(issued.payload)
    mandates.submit_mandate(mayor, data, private_key.sign(data))
    return DemoLogin(email, password, Role.MAYOR.value, city.name)


def _save_logins(logins: list[DemoLogin]) -> None:
    path = Path(current_app.instance_path) / LOGINS_FILE
    lines = ["Accord demo logins (this file is local to instance/ and never committed)", ""]
    lines += [f"{login.role:<12} {login.email:<32} {login.password}  {login.city}".rstrip() for login in logins]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def saved_logins() -> str | None:
    path = Path(current_app.instance_path) / LOGINS_FILE
    return path.read_text("utf-8") if path.exists() else None
