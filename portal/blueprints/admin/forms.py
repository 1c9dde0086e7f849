from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField


class RosterForm(FlaskForm):
    file = FileField("Roster CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
    submit = SubmitField("Import")


class InviteForm(FlaskForm):
    submit = SubmitField("Send invitation")
