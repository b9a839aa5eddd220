"""Signing reminders: 7, 3 and 1 days before the deadline, once per city, delegate and slot; none once signed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import BACKENDS, PASSWORD, read_mail
from tests.freeze.conftest import Network, open_for_signature

DAY = timedelta(days=1)


def reminder_rows() -> list[Any]:
    from sqlalchemy import select

    from signing.extensions import db
    from signing.models import OutboxEmail

    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEmail).where(OutboxEmail.template == "reminder")
                                   .order_by(OutboxEmail.id)))


def keys_since(before: int) -> list[str]:
    return sorted(row.dedupe_key for row in reminder_rows()[before:])


def key(declaration: Any, slot: int, user: Any) -> str:
    return f"reminder:{declaration.id}:{slot}d:city{user.city_id}:user{user.id}"


@BACKENDS
def test_each_slot_reminds_each_city_that_has_not_signed_once(app: Flask, network: Network) -> None:
    from signing.models import Role, utcnow
    from signing.services import accounts, reminders

    # İzmir has a second delegate; Sofia has one who left and one who never accepted the invitation.
    second = accounts.create_user("izmir2@b40.example", "Second İzmir delegate", Role.DELEGATE,
                                  city=network.izmir.user.city, password=PASSWORD)
    gone = accounts.create_user("gone@b40.example", "Former Sofia delegate", Role.DELEGATE,
                                city=network.sofia.user.city, password=PASSWORD)
    accounts.set_active(gone, False, network.secretariat)
    accounts.invite("later@b40.example", "Invited Sofia delegate", Role.DELEGATE, city=network.sofia.user.city,
                    actor=network.secretariat)
    start = utcnow()
    deadline = start + 10 * DAY
    declaration = open_for_signature(network, deadline=deadline)
    open_for_signature(network, slug="no-deadline")  # never reminded
    network.athens.sign(declaration)
    izmir, sofia = network.izmir.user, network.sofia.user

    def run(at: datetime) -> list[str]:
        before = len(reminder_rows())
        queued = reminders.send_due_reminders(now=at)
        new = keys_since(before)
        assert queued == len(new)
        return new

    assert run(start) == []  # ten days to go: no slot has opened
    assert run(deadline - 7 * DAY - timedelta(minutes=1)) == []
    expected_7 = sorted(key(declaration, 7, u) for u in (izmir, second, sofia))
    assert run(deadline - 7 * DAY + timedelta(hours=1)) == expected_7
    assert run(deadline - 7 * DAY + timedelta(hours=2)) == []  # the hourly sweep again: nothing new
    assert run(deadline - 4 * DAY) == []
    assert run(deadline - 3 * DAY + timedelta(minutes=1)) == sorted(key(declaration, 3, u) for u in (izmir, second,
                                                                                                      sofia))
    network.sofia.sign(declaration)
    assert run(deadline - DAY + timedelta(minutes=1)) == sorted(key(declaration, 1, u) for u in (izmir, second))
    assert run(deadline - timedelta(minutes=1)) == []
    assert run(deadline + timedelta(hours=1)) == []  # signing closed

    rows = reminder_rows()
    assert len(rows) == 8 and {r.status for r in rows} == {"sent"}
    assert not [r for r in rows if r.recipient in (network.athens.user.email, gone.email, "later@b40.example")]
    mails = [m for m in read_mail(app.config["MAIL_FILE_DIR"]) if str(m["Subject"]).startswith("Reminder:")]
    assert len(mails) == 8
    subjects = sorted({str(m["Subject"]) for m in mails})
    assert subjects == [f"Reminder: {n} left to sign “{declaration.title}”" for n in ("1 day", "3 days", "7 days")]
    body = mails[0].get_body(preferencelist=("plain",))
    assert body is not None
    content = str(body.get_content())
    assert "has not yet signed" in content and f"http://accord.test/declarations/{declaration.slug}" in content
    assert declaration.open_revision.sha256 in content


@BACKENDS
def test_a_late_sweep_sends_only_the_most_urgent_slot(app: Flask, network: Network) -> None:
    from signing.models import utcnow
    from signing.services import reminders

    declaration = open_for_signature(network, deadline=utcnow() + 2 * DAY, cities=[network.izmir, network.athens])
    assert reminders.send_due_reminders() == 2
    assert {r.dedupe_key for r in reminder_rows()} == {key(declaration, 3, s.user) for s in (network.izmir,
                                                                                             network.athens)}
    assert reminders.send_due_reminders() == 0


@BACKENDS
def test_a_frozen_declaration_gets_no_reminders(app: Flask, network: Network) -> None:
    from signing.models import utcnow
    from signing.services import reminders

    declaration = open_for_signature(network, deadline=utcnow() + 2 * DAY, rule="quorum", quorum=1)
    network.izmir.sign(declaration)
    assert declaration.status == "frozen"
    assert reminders.send_due_reminders() == 0 and reminder_rows() == []


def test_the_flask_command_sends_the_due_reminders(app: Flask, network: Network) -> None:
    from signing.models import utcnow

    declaration = open_for_signature(network, deadline=utcnow() + 12 * timedelta(hours=1))
    network.sofia.sign(declaration)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reminders", "send"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 reminder(s) queued."
    sent = {str(m["To"]) for m in read_mail(Path(app.config["MAIL_FILE_DIR"]))
            if str(m["Subject"]).startswith("Reminder: 1 day left")}
    assert sent == {network.izmir.user.email, network.athens.user.email}
    assert runner.invoke(args=["reminders", "send"]).output.strip() == "0 reminder(s) queued."


def test_the_celery_task_and_the_hourly_beat_entry(app: Flask, network: Network) -> None:
    from signing.models import utcnow
    from workers.tasks import send_reminders

    entry = app.extensions["celery"].conf.beat_schedule["send-reminders"]
    assert entry["task"] == "workers.tasks.send_reminders" == send_reminders.name
    assert entry["schedule"].remaining_estimate(utcnow()) <= timedelta(hours=1)
    open_for_signature(network, deadline=utcnow() + 5 * DAY, cities=[network.sofia])
    assert send_reminders() == 1
    assert send_reminders() == 0


@pytest.mark.parametrize(("value", "expected"), [
    (None, (7, 3, 1)), ("7,3,1", (7, 3, 1)), ("1, 14,3,3", (14, 3, 1)), ("none", ()),
])
def test_reminder_days_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str | None,
                                     expected: tuple[int, ...]) -> None:
    from config import load_config

    if value is None:
        monkeypatch.delenv("REMINDER_DAYS", raising=False)
    else:
        monkeypatch.setenv("REMINDER_DAYS", value)
    assert load_config(tmp_path, {"SECRET_KEY": "k" * 40})["REMINDER_DAYS"] == expected


@pytest.mark.parametrize("value", ["seven", "3,0", "-1"])
def test_bad_reminder_days_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    from config import ConfigError, load_config

    monkeypatch.setenv("REMINDER_DAYS", value)
    with pytest.raises(ConfigError, match="REMINDER_DAYS"):
        load_config(tmp_path, {"SECRET_KEY": "k" * 40})
