"""Shared set-up of the endorsement benchmarks: a frozen declaration on PostgreSQL, endorsers, signed statements.

The declaration is frozen the way production freezes one: three cities' delegates enrol Ed25519 keys
(``services.keys``), sign through ``services.signatures`` and the last signature freezes it (``TASK_MODE=inline``:
the freeze runs in this process, after the commit). Endorsers are inserted in bulk (rows only: a person has an
address, an organisation is verified); their statements are real ``accord.endorsement/1`` bytes, signed with
a fresh Ed25519 key each, on a pool of processes (set-up, not measured).
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PASSWORD = "bench password, not secret"  # noqa: S105 - throwaway accounts in a throwaway database
SLUG = "bench-frozen"
TEXT = "We, the cities of the network, agree.\n\nThis text is frozen by the benchmark and then endorsed.\n"
COUNTRIES = ("RO", "BG", "TR", "GE", "UA", "MD", "GR", "AM")


@dataclass(frozen=True)
class Facts:
    """What every statement of the declaration names, and the endorsers' public ids and kinds."""

    common: dict[str, str]  # issuer, declaration_slug, declaration_title, bundle_manifest_sha256
    endorsers: list[tuple[str, str, str]]  # (public id, kind, country)


def app_config(url: str, instance: Path, secret: str) -> dict[str, Any]:
    return {"DATABASE_URL": url, "SECRET_KEY": secret, "TASK_MODE": "inline", "MAIL_FILE_DIR": str(instance / "mail"),
            "PLATFORM_KEY_PATH": str(instance / "platform_key.pem"),
            "SEAL_KEY_PATH": str(instance / "seal_key.pem"), "SEAL_CERT_PATH": str(instance / "seal.crt"),
            "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8192, "ARGON2_PARALLELISM": 1}


def freeze_declaration() -> Any:
    """Three cities sign the declaration, which freezes it; returns the frozen declaration."""
    from flask import current_app

    from signing.core.payload import b64encode
    from signing.extensions import db
    from signing.models import Declaration, Role
    from signing.services import accounts, cities, declarations, keys, platform_key, seal, signatures

    # Production refuses to invent keys: made once, as `flask platform-key generate` and `flask seal generate` do.
    config = current_app.config
    platform_key.generate(Path(config["PLATFORM_KEY_PATH"]))
    seal.generate(Path(config["SEAL_KEY_PATH"]), Path(config["SEAL_CERT_PATH"]), "Accord bench seal")
    secretariat = accounts.create_user("secretariat@bench.example", "Bench secretariat", Role.SECRETARIAT,
                                       password=PASSWORD)
    declaration = declarations.create("Bench declaration", TEXT, secretariat, slug=SLUG)
    signers = []
    for index in range(3):
        city = cities.create_city(f"Bench City {index}", "Benchland", None, slug=f"bench-{index}")
        user = accounts.create_user(f"delegate{index}@bench.example", f"Delegate {index}", Role.DELEGATE, city=city,
                                    password=PASSWORD)
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        row = keys.enrol(user, b64encode(public), "bench", PASSWORD, origin="cli")
        signers.append((user, key, row.fingerprint))
    declarations.open_consultation(declaration, secretariat)
    declarations.open_signing(declaration, 1, secretariat)
    for user, key, fingerprint in signers:
        issued = signatures.issue_signature_payload(declaration, user, fingerprint)
        data = bytes(issued.payload)
        signatures.submit_signature(declaration, user, data, key.sign(data))
    db.session.expire_all()
    frozen = db.session.get(Declaration, declaration.id)
    if frozen is None or frozen.status != "frozen":
        from sqlalchemy import select

        from signing.models import OutboxTask

        errors = db.session.scalars(select(OutboxTask.last_error).where(OutboxTask.kind == "freeze")).all()
        raise RuntimeError(f"the bench declaration did not freeze ({frozen.status if frozen else None}): {errors}")
    return frozen


def now_stamp() -> str:
    from signing.core import payload
    from signing.models import utcnow

    return payload.timestamp(utcnow())


def insert_endorsers(count: int, prefix: str = "",
                     kinds: tuple[str, ...] = ("person", "person", "organisation")) -> list[tuple[str, str, str]]:
    """``count`` endorsers, inserted in bulk, of ``kinds`` in turn: a person has an address, an organisation is
    verified."""
    from sqlalchemy import insert

    from signing.extensions import db
    from signing.models import Endorser, utcnow
    from signing.services import endorsers

    rows, made = [], []
    now = utcnow()
    for index in range(count):
        public_id, country = endorsers.new_public_id(), COUNTRIES[index % len(COUNTRIES)]
        kind = kinds[index % len(kinds)]
        rows.append({"public_id": public_id, "kind": kind, "country": country, "created_at": now,
                     "email": f"{prefix}endorser{index}@bench.example" if kind == "person" else None,
                     "display_name": f"Organisation {index}" if kind == "organisation" else None,
                     "show_name": kind == "organisation", "verified_at": now if kind == "organisation" else None})
        made.append((public_id, kind, country))
        if len(rows) == 5000:
            db.session.execute(insert(Endorser), rows)
            rows = []
    if rows:
        db.session.execute(insert(Endorser), rows)
    db.session.commit()
    return made


def facts_of(declaration: Any, endorsers: list[tuple[str, str, str]]) -> Facts:
    from flask import current_app

    from signing.services import endorsements

    return Facts({"issuer": str(current_app.config["PUBLIC_URL"]), "declaration_slug": declaration.slug,
                  "declaration_title": declaration.title,
                  "bundle_manifest_sha256": endorsements.manifest_sha256(declaration)}, endorsers)


def _sign_share(job: tuple[dict[str, str], list[tuple[str, str, str]], str]) -> list[tuple[bytes, bytes, bytes]]:
    from signing.core import payload

    common, endorsers, endorsed_at = job
    signed = []
    for public_id, kind, country in endorsers:
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        data = payload.build({"format": "accord.endorsement/1", **common, "endorser_id": public_id,
                              "endorser_kind": kind, "country": country, "key_fingerprint": payload.fingerprint(public),
                              "endorsed_at": endorsed_at})
        signed.append((data, key.sign(data), public))
    return signed


def sign_statements(facts: Facts, endorsed_at: str, processes: int = 2) -> list[tuple[bytes, bytes, bytes]]:
    """One signed statement per endorser, ``(payload, signature, raw public key)``, made on ``processes``."""
    started = time.monotonic()
    share = 2000
    jobs = [(facts.common, facts.endorsers[i : i + share], endorsed_at) for i in range(0, len(facts.endorsers), share)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        signed = [item for part in pool.imap(_sign_share, jobs) for item in part]
    print(f"  signed {len(signed):,} statements in {time.monotonic() - started:.0f} s", flush=True)
    return signed
