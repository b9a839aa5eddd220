"""The declaration workflow: who may do what in which state, the transitions, and immutable revisions.

The expectations are written out below from ``docs/workflow.md``, independently of
``signing.services.workflow.POLICY``: a change to the policy that the document does not
describe fails here.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import BACKENDS, People

pytestmark = pytest.mark.usefixtures("fresh_g")

SEC, DEL, OBS = "secretariat", "delegate", "observer"
ROLES = (SEC, DEL, OBS)
STATES = ("draft", "consultation", "open_for_signature", "frozen")
ALL = {SEC, DEL, OBS}

# docs/workflow.md, "Who may do what, where": action -> state -> roles.
DOC_TABLE: dict[str, dict[str, set[str]]] = {
    "VIEW": {"draft": {SEC}, "consultation": ALL, "open_for_signature": ALL, "frozen": ALL},
    "EDIT_TEXT": {"draft": {SEC}, "consultation": {SEC}},
    "COMMENT": {"consultation": {SEC, DEL}},
    "RESOLVE_COMMENT": {"consultation": {SEC, DEL}},
    "AMEND": {"consultation": {DEL}},
    "DECIDE_AMENDMENT": {"consultation": {SEC}},
    "APPROVE": {"consultation": {DEL}},
    "OPEN_CONSULTATION": {"draft": {SEC}},
    "OPEN_SIGNING": {"consultation": {SEC}},
    "RETURN_TO_CONSULTATION": {"open_for_signature": {SEC}},
    "DASHBOARD": {"draft": {SEC}, "consultation": {SEC}, "open_for_signature": {SEC}, "frozen": {SEC}},
    # The signing feature (being written alongside): delegates sign, and withdraw, while signing is open.
    "SIGN": {"open_for_signature": {DEL}},
    "WITHDRAW": {"open_for_signature": {DEL}},
    # Freezing once the signing rule is met (the freeze worker, or the secretariat by hand).
    "FREEZE": {"open_for_signature": {SEC}},
}


def expected_outcome(action: str, state: str, role: str) -> int:
    """200 (allowed), 403 (the role may never do it) or 409 (allowed role, wrong state)."""
    row = DOC_TABLE[action]
    if role in row.get(state, set()):
        return 200
    ever = set().union(*row.values())
    if role not in ever:
        return 403
    if action == "VIEW":
        return 403  # a draft is the secretariat's alone: hidden, not "wrong state"
    return 409


def outcome_of(call: Any) -> int:
    from signing.services import ServiceError

    try:
        call()
    except ServiceError as exc:
        return exc.status
    return 200


# --- helpers ---------------------------------------------------------------------------------

TEXT = "First paragraph.\n\nSecond paragraph, to be amended.\n\nThird paragraph.\n"


def count(model: Any) -> int:
    from signing.extensions import db

    return db.session.scalar(select(func.count()).select_from(model)) or 0


def snapshot() -> dict[str, int]:
    from signing.extensions import db
    from signing.models import (
        Amendment,
        Approval,
        AuditEvent,
        Comment,
        Declaration,
        OutboxEmail,
        Revision,
        Signatory,
    )

    db.session.expire_all()
    return {m.__name__: count(m) for m in (AuditEvent, Amendment, Approval, Comment, Declaration,
                                           OutboxEmail, Revision, Signatory)}


def make_declaration(people: People, state: str, slug: str = "decl") -> Any:
    """A declaration with two revisions, put in ``state`` through the services (frozen by hand)."""
    from signing.extensions import db
    from signing.models import Status
    from signing.services import declarations

    declaration = declarations.create("Declaration", TEXT, people.secretariat, slug=slug)
    declarations.add_revision(declaration, TEXT.replace("Third", "The third"), "r2", people.secretariat)
    if state == "draft":
        return declaration
    declarations.open_consultation(declaration, people.secretariat)
    if state == "consultation":
        return declaration
    declarations.open_signing(declaration, 2, people.secretariat)
    if state == "open_for_signature":
        return declaration
    declaration.status = Status.FROZEN.value  # only the freeze worker does this
    db.session.commit()
    return declaration


def status_in_db(declaration_id: int) -> str:
    from signing.extensions import db

    return str(db.session.execute(text("SELECT status FROM declarations WHERE id = :i"), {"i": declaration_id})
               .scalar_one())


# --- 1. The policy, action x state x role -----------------------------------------------------


def test_doc_table_names_every_action() -> None:
    from signing.services.workflow import Action

    assert set(DOC_TABLE) == set(Action.__members__), "every action needs a row in the documented table"
    for row in DOC_TABLE.values():
        assert set(row) <= set(STATES)


@BACKENDS
@pytest.mark.parametrize("state", STATES)
def test_require_matches_the_documented_table(app: Flask, people: People, state: str) -> None:
    from flask_login import AnonymousUserMixin

    from signing.models import Status
    from signing.services import Conflict, Forbidden, workflow
    from signing.services.workflow import Action

    declaration = make_declaration(people, state)
    assert declaration.state is Status(state)
    problems = []
    checked = 0
    for action, role in itertools.product(Action, ROLES):
        user = people.by_role(role)
        want = expected_outcome(action.name, state, role)
        try:
            workflow.require(action, declaration, user)
            got = 200
        except Forbidden:
            got = 403
        except Conflict as exc:
            got = 409
            if state != "draft" or action is not Action.VIEW:
                assert Status(state).label.lower() in exc.message, exc.message
        allowed = workflow.allowed(action, declaration, user)
        checked += 1
        if got != want:
            problems.append(f"{action.name} by {role} in {state}: expected {want}, got {got}")
        if allowed != (want == 200):
            problems.append(f"allowed({action.name}, {role}, {state}) is {allowed}, expected {want == 200}")
        # Nobody who is not logged in may do anything.
        anonymous = AnonymousUserMixin()
        with pytest.raises(Forbidden):
            workflow.require(action, declaration, anonymous)
        assert workflow.allowed(action, declaration, anonymous) is False
        assert workflow.allowed(action, declaration, None) is False
    assert checked == len(Action) * 3
    assert not problems, "\n".join(problems)
    # Asking changed nothing.
    assert status_in_db(declaration.id) == state


def test_expected_outcome_helper_is_not_trivial() -> None:
    # Guard against a table that would make the matrix test vacuous.
    outcomes = {expected_outcome(a, s, r) for a in DOC_TABLE for s in STATES for r in ROLES}
    assert outcomes == {200, 403, 409}
    assert expected_outcome("VIEW", "draft", DEL) == 403
    assert expected_outcome("EDIT_TEXT", "frozen", SEC) == 409
    assert expected_outcome("AMEND", "consultation", SEC) == 403
    assert expected_outcome("DASHBOARD", "frozen", OBS) == 403


# --- 2. The transitions through the services --------------------------------------------------

SIGNING_VARIANTS = ("open_signing_all", "open_signing_quorum", "open_signing_deadline", "open_signing_excluded")
TRANSITIONS = ("open_consultation", *SIGNING_VARIANTS, "return_to_consultation")
# transition -> (the one state it starts from -> the state it leads to); only the secretariat may.
TRANSITION_TABLE = {
    "open_consultation": ("draft", "consultation"),
    **dict.fromkeys(SIGNING_VARIANTS, ("consultation", "open_for_signature")),
    "return_to_consultation": ("open_for_signature", "consultation"),
}
AUDIT_ACTION = {
    "open_consultation": "declaration.consultation_opened",
    **dict.fromkeys(SIGNING_VARIANTS, "declaration.signing_opened"),
    "return_to_consultation": "declaration.returned_to_consultation",
}


def run_transition(name: str, declaration: Any, user: Any, people: People) -> None:
    from signing.services import declarations

    if name == "open_consultation":
        declarations.open_consultation(declaration, user)
    elif name == "open_signing_all":
        declarations.open_signing(declaration, 2, user, rule_kind="all")
    elif name == "open_signing_quorum":
        declarations.open_signing(declaration, 2, user, rule_kind="quorum", quorum=1)
    elif name == "open_signing_deadline":
        declarations.open_signing(declaration, 2, user, deadline=datetime.now(UTC) + timedelta(days=3))
    elif name == "open_signing_excluded":
        declarations.open_signing(declaration, 1, user, excluded_city_ids=[people.other_city.id])
    else:
        declarations.return_to_consultation(declaration, user, "Paragraph 3 needs another look.")


def check_signing_opened(name: str, declaration: Any, people: People) -> None:
    both = sorted([people.city.id, people.other_city.id])
    expected = {
        "open_signing_all": ({"kind": "all"}, 2, both, False),
        "open_signing_quorum": ({"kind": "quorum", "required": 1}, 2, both, False),
        "open_signing_deadline": ({"kind": "all"}, 2, both, True),
        "open_signing_excluded": ({"kind": "all"}, 1, [people.city.id], False),
    }[name]
    got = (declaration.signing_rule, declaration.open_revision.number,
           sorted(s.city_id for s in declaration.signatories), declaration.signing_deadline is not None)
    assert got == expected, name


@BACKENDS
@pytest.mark.parametrize("state", STATES)
def test_every_transition_in_every_state(app: Flask, people: People, state: str) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent
    from signing.services import declarations

    for index, (name, role) in enumerate(itertools.product(TRANSITIONS, ROLES)):
        declaration = make_declaration(people, state, slug=f"d{index}")
        before = snapshot()
        got = outcome_of(lambda: run_transition(name, declaration, people.by_role(role), people))  # noqa: B023
        db.session.rollback()
        source, target = TRANSITION_TABLE[name]
        if role != SEC:
            want = 403
        elif state == source:
            want = 200
        else:
            want = 409
        assert got == want, f"{name} by {role} in {state}: expected {want}, got {got}"
        after = snapshot()
        if want == 200:
            assert status_in_db(declaration.id) == target
            assert after["AuditEvent"] == before["AuditEvent"] + 1
            event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
            assert event is not None and event.actor_id == people.secretariat.id
            assert event.action == AUDIT_ACTION[name]
            db.session.refresh(declaration)
            if name in SIGNING_VARIANTS:
                check_signing_opened(name, declaration, people)
            if name == "return_to_consultation":
                assert declaration.open_revision_id is None
                assert event.details["revision"] == 2
        else:
            assert status_in_db(declaration.id) == state
            assert after == before
    # A return needs a reason.
    if state == "open_for_signature":
        declaration = make_declaration(people, state, slug="noreason")
        before = snapshot()
        assert outcome_of(lambda: declarations.return_to_consultation(declaration, people.secretariat, "  ")) == 400
        db.session.rollback()
        assert snapshot() == before
        assert status_in_db(declaration.id) == state


@BACKENDS
def test_open_signing_rules(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import AuditEvent
    from signing.services import declarations

    def latest_event() -> Any:
        return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()

    # All cities, the default, on the older revision 1.
    declaration = make_declaration(people, "consultation", slug="all")
    declarations.open_signing(declaration, 1, people.secretariat)
    db.session.refresh(declaration)
    assert declaration.signing_rule == {"kind": "all"}
    assert declaration.open_revision.number == 1
    assert {s.city_id for s in declaration.signatories} == {people.city.id, people.other_city.id}
    assert declaration.signing_deadline is None
    assert declaration.signing_opened_at is not None
    assert latest_event().details["cities"] == sorted([people.city.slug, people.other_city.slug])

    # A quorum of 2 of the 2 cities, with a deadline.
    deadline = datetime.now(UTC) + timedelta(days=7)
    declaration = make_declaration(people, "consultation", slug="quorum")
    declarations.open_signing(declaration, 2, people.secretariat, rule_kind="quorum", quorum=2, deadline=deadline)
    db.session.refresh(declaration)
    assert declaration.signing_rule == {"kind": "quorum", "required": 2}
    assert abs((declaration.signing_deadline - deadline).total_seconds()) < 1
    assert latest_event().details["rule"] == {"kind": "quorum", "required": 2}

    # Athens left out: İzmir alone signs, and a quorum counts only the remaining cities.
    declaration = make_declaration(people, "consultation", slug="excluded")
    before = snapshot()
    assert outcome_of(lambda: declarations.open_signing(
        declaration, 2, people.secretariat, excluded_city_ids=[people.other_city.id], rule_kind="quorum",
        quorum=2)) == 400
    db.session.rollback()
    assert snapshot() == before
    declarations.open_signing(declaration, 2, people.secretariat, excluded_city_ids=[people.other_city.id],
                              rule_kind="quorum", quorum=1)
    db.session.refresh(declaration)
    assert [s.city_id for s in declaration.signatories] == [people.city.id]
    assert latest_event().details["cities"] == [people.city.slug]

    # Back to consultation and open again with everyone: the signatories are replaced, not added.
    declarations.return_to_consultation(declaration, people.secretariat, "Athens must sign too.")
    declarations.open_signing(declaration, 2, people.secretariat)
    db.session.refresh(declaration)
    assert sorted(s.city_id for s in declaration.signatories) == sorted([people.city.id, people.other_city.id])

    # Refusals: nothing changes.
    declaration = make_declaration(people, "consultation", slug="refused")
    past = datetime.now(UTC) - timedelta(minutes=1)
    for kwargs, status in [
        ({"rule_kind": "quorum", "quorum": 0}, 400),
        ({"rule_kind": "quorum", "quorum": 3}, 400),
        ({"rule_kind": "quorum", "quorum": None}, 400),
        ({"rule_kind": "majority"}, 400),
        ({"deadline": past}, 400),
        ({"excluded_city_ids": [people.city.id, people.other_city.id]}, 400),
    ]:
        before = snapshot()
        got = outcome_of(lambda: declarations.open_signing(declaration, 2, people.secretariat, **kwargs))  # noqa: B023
        db.session.rollback()
        assert got == status, kwargs
        assert snapshot() == before, kwargs
        assert status_in_db(declaration.id) == "consultation"
    before = snapshot()
    assert outcome_of(lambda: declarations.open_signing(declaration, 9, people.secretariat)) == 404
    db.session.rollback()
    assert snapshot() == before


@BACKENDS
def test_text_is_locked_while_open_for_signature(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.services import declarations, review

    declaration = make_declaration(people, "consultation")
    revision = declaration.latest
    # Something to resolve and decide, made before signing opens.
    comment = review.add_comment(revision, 0, "A comment.", people.delegate)
    amendment = review.propose_amendment(revision, 1, "Second paragraph, amended.", "Clearer.", people.delegate)
    declarations.open_signing(declaration, 2, people.secretariat)
    before = snapshot()
    calls = {
        "add_revision": lambda: declarations.add_revision(declaration, "Another text.", "", people.secretariat),
        "add_comment by secretariat": lambda: review.add_comment(revision, 0, "Late.", people.secretariat),
        "add_comment by delegate": lambda: review.add_comment(revision, 0, "Late.", people.delegate),
        "reply": lambda: review.add_comment(revision, 0, "Late.", people.delegate, parent_id=comment.id),
        "propose_amendment": lambda: review.propose_amendment(revision, 0, "New.", "Late.", people.delegate),
        "approve": lambda: review.approve(revision, people.delegate),
        "accept_amendment": lambda: review.accept_amendment(amendment, people.secretariat),
        "decline_amendment": lambda: review.decline_amendment(amendment, people.secretariat, "Too late."),
        "resolve_comment": lambda: review.resolve_comment(comment, people.delegate),
    }
    for name, call in calls.items():
        got = outcome_of(call)
        db.session.rollback()
        assert got == 409, f"{name} while open for signature: {got}"
        assert snapshot() == before, name
    db.session.refresh(comment)
    db.session.refresh(amendment)
    assert comment.resolved_at is None
    assert amendment.status == "open"
    assert status_in_db(declaration.id) == "open_for_signature"


# --- 3. Revisions are immutable in the database -----------------------------------------------


def _revision_row(revision_id: int) -> tuple[Any, ...]:
    from signing.extensions import db

    return tuple(db.session.execute(
        text("SELECT number, text, sha256, note, declaration_id FROM revisions WHERE id = :i"), {"i": revision_id}
    ).one())


@BACKENDS
def test_revisions_cannot_be_changed_or_deleted_with_raw_sql(app: Flask, people: People) -> None:
    from signing.extensions import db
    from signing.models import Revision

    declaration = make_declaration(people, "consultation")
    revision_id = declaration.latest.id
    original = _revision_row(revision_id)
    total = count(Revision)
    statements = [
        ("UPDATE revisions SET text = 'Forged text.\n' WHERE id = :i", {"i": revision_id}),
        ("UPDATE revisions SET sha256 = :s WHERE id = :i", {"i": revision_id, "s": "0" * 64}),
        ("UPDATE revisions SET note = note WHERE id = :i", {"i": revision_id}),
        ("UPDATE revisions SET number = number + 100", {}),
        ("DELETE FROM revisions WHERE id = :i", {"i": revision_id}),
        ("DELETE FROM revisions", {}),
    ]
    if db.engine.dialect.name == "postgresql":
        # Plain TRUNCATE is already stopped by the foreign keys; CASCADE passes them, not the trigger.
        statements.append(("TRUNCATE revisions CASCADE", {}))
    for sql, params in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(sql), params)
            db.session.commit()
        db.session.rollback()
        assert _revision_row(revision_id) == original, sql
        assert count(Revision) == total, sql

    # Through the ORM, and on a connection of its own, too.
    revision = db.session.get(Revision, revision_id)
    revision.text = "Forged through the ORM.\n"
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    with db.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("DELETE FROM revisions WHERE id = :i"), {"i": revision_id})
        conn.commit()
    assert _revision_row(revision_id) == original
    # Inserting is still allowed (that is how revisions are made).
    assert count(Revision) == total


# --- 4. A random walk through the workflow (SQLite) -------------------------------------------


def test_random_workflow_keeps_its_invariants(app: Flask, people: People) -> None:
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        initialize,
        invariant,
        precondition,
        rule,
        run_state_machine_as_test,
    )

    from signing.extensions import db
    from signing.models import AmendmentStatus, AuditEvent, Status
    from signing.services import ServiceError, declarations, review
    from signing.text.canonical import split_paragraphs, text_sha256

    roles = st.sampled_from(("secretariat", "delegate", "other_delegate", "observer"))
    role_name = {"secretariat": SEC, "delegate": DEL, "other_delegate": DEL, "observer": OBS}
    serial = itertools.count(1)

    def audit_count() -> int:
        return count(AuditEvent)

    class Workflow(RuleBasedStateMachine):
        """A model of one declaration: its state, its revisions, approvals, open amendments."""

        def __init__(self) -> None:
            super().__init__()
            self.declaration: Any = None
            self.state = "draft"
            self.revisions: dict[int, tuple[str, str]] = {}  # number -> (sha256, text) when first seen
            self.approved: set[tuple[int, int]] = set()  # (revision number, city id)
            self.open_amendments: list[int] = []
            self.comments: list[int] = []
            self.n = 0

        @initialize(start=st.sampled_from(STATES))
        def create(self, start: str) -> None:
            """A new declaration, brought by the secretariat to a random starting state."""
            number = next(serial)
            self.declaration = declarations.create(f"Walk {number}", f"Walk {number}.\n\nSecond.\n",
                                                   people.secretariat, slug=f"walk-{number}")
            self.n = 1
            if start != "draft":
                declarations.open_consultation(self.declaration, people.secretariat)
            if start in ("open_for_signature", "frozen"):
                declarations.open_signing(self.declaration, 1, people.secretariat)
            if start == "frozen":
                self.declaration.status = Status.FROZEN.value
                db.session.commit()
            self.state = start
            self._remember()

        # -- helpers
        def _remember(self) -> None:
            rows = db.session.execute(
                text("SELECT number, sha256, text FROM revisions WHERE declaration_id = :d ORDER BY number"),
                {"d": self.declaration.id},
            ).all()
            for number, sha, body in rows:
                self.revisions.setdefault(number, (sha, body))

        def _attempt(self, action: str, role: str, call: Any, events: int = 1, conflict: bool = False) -> bool:
            """Run ``call``; check it succeeded exactly when the documented table says so.

            ``conflict``: the table allows it, but the model knows it must be refused with 409.
            """
            want = expected_outcome(action, self.state, role_name[role])
            if want == 200 and conflict:
                want = 409
            before = audit_count()
            try:
                call()
            except ServiceError as exc:
                db.session.rollback()
                assert exc.status == want, f"{action} by {role} in {self.state}: {exc.status} != {want}: {exc}"
                assert audit_count() == before, f"refused {action} wrote an audit event"
                return False
            assert want == 200, f"{action} by {role} in {self.state} succeeded, expected {want}"
            assert audit_count() == before + events, f"{action}: {audit_count() - before} audit events"
            return True

        def _user(self, role: str) -> Any:
            return people.by_role(role)

        # -- rules
        @rule(role=roles)
        def open_consultation(self, role: str) -> None:
            if self._attempt("OPEN_CONSULTATION", role,
                             lambda: declarations.open_consultation(self.declaration, self._user(role))):
                self.state = "consultation"

        @rule(role=roles, on_latest=st.booleans())
        def open_signing(self, role: str, on_latest: bool) -> None:
            number = self.n if on_latest else 1
            if self._attempt("OPEN_SIGNING", role,
                             lambda: declarations.open_signing(self.declaration, number, self._user(role))):
                self.state = "open_for_signature"

        @rule(role=roles)
        def return_to_consultation(self, role: str) -> None:
            if self._attempt("RETURN_TO_CONSULTATION", role, lambda: declarations.return_to_consultation(
                    self.declaration, self._user(role), "Not yet.")):
                self.state = "consultation"

        @precondition(lambda self: self.state == "open_for_signature")
        @rule()
        def freeze(self) -> None:  # the freeze worker
            self.declaration.status = Status.FROZEN.value
            db.session.commit()
            self.state = "frozen"

        @rule(role=roles)
        def add_revision(self, role: str) -> None:
            body = f"Revision text {next(serial)}.\n\nSecond.\n"
            if self._attempt("EDIT_TEXT", role, lambda: declarations.add_revision(
                    self.declaration, body, "note", self._user(role))):
                self.n += 1

        @rule(role=roles, paragraph=st.integers(0, 1))
        def comment(self, role: str, paragraph: int) -> None:
            holder: list[Any] = []
            revision = declarations.get_revision(self.declaration, self.n)
            if self._attempt("COMMENT", role, lambda: holder.append(
                    review.add_comment(revision, paragraph, "A comment.", self._user(role)))):
                self.comments.append(holder[0].id)

        @rule(role=roles)
        def propose(self, role: str) -> None:
            holder: list[Any] = []
            revision = declarations.get_revision(self.declaration, self.n)
            replacement = f"Second, amended {next(serial)}."
            if self._attempt("AMEND", role, lambda: holder.append(
                    review.propose_amendment(revision, 1, replacement, "Better.", self._user(role)))):
                self.open_amendments.append(holder[0].id)

        @precondition(lambda self: bool(self.open_amendments))
        @rule(role=roles, accept=st.booleans(), pick=st.integers(0, 50))
        def decide(self, role: str, accept: bool, pick: int) -> None:
            from signing.models import Amendment

            amendment_id = self.open_amendments[pick % len(self.open_amendments)]
            amendment = db.session.get(Amendment, amendment_id)
            if accept:
                latest = declarations.get_revision(self.declaration, self.n)
                stale = split_paragraphs(latest.text)[amendment.paragraph] != amendment.original
                ok = self._attempt("DECIDE_AMENDMENT", role,
                                   lambda: review.accept_amendment(amendment, self._user(role)), events=2,
                                   conflict=stale)
            else:
                ok = self._attempt("DECIDE_AMENDMENT", role,
                                   lambda: review.decline_amendment(amendment, self._user(role), "No."))
            db.session.refresh(amendment)
            if not ok:
                assert amendment.status == AmendmentStatus.OPEN.value
                return
            self.open_amendments.remove(amendment_id)
            if accept:
                assert amendment.status == AmendmentStatus.ACCEPTED.value
                self.n += 1
                assert amendment.result_revision.number == self.n
                assert split_paragraphs(amendment.result_revision.text)[1] == amendment.replacement
            else:
                assert amendment.status == AmendmentStatus.DECLINED.value

        @rule(role=roles, on_latest=st.booleans())
        def approve(self, role: str, on_latest: bool) -> None:
            number = self.n if on_latest else 1
            user = self._user(role)
            revision = declarations.get_revision(self.declaration, number)
            key = (number, user.city_id or -1)
            if key in self.approved and self.state == "consultation":
                before = audit_count()
                with pytest.raises(ServiceError) as refused:
                    review.approve(revision, user)
                db.session.rollback()
                assert refused.value.status == 409
                assert audit_count() == before
                return
            if self._attempt("APPROVE", role, lambda: review.approve(revision, user)):
                self.approved.add(key)

        # -- invariants
        @invariant()
        def status_is_known(self) -> None:
            if self.declaration is None:
                return
            status = status_in_db(self.declaration.id)
            assert status in STATES
            assert status == self.state

        @invariant()
        def revisions_are_numbered_and_unchanged(self) -> None:
            if self.declaration is None:
                return
            rows = db.session.execute(
                text("SELECT number, sha256, text FROM revisions WHERE declaration_id = :d ORDER BY number"),
                {"d": self.declaration.id},
            ).all()
            assert [r[0] for r in rows] == list(range(1, self.n + 1))
            for number, sha, body in rows:
                assert sha == text_sha256(body), f"revision {number}: stored hash does not match its text"
                first = self.revisions.setdefault(number, (sha, body))
                assert first == (sha, body), f"revision {number} changed"

    # No shrinking: on a slow database it can outlast the test timeout; the failing steps are printed as they are.
    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=50, stateful_step_count=25, deadline=None, database=None,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow],
    ))
