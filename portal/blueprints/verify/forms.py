from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField

from portal.formbase import FlaskForm


class CheckFileForm(FlaskForm):
    file = FileField(_l("The PDF record"), validators=[FileRequired(_l("Choose the PDF file to check."))])
    submit = SubmitField(_l("Check this file"))
