"""Forms of the endorsement pages (every form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..services import endorsers
from .forms import _printable


class EndorseEmailForm(FlaskForm):
    email = EmailField(_l("Your e-mail address"), validators=[DataRequired(), Length(max=254), _printable])
    submit = SubmitField(_l("E-mail me a link to endorse"))


class ContinueForm(FlaskForm):
    submit = SubmitField(_l("Continue to endorse"))


class AccountRequestForm(FlaskForm):
    kind = SelectField(_l("You are"), choices=[SelectChoice("organisation", _l("An organisation")),
                                                SelectChoice("city", _l("A city outside the network"))])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(min=2, max=200), _printable])
    country = SelectField(_l("Country"), validators=[Optional()])
    website = StringField(_l("Website"), validators=[Optional(), Length(max=300), _printable])
    email = EmailField(_l("Contact e-mail (never shown)"), validators=[DataRequired(), Length(max=254), _printable])
    submit = SubmitField(_l("Ask for an account"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice("", "—"),
                                *(SelectChoice(code, name) for code, name in endorsers.countries().items())]


class HideForm(FlaskForm):
    reason = TextAreaField(_l("Reason (logged)"), validators=[DataRequired(), Length(min=3, max=500), _printable])
    submit = SubmitField(_l("Hide from the public list"))


class ActionForm(FlaskForm):
    """A button that changes something: the CSRF token only."""
