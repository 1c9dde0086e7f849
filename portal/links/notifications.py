"""The email that tells whoever declared a family link that the school has decided on it (walk finding: they
learnt of it only at their next sign-in). Like the concern emails it names nobody: it asks them to sign in."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.i18n import in_language, language_of
from portal.links.models import FamilyLinkDeclaration, LinkSource
from portal.mail import MailError, send_later
from portal.urls import mail_link


def tell_declarer(decl: FamilyLinkDeclaration) -> bool:
    """Queue the email to the person who declared *decl* (just decided); False when they have no address or it
    could not be sent or queued."""
    person = decl.declared_by
    if person is None or not person.email:
        return False
    link = mail_link("portal.links.relative" if decl.source == LinkSource.PARENT.value else "portal.links.mine")
    with in_language(language_of(person)):
        subject = _("The school has decided on a family link you told us about")
        body = (_("Hello %(name)s,", name=person.given_name) + "\n\n"
                + _("The school has decided on a family link you told us about. Sign in to see the decision: "
                    "%(link)s", link=link) + "\n\n"
                + _("For privacy this email does not say who the link is with.") + "\n"
                + _("Please do not reply to this email."))
    try:
        send_later(person.email, subject, body, key=f"links.decided:{decl.id}")
    except MailError:
        return False
    return True
