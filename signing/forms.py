"""WTForms forms. Every form carries a CSRF token (Flask-WTF)."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError


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
    role = SelectField("Role", choices=[("observer", "Observer"), ("secretariat", "Secretariat")])


class ConfirmForm(FlaskForm):
    """An empty form: a CSRF-protected button."""

    submit = SubmitField("Confirm")
