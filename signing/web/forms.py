"""WTForms forms. Every form carries a CSRF token (Flask-WTF)."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..i18n import LANGUAGES
from ..services import tokens


def _printable(form: Any, field: Any) -> None:
    """Refuse control characters and U+FFFD (a sign of a wrongly encoded form)."""
    value = field.data or ""
    for ch in value:
        if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"):
            raise ValidationError("Contains characters that are not allowed.")


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254), _printable])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    next = HiddenField()
    submit = SubmitField("Log in")


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField("Repeat the password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Set password")

    def validate_confirm(self, field: Any) -> None:
        if field.data != self.password.data:
            raise ValidationError("The two passwords are not the same.")


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Change password")


class ResetRequestForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254), _printable])
    submit = SubmitField("Send reset link")


class CityForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120), _printable])
    country = StringField("Country", validators=[DataRequired(), Length(max=120), _printable])
    slug = StringField("Short name (URL)", validators=[Optional(), Length(max=80), _printable])
    submit = SubmitField("Save")


class InviteForm(FlaskForm):
    display_name = StringField("Name", validators=[DataRequired(), Length(max=120), _printable])
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254), _printable])
    submit = SubmitField("Send invitation")


class InviteUserForm(InviteForm):
    role = SelectField("Role", choices=[SelectChoice("observer", "Observer"),
                                        SelectChoice("secretariat", "Secretariat")])


class ConfirmForm(FlaskForm):
    """An empty form: a CSRF-protected button."""

    submit = SubmitField("Confirm")


class DeclarationForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200), _printable])
    slug = StringField("Short name (URL)", validators=[Optional(), Length(max=60), _printable])
    text = TextAreaField("Text (Markdown)", validators=[DataRequired(), Length(max=250_000)])
    submit = SubmitField("Create draft")


class RevisionForm(FlaskForm):
    text = TextAreaField("Text (Markdown)", validators=[DataRequired(), Length(max=250_000)])
    note = StringField("What changed (note)", validators=[Optional(), Length(max=500), _printable])
    submit = SubmitField("Save as new revision")


class CommentForm(FlaskForm):
    paragraph = IntegerField("Paragraph", validators=[InputRequired(), NumberRange(min=1, max=100_000)])
    parent_id = IntegerField("Reply to", validators=[Optional(), NumberRange(min=1)])
    body = TextAreaField("Comment", validators=[DataRequired(), Length(max=10_000)])
    submit = SubmitField("Comment")


class AmendmentForm(FlaskForm):
    paragraph = IntegerField("Paragraph", validators=[InputRequired(), NumberRange(min=1, max=100_000)])
    replacement = TextAreaField("Replacement text", validators=[DataRequired(), Length(max=20_000)])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=5_000)])
    submit = SubmitField("Propose amendment")


class DecisionForm(FlaskForm):
    reason = TextAreaField("Reason or note", validators=[Optional(), Length(max=5_000)])
    submit = SubmitField("Confirm")


class ReturnForm(FlaskForm):
    reason = TextAreaField("Why it goes back to consultation", validators=[DataRequired(), Length(max=2_000)])
    submit = SubmitField("Return to consultation")


class OpenSigningForm(FlaskForm):
    revision = SelectField("Revision to sign", coerce=int)
    rule = SelectField("Signing rule", choices=[SelectChoice("all", "All signatory cities"),
                                                   SelectChoice("quorum", "A quorum of them")])
    quorum = IntegerField("Quorum (cities needed)", validators=[Optional(), NumberRange(min=1, max=10_000)])
    deadline = DateTimeLocalField("Deadline (UTC, optional)", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    excluded = SelectMultipleField("Leave out these cities", coerce=int, validators=[Optional()])
    submit = SubmitField("Open signing")


class WebhookForm(FlaskForm):
    url = StringField("URL that receives the events", validators=[DataRequired(), Length(max=2000), _printable])
    description = StringField("Description (optional)", validators=[Optional(), Length(max=200), _printable])
    events = SelectMultipleField("Events", validators=[DataRequired(message="Choose at least one event.")],
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    submit = SubmitField("Add endpoint")
class SecondFactorForm(FlaskForm):
    """At login, after the password: a code from the authenticator app or a recovery code."""

    code = StringField("Code", validators=[DataRequired(), Length(max=64), _printable])
    submit = SubmitField("Continue")


class TotpConfirmForm(FlaskForm):
    code = StringField("Code from the app", validators=[DataRequired(), Length(max=64), _printable])
    submit = SubmitField("Turn on")


class TotpDisableForm(FlaskForm):
    # Named apart from the password-change form's fields: both are on the account page.
    totp_password = PasswordField("Your password", validators=[DataRequired(), Length(max=256)])
    totp_code = StringField("Current code from the app", validators=[DataRequired(), Length(max=64), _printable])
    submit = SubmitField("Turn off")


class RecoveryCodesForm(FlaskForm):
    renew_password = PasswordField("Your password", validators=[DataRequired(), Length(max=256)])
    renew_code = StringField("Current code from the app", validators=[DataRequired(), Length(max=64), _printable])
    submit = SubmitField("Make new recovery codes")


class PasskeyRemoveForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Remove")


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=tokens.MAX_NAME), _printable])
    submit = SubmitField("Create token")


class LanguageForm(FlaskForm):
    """The interface language: one of ``LANGUAGES``, or "" to follow the browser's ``Accept-Language``."""

    locale = SelectField(_l("Language"), validators=[Optional(), Length(max=16)])
    next = HiddenField()
    submit = SubmitField(_l("Save language"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = [SelectChoice("", _l("As my browser asks")),
                               *(SelectChoice(code, name) for code, name in LANGUAGES.items())]
