from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField


class CheckFileForm(FlaskForm):
    file = FileField("The PDF record", validators=[FileRequired("Choose the PDF file to check.")])
    submit = SubmitField("Check this file")
