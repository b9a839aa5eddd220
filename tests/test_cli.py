"""The ``flask`` commands: demo, create-user, invite, outbox drain (SQLite)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from tests.conftest import link_in, read_mail

LOGIN_LINE = re.compile(r"^ +(secretariat|delegate) +(\S+@b40\.example) +(\S+)(?: +(.+))?$", re.MULTILINE)


def test_demo_loads_the_network_and_prints_each_login_once(app: Flask) -> None:
    from signing.extensions import db
    from signing.models import City, Role, User
    from signing.services import accounts

    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    logins = LOGIN_LINE.findall(result.output)
    assert len(logins) == 13
    emails = [email for _, email, _, _ in logins]
    assert len(set(emails)) == 13
    for email in emails:
        assert result.output.count(email) == 1, email
    assert "secretariat@b40.example" in emails
    assert {"izmir@b40.example", "chisinau@b40.example", "istanbul@b40.example"} <= set(emails)
    passwords = [password for _, _, password, _ in logins]
    assert len(set(passwords)) == 13, "every account gets its own password"

    cities = {c.slug: c for c in db.session.scalars(select(City))}
    assert len(cities) == 12
    assert cities["izmir"].name == "İzmir"
    assert cities["chisinau"].name == "Chișinău"
    assert cities["chisinau"].country == "Moldova"
    roles = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    assert roles == {Role.SECRETARIAT.value: 1, Role.DELEGATE.value: 12}
    for city in cities.values():
        assert [d.email for d in city.delegates] == [f"{city.slug}@b40.example"]

    # Every printed password works for its account.
    for role, email, password, _ in logins:
        user = accounts.authenticate(email, password)
        assert user is not None and user.role == role, email

    saved = Path(app.instance_path) / "demo-logins.txt"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    for email, password in zip(emails, passwords, strict=True):
        assert email in saved.read_text("utf-8") and password in saved.read_text("utf-8")


def test_demo_refuses_a_second_load_and_if_empty_shows_the_saved_logins(app: Flask) -> None:
    from signing.extensions import db
    from signing.models import User

    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    users = db.session.scalar(select(func.count()).select_from(User))

    second = runner.invoke(args=["demo"])
    assert second.exit_code != 0
    assert "already has users" in second.output
    assert db.session.scalar(select(func.count()).select_from(User)) == users

    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "Demo already loaded" in again.output
    for _, email, password, _ in LOGIN_LINE.findall(first.output):
        assert email in again.output and password in again.output
    assert db.session.scalar(select(func.count()).select_from(User)) == users


def test_demo_if_empty_loads_an_empty_database(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert len(LOGIN_LINE.findall(result.output)) == 13


def test_create_user_asks_for_the_password(app: Flask) -> None:
    from signing.extensions import db
    from signing.models import Role
    from signing.services import accounts

    runner = app.test_cli_runner()
    password = "a long enough passphrase"
    result = runner.invoke(args=["create-user", "Boss@B40.example", "--name", "The Boss"],
                           input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    assert "Created secretariat boss@b40.example." in result.output
    assert password not in result.output
    user = accounts.authenticate("boss@b40.example", password)
    assert user is not None and user.role == Role.SECRETARIAT and user.display_name == "The Boss"

    mismatch = runner.invoke(args=["create-user", "other@b40.example", "--name", "Other"],
                             input=f"{password}\nsomething else entirely\n{password}\n{password}\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output.lower() or "don't match" in mismatch.output.lower()

    duplicate = runner.invoke(args=["create-user", "BOSS@b40.example", "--name", "Again", "--password", password])
    assert duplicate.exit_code != 0
    assert "already exists" in duplicate.output

    short = runner.invoke(args=["create-user", "short@b40.example", "--name", "Short", "--password", "short"])
    assert short.exit_code != 0
    assert "at least 12 characters" in short.output
    db.session.rollback()  # the command's process ends here: nothing of it was committed
    assert accounts.find_by_email("short@b40.example") is None


def test_create_user_for_a_city(app: Flask) -> None:
    from signing.services import accounts, cities

    cities.create_city("Chișinău", "Moldova", None)
    runner = app.test_cli_runner()
    password = "a long enough passphrase"
    result = runner.invoke(args=["create-user", "chisinau@b40.example", "--name", "Chișinău delegate",
                                 "--role", "delegate", "--city", "chisinau", "--password", password])
    assert result.exit_code == 0, result.output
    user = accounts.find_by_email("chisinau@b40.example")
    assert user is not None and user.city is not None and user.city.name == "Chișinău"

    no_city = runner.invoke(args=["create-user", "x@b40.example", "--name", "X", "--role", "delegate",
                                  "--password", password])
    assert no_city.exit_code != 0
    assert "must belong to a city" in no_city.output


def test_invite_writes_an_email_with_a_working_link(app: Flask) -> None:
    from signing.services import accounts, cities

    cities.create_city("İzmir", "Türkiye", None)
    result = app.test_cli_runner().invoke(args=["invite", "ayse@b40.example", "--name", "Ayşe", "--city", "izmir"])
    assert result.exit_code == 0, result.output
    assert "Invitation e-mailed to ayse@b40.example." in result.output
    messages = read_mail(app.config["MAIL_FILE_DIR"])
    assert len(messages) == 1
    assert messages[0]["To"] == "ayse@b40.example"
    path = link_in(messages[0], "/invitation/")
    assert app.test_client().get(path).status_code == 200
    user = accounts.find_by_email("ayse@b40.example")
    assert user is not None and user.password_hash is None and user.city is not None

    unknown = app.test_cli_runner().invoke(args=["invite", "b@b40.example", "--name", "B", "--city", "atlantis"])
    assert unknown.exit_code != 0
    assert "No such city" in unknown.output
    assert len(read_mail(app.config["MAIL_FILE_DIR"])) == 1


def test_outbox_drain_sends_pending_email(app: Flask) -> None:
    from signing.extensions import db
    from signing.models import OutboxEmail
    from signing.services import outbox

    row = outbox.queue_email("test:1", "someone@b40.example", "password_reset", display_name="Someone",
                             secret_url="http://accord.test/reset/abc", hours=2)
    db.session.commit()  # committed without relaying: it waits in the outbox
    assert read_mail(app.config["MAIL_FILE_DIR"]) == []

    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "drain"])
    assert result.exit_code == 0, result.output
    assert "1 e-mail(s) and 0 task(s) handled." in result.output
    messages = read_mail(app.config["MAIL_FILE_DIR"])
    assert [m["To"] for m in messages] == ["someone@b40.example"]
    db.session.refresh(row)
    assert row.status == "sent" and row.sent_at is not None
    assert "secret_url" not in row.context

    again = runner.invoke(args=["outbox", "drain"])
    assert again.exit_code == 0
    assert "0 e-mail(s) and 0 task(s) handled." in again.output
    assert len(read_mail(app.config["MAIL_FILE_DIR"])) == 1
    assert db.session.get(OutboxEmail, row.id).attempts == 1
