"""Small WTForms validators shared by the portal's forms."""
from __future__ import annotations

import re

from wtforms.validators import ValidationError

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{2,63}$")


def email_address(form, field) -> None:
    """A plain syntax check (no DNS look-ups): something@domain.tld."""
    value = (field.data or "").strip()
    if value and not _EMAIL.match(value):
        raise ValidationError("Enter an email address like name@example.org.")
