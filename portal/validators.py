"""Small WTForms validators shared by the portal's forms."""
from __future__ import annotations

import re
from typing import Any, cast

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import Field
from wtforms.fields.choices import SelectField
from wtforms.validators import Length, ValidationError

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{2,63}$")


def plausible_email(value: str) -> bool:
    """A plain syntax check (no DNS look-ups): something@domain.tld, at most 254 characters."""
    return len(value) <= 254 and _EMAIL.match(value) is not None


def email_address(form, field) -> None:
    """A plain syntax check (no DNS look-ups): something@domain.tld."""
    value = (field.data or "").strip()
    if value and not plausible_email(value):
        raise ValidationError(_("Enter an email address like name@example.org."))


def add_error(field: Field, message: str) -> None:
    """Add *message* to the errors of a field whose form has been validated (WTForms makes
    ``field.errors`` a list then; its type hints say only Sequence)."""
    cast(list[str], field.errors).append(message)


def choice_values(field: SelectField) -> set[Any]:
    """The values of a select field's ``(value, label)`` choices, leaving out a false one
    (the "Choose…" placeholder)."""
    return {v for v, _l in cast(list[tuple[Any, str]], field.choices) if v}


# Messages of the parent and pupil forms, in every shipped language (WTForms' own catalogues have no
# Urdu, and say "Field" where a person would say what to type).
ENTER_EMAIL = _l("Enter your email address.")
ENTER_PASSWORD = _l("Enter your password.")
ENTER_PASSWORD_AGAIN = _l("Type the password again.")


def at_most(limit: int) -> Length:
    """``Length(max=limit)`` saying so in the reader's language."""
    return Length(max=limit, message=_l("Use at most %(max)d characters."))
