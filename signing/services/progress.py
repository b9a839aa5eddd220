"""Where signing stands on a declaration, for every role: the rule, the deadline, who signed and who has not.

The declaration page, the delegate's inbox, the public page and the freeze offer all read this one summary
(``build``), so that "7 of 12 cities signed" and "freezing becomes possible when …" never disagree with the
rule that ``services.freeze`` applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from ..extensions import db
from ..models import City, Declaration, Revision, Signature, SignatureStatus, Status, utcnow


@dataclass(frozen=True)
class Progress:
    declaration: Declaration
    revision: Revision | None  # the revision being (or that was) signed
    quorum: int | None  # None: the rule "all"
    asked: list[City]
    signed: list[tuple[City, datetime]]
    deadline: datetime | None
    declined: dict[int, str] = field(default_factory=dict)  # city id -> reason ("" when none was given)

    @property
    def open(self) -> bool:
        return self.declaration.state is Status.OPEN_FOR_SIGNATURE

    @property
    def started(self) -> bool:
        """Signing has been opened (now open, or frozen)."""
        return self.revision is not None and self.declaration.state in (Status.OPEN_FOR_SIGNATURE, Status.FROZEN)

    @property
    def signed_count(self) -> int:
        return len(self.signed)

    @property
    def asked_count(self) -> int:
        return len(self.asked)

    @property
    def required(self) -> int:
        return self.quorum if self.quorum is not None else self.asked_count

    @property
    def not_signed(self) -> list[City]:
        done = {city.id for city, _when in self.signed}
        return [city for city in self.asked if city.id not in done]

    @property
    def rule_met(self) -> bool:
        return self.asked_count > 0 and self.signed_count >= self.required

    @property
    def deadline_passed(self) -> bool:
        return self.deadline is not None and self.deadline <= utcnow()

    @property
    def can_freeze(self) -> bool:
        """What ``services.freeze.request`` accepts: open, a signature, and the rule met or the deadline past."""
        return self.open and self.signed_count > 0 and (self.rule_met or self.deadline_passed)

    def rule_text(self) -> str:
        text: str
        if self.quorum is None:
            text = ngettext("Rule: the %(num)d city asked must sign.",
                            "Rule: all %(num)d cities asked must sign.", self.asked_count)
        else:
            text = _("Rule: a quorum of %(quorum)d of the %(asked)d cities asked.", quorum=self.quorum,
                     asked=self.asked_count)
        return text

    def count_text(self) -> str:
        text: str = ngettext("%(signed)d of %(num)d city signed", "%(signed)d of %(num)d cities signed",
                             self.asked_count, signed=self.signed_count)
        return text

    def freeze_hint(self) -> str:
        """Why the freeze is not offered yet, and when it will be."""
        text: str
        missing = self.required - self.signed_count
        if self.signed_count == 0:
            text = _("Freezing becomes possible once at least one city has signed and the rule is met "
                     "or the deadline has passed.")
        elif self.deadline is not None:
            text = ngettext(
                "Freezing becomes possible when %(num)d more city signs, or after the deadline.",
                "Freezing becomes possible when %(num)d more cities sign, or after the deadline.", missing)
        else:
            text = ngettext("Freezing becomes possible when %(num)d more city signs.",
                            "Freezing becomes possible when %(num)d more cities sign.", missing)
        return text


def _quorum(declaration: Declaration) -> int | None:
    rule = declaration.signing_rule or {"kind": "all"}
    return int(rule["required"]) if rule.get("kind") == "quorum" else None


def build(declaration: Declaration) -> Progress:
    revision = declaration.open_revision
    signed: list[tuple[City, datetime]] = []
    if revision is not None:
        rows = db.session.scalars(
            select(Signature)
            .where(Signature.revision_id == revision.id, Signature.status == SignatureStatus.VALID.value)
            .order_by(Signature.signed_at)
        )
        signed = [(row.city, row.signed_at) for row in rows]
    asked = sorted((s.city for s in declaration.signatories), key=lambda c: c.name)
    return Progress(declaration=declaration, revision=revision, quorum=_quorum(declaration), asked=asked,
                    signed=signed, deadline=declaration.signing_deadline)
