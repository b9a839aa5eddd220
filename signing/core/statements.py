"""The statement formats a delegate can sign, as one table.

Each entry names a format (the payload's ``format`` value), its fields with their JSON types,
the verb of the human sentence carried in ``statement`` and who signs it. ``payload`` builds and
parses bytes from this table, ``fastparse`` derives its patterns from it, the verifier and the
offline signer look formats up in it, and the signing page receives an entry as JSON data
(:func:`StatementFormat.as_json`) that ``static/js/sign.js`` checks the issued payload against.

A new kind of statement is one more entry in ``FORMATS`` (plus its tests and its row in
``docs/signature-format.md``). A format names its own sentence template when it is not about a revision
(the default, :data:`SENTENCE`); its fields may also be booleans and arrays (of scalars, or of objects
whose members are listed as ``item_fields``), which the JCS bytes serialise like any JSON. The bytes
of a statement depend only on its fields, never on the order in which the table lists them (they are
serialised with sorted keys). Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from string import Formatter
from types import MappingProxyType
from typing import Any, Literal

JsonType = Literal["string", "integer", "boolean", "array"]
PYTHON_TYPES: Mapping[JsonType, type] = MappingProxyType(
    {"string": str, "integer": int, "boolean": bool, "array": list})
SCALAR_TYPES: frozenset[JsonType] = frozenset(("string", "integer", "boolean"))

# The sentence every statement carries, with the verb of its format. The quotation marks are U+201C and U+201D.
SENTENCE = "{signer_name}, for {city_name}, {verb} revision {revision} of \u201c{declaration_title}\u201d " \
           "(text SHA-256 {text_sha256})."
SENTENCE_FIELDS = ("signer_name", "city_name", "revision", "declaration_title", "text_sha256")
# The sentence of a statement that names every language version of the revision (``versions``).
SENTENCE_VERSIONS = "{signer_name}, for {city_name}, {verb} revision {revision} of \u201c{declaration_title}\u201d " \
                    "in every language version it lists (authoritative {authoritative_language}, " \
                    "text SHA-256 {text_sha256})."
DELEGATE = "a delegate of the city named by city_slug, with a key enrolled on the issuer"


@dataclass(frozen=True)
class Field:
    """One member of a payload: its name, its JSON type and how the signing page labels it."""

    name: str
    type_name: JsonType
    label: str
    # For an array: the type of its items, and when they are objects, their members (exactly these).
    item_type: JsonType = "string"
    item_fields: tuple[Field, ...] = ()

    @property
    def python_type(self) -> type:
        """``str``, ``int``, ``bool`` or ``list``; a value must be exactly of this type (``true`` is no integer)."""
        return PYTHON_TYPES[self.type_name]

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "type": self.type_name, "label": self.label}
        if self.type_name == "array":
            entry["items"] = ({"type": "object", "fields": [f.as_json() for f in self.item_fields]}
                              if self.item_fields else {"type": self.item_type})
        return entry


@dataclass(frozen=True)
class StatementFormat:
    """One kind of signed statement."""

    name: str  # the value of the payload's ``format`` field, e.g. ``accord.signature/1``
    noun: str  # what one such statement is called in messages: "signature", "withdrawal"
    verb: str  # the verb of the sentence in ``statement``: "signs", "withdraws the signature of"
    signed_by: str  # who signs it
    fields: tuple[Field, ...]
    # The sentence in ``statement``: ``{field}`` placeholders (scalar fields) and ``{verb}``.
    template: str = SENTENCE

    def __post_init__(self) -> None:
        names = [field.name for field in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a field is listed twice")
        for needed in ("format", "statement", *self.sentence_fields):
            if needed not in names:
                raise ValueError(f"{self.name}: the field {needed!r} is missing")
        if self.field("format").type_name != "string" or self.field("statement").type_name != "string":
            raise ValueError(f"{self.name}: format and statement are strings")
        if any(self.field(name).type_name not in SCALAR_TYPES for name in self.sentence_fields):
            raise ValueError(f"{self.name}: the sentence names only strings, integers and booleans")
        if "{" in self.verb or "}" in self.verb:
            raise ValueError(f"{self.name}: the verb must not contain braces")

    @property
    def sentence_fields(self) -> tuple[str, ...]:
        """The fields the sentence names, in the order it names them."""
        return tuple(name for _, name, _, _ in Formatter().parse(self.template) if name and name != "verb")

    @property
    def scalar(self) -> bool:
        """True when every field is a string or an integer (the fast verifier's patterns cover these)."""
        return all(field.type_name in ("string", "integer") for field in self.fields)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    @cached_property
    def sentence(self) -> str:
        """The ``statement`` template of this format: ``{field}`` placeholders, verb filled in."""
        return self.template.replace("{verb}", self.verb)

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def statement(self, fields: Mapping[str, Any]) -> str:
        """The human sentence for these fields (``KeyError`` if one it names is missing)."""
        return self.sentence.format_map(fields)

    def as_json(self) -> dict[str, Any]:
        """The entry as the signing page reads it (``data-statement-format`` of ``templates/signing/sign.html``)."""
        return {
            "name": self.name, "noun": self.noun, "verb": self.verb, "signed_by": self.signed_by,
            "sentence": self.sentence,
            "fields": [field.as_json() for field in self.fields],
        }


def _fields(*rows: tuple[str, JsonType, str]) -> tuple[Field, ...]:
    return tuple(Field(name, type_name, label) for name, type_name, label in rows)


# Listed in the order the signing page shows them.
_HEAD = _fields(
    ("format", "string", "Format"),
    ("declaration_title", "string", "Declaration"),
    ("declaration_slug", "string", "Short name"),
    ("revision", "integer", "Revision"),
    ("text_sha256", "string", "SHA-256 of the text"),
    ("city_name", "string", "City"),
    ("city_slug", "string", "City short name"),
    ("signer_name", "string", "Signer"),
    ("signer_id", "integer", "Signer account number"),
    ("key_fingerprint", "string", "Key"),
)
_TAIL = _fields(
    ("issuer", "string", "Issued by"),
    ("issued_at", "string", "Issued (UTC)"),
    ("expires_at", "string", "Valid until (UTC)"),
    ("nonce", "string", "Nonce"),
    ("statement", "string", "Statement"),
)

SIGNATURE = StatementFormat(
    name="accord.signature/1", noun="signature", verb="signs", signed_by=DELEGATE, fields=(*_HEAD, *_TAIL),
)
WITHDRAWAL = StatementFormat(
    name="accord.withdrawal/1", noun="withdrawal", verb="withdraws the signature of", signed_by=DELEGATE,
    fields=(*_HEAD, *_fields(("withdraws_payload_sha256", "string", "Withdraws the signed statement")), *_TAIL),
)

# One language version of the revision: its BCP 47 tag, the SHA-256 of its canonical text, and whether it is
# the authoritative one (exactly one is; ``text_sha256`` and ``authoritative_language`` name it again).
VERSION = _fields(
    ("tag", "string", "Language"),
    ("sha256", "string", "SHA-256 of the text"),
    ("authoritative", "boolean", "Authoritative"),
)
SIGNATURE_V2 = StatementFormat(
    name="accord.signature/2", noun="signature", verb="signs", signed_by=DELEGATE, template=SENTENCE_VERSIONS,
    fields=(
        *_HEAD,
        Field("versions", "array", "Language versions", item_fields=VERSION),
        *_fields(("authoritative_language", "string", "Authoritative language"),
                 ("mandate_sha256", "string", "SHA-256 of the mandate")),
        *_TAIL,
    ),
)

MAYOR = "the mayor of the city named by city_slug, with a key enrolled on the issuer"
# A mandate: the mayor authorises one delegate's keys to sign for the city, within a scope and a validity window.
# ``scope`` is "network" (every declaration of the issuer) or "declaration:<slug>".
MANDATE_SENTENCE = "{mayor_name}, mayor of {city_name}, {verb} {delegate_name} to sign for {city_name} " \
                   "(scope {scope}) from {valid_from} until {valid_until}."
_MAYOR = _fields(
    ("city_name", "string", "City"),
    ("city_slug", "string", "City short name"),
    ("mayor_name", "string", "Mayor"),
    ("mayor_id", "integer", "Mayor account number"),
    ("mayor_key_fingerprint", "string", "Mayor's key"),
)
_MANDATE_TAIL = _fields(
    ("issuer", "string", "Issued by"),
    ("issued_at", "string", "Issued (UTC)"),
    ("nonce", "string", "Nonce"),
    ("statement", "string", "Statement"),
)
MANDATE = StatementFormat(
    name="accord.mandate/1", noun="mandate", verb="mandates", signed_by=MAYOR, template=MANDATE_SENTENCE,
    fields=(
        *_fields(("format", "string", "Format")), *_MAYOR,
        *_fields(("delegate_name", "string", "Delegate"), ("delegate_id", "integer", "Delegate account number")),
        Field("delegate_key_fingerprints", "array", "Delegate's keys", item_type="string"),
        *_fields(("scope", "string", "Scope"), ("valid_from", "string", "Valid from (UTC)"),
                 ("valid_until", "string", "Valid until (UTC)")),
        *_MANDATE_TAIL,
    ),
)
MANDATE_REVOCATION = StatementFormat(
    name="accord.mandate-revocation/1", noun="mandate revocation", verb="revokes", signed_by=MAYOR,
    template="{mayor_name}, mayor of {city_name}, {verb} the mandate with SHA-256 {revokes_mandate_sha256}.",
    fields=(
        *_fields(("format", "string", "Format")), *_MAYOR,
        *_fields(("revokes_mandate_sha256", "string", "Revokes the mandate")),
        *_MANDATE_TAIL,
    ),
)

# Endorsements of a frozen declaration: signed by anyone who takes it up (a person, an organisation, a city),
# over public facts only. The endorser is named by a random public id; no name or e-mail address is signed.
ENDORSER = "an endorser named by endorser_id, with the key named by key_fingerprint"
_ENDORSER_HEAD = _fields(
    ("format", "string", "Format"),
    ("declaration_title", "string", "Declaration"),
    ("declaration_slug", "string", "Short name"),
    ("bundle_manifest_sha256", "string", "SHA-256 of the frozen bundle's manifest"),
    ("endorser_id", "string", "Endorser"),
    ("endorser_kind", "string", "Endorser kind"),
    ("country", "string", "Country"),
    ("key_fingerprint", "string", "Key"),
    ("issuer", "string", "Platform"),
)
ENDORSEMENT_KINDS = ("person", "organisation", "city")
ENDORSEMENT = StatementFormat(
    name="accord.endorsement/1", noun="endorsement", verb="endorses", signed_by=ENDORSER,
    template="Endorser {endorser_id} ({endorser_kind}) {verb} \u201c{declaration_title}\u201d as frozen "
             "(bundle manifest SHA-256 {bundle_manifest_sha256}).",
    fields=(*_ENDORSER_HEAD, *_fields(
        ("endorsed_at", "string", "Endorsed (UTC)"),
        ("statement", "string", "Statement"),
    )),
)
ENDORSEMENT_WITHDRAWAL = StatementFormat(
    name="accord.endorsement-withdrawal/1", noun="endorsement withdrawal", verb="withdraws the endorsement of",
    signed_by=ENDORSER,
    template="Endorser {endorser_id} ({endorser_kind}) {verb} \u201c{declaration_title}\u201d "
             "(bundle manifest SHA-256 {bundle_manifest_sha256}) made in the statement with SHA-256 "
             "{withdraws_payload_sha256}.",
    fields=(*_ENDORSER_HEAD, *_fields(
        ("withdraws_payload_sha256", "string", "Withdraws the signed endorsement"),
        ("withdrawn_at", "string", "Withdrawn (UTC)"),
        ("statement", "string", "Statement"),
    )),
)


def table(*entries: StatementFormat) -> Mapping[str, StatementFormat]:
    """A read-only table of these entries, keyed by name (how ``FORMATS`` is made; tests make others)."""
    return MappingProxyType({entry.name: entry for entry in entries})


# Format name -> entry. Readers look it up at call time (``statements.FORMATS``), never copy it.
FORMATS = table(SIGNATURE, WITHDRAWAL, SIGNATURE_V2, MANDATE, MANDATE_REVOCATION, ENDORSEMENT,
                ENDORSEMENT_WITHDRAWAL)


def lookup(name: object) -> StatementFormat | None:
    """The entry for a payload's ``format`` value; None for an unknown name or a value that is not a string."""
    return FORMATS.get(name) if isinstance(name, str) else None
