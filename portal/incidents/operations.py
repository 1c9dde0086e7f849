"""Recording, routing and following up incidents (operations flush; views commit).

Mail says only that there is something to look at, with a link: never names or details.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from portal import audit
from portal.db import session, utcnow
from portal.i18n import in_language, language_of
from portal.incidents.models import ContactIncident, IncidentAction, SocialMediaIncident
from portal.links.operations import covering_link
from portal.mail import MailError, send_mail
from portal.people.models import Person
from portal.schools.models import School
from portal.security import has_capability
from portal.urls import mail_link


def route_for_contact(direction: str, adult_id: int | None = None) -> str:
    """Pupil-initiated contact is safeguarding (DSL); adult-initiated is conduct (Head Teacher).

    An incident is never routed to the adult it is about: about the Head it goes to the DSL,
    about the DSL to the Head.
    """
    route = "dsl" if direction == "from_pupil" else "head"
    settings = School.get()
    if settings is not None and adult_id is not None:
        if route == "head" and adult_id == settings.head_teacher_id:
            route = "dsl"
        elif route == "dsl" and adult_id == settings.dsl_id:
            route = "head"
    return route


def route_for_social(prevent_flag: bool) -> str:
    """An extremism (Prevent) flag goes to the DSL; anything else to the Head Teacher."""
    return "dsl" if prevent_flag else "head"


def recipient(route: str) -> Person | None:
    """The DSL or the Head Teacher named in the school settings."""
    settings = School.get()
    if settings is None:
        return None
    return settings.dsl if route == "dsl" else settings.head_teacher


def record_contact(*, by: Person, pupil: Person, adult: Person, kind: str, direction: str, platform: str,
                   occurred_on: dt.date, summary: str) -> ContactIncident:
    link = covering_link(pupil.id, adult.id)
    incident = ContactIncident(
        kind=kind, direction=direction, pupil_id=pupil.id, adult_id=adult.id, platform=platform,
        occurred_on=occurred_on, summary=summary, routed_to=route_for_contact(direction, adult.id),
        covered_by_link=link is not None, covering_link_id=link.id if link else None, recorded_by_id=by.id,
    )
    session.add(incident)
    session.flush()
    session.add(IncidentAction(contact_incident_id=incident.id, actor_id=by.id, text="Incident recorded."))
    session.flush()
    audit.record("incident.contact_recorded", actor=by, target=incident, direction=direction, kind=kind,
                 routed_to=incident.routed_to, covered_by_link=incident.covered_by_link)
    return incident


def record_social(*, by: Person, prevent_flag: bool, **fields: Any) -> SocialMediaIncident:
    incident = SocialMediaIncident(prevent_flag=prevent_flag, routed_to=route_for_social(prevent_flag),
                                   recorded_by_id=by.id, **fields)
    session.add(incident)
    session.flush()
    session.add(IncidentAction(social_incident_id=incident.id, actor_id=by.id, text="Incident recorded."))
    session.flush()
    audit.record("incident.social_recorded", actor=by, target=incident, author_type=incident.author_type,
                 prevent_flag=prevent_flag, routed_to=incident.routed_to)
    return incident


def update_social(incident: SocialMediaIncident, *, by: Person, **fields: Any) -> list[str]:
    """Change the follow-up details; the timeline gets an entry naming what changed."""
    changed = [name for name, value in fields.items() if getattr(incident, name) != value]
    for name in changed:
        setattr(incident, name, fields[name])
    if changed:
        session.add(IncidentAction(social_incident_id=incident.id, actor_id=by.id,
                                   text="Follow-up updated: " + ", ".join(n.replace("_", " ") for n in changed) + "."))
        session.flush()
        audit.record("incident.social_updated", actor=by, target=incident, fields=changed)
    return changed


def add_action(incident: ContactIncident | SocialMediaIncident, *, by: Person, text: str,
               close: bool = False) -> IncidentAction:
    """Append an entry to the incident's timeline (and close the incident if asked)."""
    action = IncidentAction(actor_id=by.id, text=text)
    if isinstance(incident, ContactIncident):
        action.contact_incident_id = incident.id
    else:
        action.social_incident_id = incident.id
    session.add(action)
    if close and incident.closed_at is None:
        incident.closed_at = utcnow()
    session.flush()
    audit.record("incident.action_added", actor=by, target=incident, action_id=action.id, closed=bool(close))
    return action


def notify(incident: ContactIncident | SocialMediaIncident) -> bool:
    """Email the person the incident is routed to (no details). False if it could not be sent."""
    person = recipient(incident.routed_to)
    if person is None or not person.email:
        return False
    endpoint = "portal.incidents.contact" if isinstance(incident, ContactIncident) else "portal.incidents.social"
    url = mail_link(endpoint, incident_id=incident.id)
    # In the reader's language (their choice, else the school's).
    with in_language(language_of(person)):
        if isinstance(incident, ContactIncident):
            what = (_("A contact incident has been recorded in the school portal (reference %(ref)s).",
                      ref=incident.reference) if incident.routed_to == "head"
                    else _("A contact incident that may be a safeguarding matter has been recorded in the school "
                           "portal (reference %(ref)s).", ref=incident.reference))
        elif incident.prevent_flag:
            what = _("A social-media incident flagged for Prevent has been recorded in the school portal "
                     "(reference %(ref)s).", ref=incident.reference)
        else:
            what = _("A social-media incident has been recorded in the school portal (reference %(ref)s).",
                     ref=incident.reference)
        body = (what + "\n\n" + _("Please sign in to read it:") + f"\n{url}\n\n"
                + _("This message contains no details on purpose.") + "\n")
        subject = _("New incident %(ref)s to look at", ref=incident.reference)
    try:
        send_mail(person.email, subject, body)
    except MailError:
        return False
    return True


def can_manage(person: Person) -> bool:
    return has_capability(person, "incidents.manage")


def visible_contact(person: Person) -> Select[ContactIncident]:
    """The contact incidents *person* may see: open ones first, then the newest."""
    stmt = select(ContactIncident).order_by(ContactIncident.closed_at.is_not(None),
                                            ContactIncident.created_at.desc(), ContactIncident.id.desc())
    if not can_manage(person):
        stmt = stmt.where(ContactIncident.recorded_by_id == person.id)
    # Nobody reads an incident about their own conduct.
    return stmt.where(ContactIncident.adult_id != person.id)


def visible_social(person: Person) -> Select[SocialMediaIncident]:
    """The social-media incidents *person* may see: open ones first, then the newest."""
    stmt = select(SocialMediaIncident).order_by(SocialMediaIncident.closed_at.is_not(None),
                                                SocialMediaIncident.created_at.desc(), SocialMediaIncident.id.desc())
    if not can_manage(person):
        stmt = stmt.where(SocialMediaIncident.recorded_by_id == person.id)
    return stmt


def open_count(person: Person) -> int:
    """How many incidents *person* may see are still open (one statement)."""
    contact = visible_contact(person).where(ContactIncident.closed_at.is_(None)).order_by(None)
    social = visible_social(person).where(SocialMediaIncident.closed_at.is_(None)).order_by(None)
    return int(session.scalar(select(
        select(func.count()).select_from(contact.subquery()).scalar_subquery()
        + select(func.count()).select_from(social.subquery()).scalar_subquery())) or 0)
