"""WTForms forms. Every form carries a CSRF token (Flask-WTF)."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
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
            raise ValidationError(_("Contains characters that are not allowed."))


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254), _printable])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    next = HiddenField()
    submit = SubmitField(_l("Log in"))


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(_l("Repeat the password"), validators=[DataRequired(), Length(max=256)])
    submit = SubmitField(_l("Set password"))

    def validate_confirm(self, field: Any) -> None:
        if field.data != self.password.data:
            raise ValidationError(_("The two passwords are not the same."))


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    submit = SubmitField(_l("Change password"))


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254), _printable])
    submit = SubmitField(_l("Send reset link"))


class CityForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120), _printable])
    country = StringField(_l("Country"), validators=[DataRequired(), Length(max=120), _printable])
    slug = StringField(_l("Short name (URL)"), validators=[Optional(), Length(max=80), _printable])
    submit = SubmitField(_l("Save"))


class InviteForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120), _printable])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254), _printable])
    submit = SubmitField(_l("Send invitation"))


class InviteUserForm(InviteForm):
    role = SelectField(_l("Role"), choices=[SelectChoice("observer", _l("Observer")),
                                        SelectChoice("secretariat", _l("Secretariat"))])


class CityInviteForm(InviteForm):
    """The secretariat invites a delegate or the city's mayor (one per city)."""

    role = SelectField(_l("Role"), choices=[SelectChoice("delegate", _l("Delegate")),
                                            SelectChoice("mayor", _l("Mayor (signs mandates; one per city)"))],
                       default="delegate")


class ConfirmForm(FlaskForm):
    """An empty form: a CSRF-protected button."""

    submit = SubmitField(_l("Confirm"))


class DeclarationForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200), _printable])
    slug = StringField(_l("Short name (URL)"), validators=[Optional(), Length(max=60), _printable])
    text = TextAreaField(_l("Text (Markdown)"), validators=[DataRequired(), Length(max=250_000)])
    submit = SubmitField(_l("Create draft"))


class RevisionForm(FlaskForm):
    text = TextAreaField(_l("Text (Markdown)"), validators=[DataRequired(), Length(max=250_000)])
    note = StringField(_l("What changed (note)"), validators=[Optional(), Length(max=500), _printable])
    submit = SubmitField(_l("Save as new revision"))


class CommentForm(FlaskForm):
    paragraph = IntegerField(_l("Paragraph"), validators=[InputRequired(), NumberRange(min=1, max=100_000)])
    parent_id = IntegerField(_l("Reply to"), validators=[Optional(), NumberRange(min=1)])
    body = TextAreaField(_l("Comment"), validators=[
        DataRequired(message=_l("The comment is empty: write something before sending it.")),
        Length(max=10_000, message=_l("The comment is %(length)d characters long; %(max)d at most. "
                                      "Shorten it (or split it in two) and send it again.")),
    ])
    language = StringField(_l("Language"), validators=[Optional(), Length(max=35)])
    submit = SubmitField(_l("Comment"))


class AmendmentForm(FlaskForm):
    paragraph = IntegerField(_l("Paragraph"), validators=[InputRequired(), NumberRange(min=1, max=100_000)])
    replacement = TextAreaField(_l("Replacement text"), validators=[
        DataRequired(message=_l("The replacement text is empty.")),
        Length(max=20_000, message=_l("The replacement text is %(length)d characters long; %(max)d at most.")),
    ])
    reason = TextAreaField(_l("Reason"), validators=[
        DataRequired(message=_l("Give a reason for the amendment.")),
        Length(max=5_000, message=_l("The reason is %(length)d characters long; %(max)d at most.")),
    ])
    language = StringField(_l("Language"), validators=[Optional(), Length(max=35)])
    submit = SubmitField(_l("Propose amendment"))


class DecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason or note"), validators=[
        Optional(), Length(max=5_000, message=_l("The reason is %(length)d characters long; %(max)d at most.")),
    ])
    submit = SubmitField(_l("Confirm"))


class ReturnForm(FlaskForm):
    reason = TextAreaField(_l("Why it goes back to consultation"), validators=[DataRequired(), Length(max=2_000)])
    submit = SubmitField(_l("Return to consultation"))


class OpenSigningForm(FlaskForm):
    revision = SelectField(_l("Revision to sign"), coerce=int)
    rule = SelectField(_l("Signing rule"), choices=[SelectChoice("all", _l("All signatory cities")),
                                                   SelectChoice("quorum", _l("A quorum of them"))])
    quorum = IntegerField(_l("Quorum (cities needed)"), validators=[Optional(), NumberRange(min=1, max=10_000)])
    deadline = DateTimeLocalField(_l("Deadline (UTC, optional)"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    excluded = SelectMultipleField(_l("Leave out these cities"), coerce=int, validators=[Optional()])
    require_mandates = BooleanField(_l("Require mayors' mandates (a signature counts only under a mandate its "
                                       "city's mayor signed; fixed while signing is open)"))
    submit = SubmitField(_l("Open signing"))


class WebhookForm(FlaskForm):
    url = StringField(_l("URL that receives the events"), validators=[DataRequired(), Length(max=2000), _printable])
    description = StringField(_l("Description (optional)"), validators=[Optional(), Length(max=200), _printable])
    events = SelectMultipleField(_l("Events"), validators=[DataRequired(message=_l("Choose at least one event."))],
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    submit = SubmitField(_l("Add endpoint"))
class SecondFactorForm(FlaskForm):
    """At login, after the password: a code from the authenticator app or a recovery code."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=64), _printable])
    submit = SubmitField(_l("Continue"))


class TotpConfirmForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=64), _printable])
    submit = SubmitField(_l("Turn on"))


class TotpDisableForm(FlaskForm):
    # Named apart from the password-change form's fields: both are on the account page.
    totp_password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])
    totp_code = StringField(_l("Current code from the app"), validators=[DataRequired(), Length(max=64), _printable])
    submit = SubmitField(_l("Turn off"))


class RecoveryCodesForm(FlaskForm):
    renew_password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])
    renew_code = StringField(_l("Current code from the app"), validators=[DataRequired(), Length(max=64), _printable])
    submit = SubmitField(_l("Make new recovery codes"))


class PasskeyRemoveForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])
    submit = SubmitField(_l("Remove"))


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=tokens.MAX_NAME), _printable])
    submit = SubmitField(_l("Create token"))


class LanguageForm(FlaskForm):
    """The interface language: one of ``LANGUAGES``, or "" to follow the browser's ``Accept-Language``."""

    locale = SelectField(_l("Language"), validators=[Optional(), Length(max=16)])
    next = HiddenField()
    submit = SubmitField(_l("Save language"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = [SelectChoice("", _l("As my browser asks")),
                               *(SelectChoice(code, name) for code, name in LANGUAGES.items())]
