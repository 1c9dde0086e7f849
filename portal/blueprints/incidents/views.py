"""Incident views.

Recorders (``incidents.record``) see only what they recorded; the Head Teacher, the DSL and
holders of ``incidents.manage`` see every incident and add to its timeline. Anyone else gets
403, and an incident someone may not see is a 404.
"""
from __future__ import annotations

from typing import cast

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import audit
from portal.auth import throttle
from portal.blueprints.incidents import bp
from portal.blueprints.incidents.forms import (
    ActionForm,
    ContactIncidentForm,
    SocialFollowUpForm,
    SocialIncidentForm,
)
from portal.db import session
from portal.ids import row_id
from portal.incidents import operations as ops
from portal.incidents.models import ROUTES, ContactIncident, SocialMediaIncident
from portal.links.operations import covering_link, school_adults, search_pupils
from portal.paging import paginate
from portal.people.models import ADULT_ROLES, Person
from portal.schools.models import School
from portal.security import access, has_capability

RECORD = ["incidents.record"]
SEE = ["incidents.record", "incidents.manage"]
MANAGE = ["incidents.manage"]


#: Incidents per page of each list (open ones come first).
INCIDENTS_PER_PAGE = 25


@bp.get("/")
@access(capabilities=SEE)
def home():
    # Two lists on one page, each a page at a time; each list's links keep the other's page.
    contact = paginate(ops.visible_contact(current_user), INCIDENTS_PER_PAGE, param="contact_page",
                       keep=("social_page",))
    social = paginate(ops.visible_social(current_user), INCIDENTS_PER_PAGE, param="social_page",
                      keep=("contact_page",))
    return render_template("portal/incidents/home.html", contact=contact, social=social,
                           manager=ops.can_manage(current_user),
                           can_record=has_capability(current_user, "incidents.record"), routes=ROUTES)


def _sent_flash(sent: bool, route: str) -> None:
    who = _(ROUTES[route])
    if sent:
        flash(_("Recorded. The %(who)s has been told by email.", who=who), "success")
    else:
        flash(_("Recorded, but the email to the %(who)s could not be sent. Please tell them directly.", who=who),
              "warning")


def _contact_form() -> tuple[ContactIncidentForm, str, list]:
    form = ContactIncidentForm()
    q = (form.q.data or request.args.get("q", "")).strip()[:100]
    form.q.data = q
    results = search_pupils(q)
    form.pupil_id.choices = [(p.id, f"{p.full_name} ({cls})") for p, cls in results]
    form.adult_id.choices = [(0, _("Choose…"))] + [(a.id, a.full_name) for a in school_adults()]
    return form, q, results


def _can_check_links() -> bool:
    """Only holders of ``links.view`` (who may read the whole register anyway) are told, before
    saving, whether an approved link covers a pair; other recorders learn it once the incident is
    recorded (and the Head Teacher or DSL sees it with the incident)."""
    return has_capability(current_user, "links.view")


@bp.route("/contact/new", methods=["GET", "POST"])
@access(capabilities=RECORD)
def new_contact():
    form, q, results = _contact_form()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            incident = ops.record_contact(
                by=current_user, pupil=session.get(Person, form.pupil_id.data),
                adult=session.get(Person, form.adult_id.data), kind=form.kind.data,
                direction=form.direction.data, platform=form.platform.data or "",
                occurred_on=form.occurred_on.data, summary=form.summary.data)
            session.commit()
            _sent_flash(ops.notify(incident), incident.routed_to)
            if incident.covered_by_link:
                flash(_("A family link the Head Teacher approved covers this pupil and this adult. "
                        "The %(who)s sees this with the incident.", who=_(ROUTES[incident.routed_to])), "info")
            return redirect(url_for(".contact", incident_id=incident.id))
        status = 400
    can_check = _can_check_links()
    covered = None
    if can_check and form.pupil_id.data and form.adult_id.data:
        covered = covering_link(form.pupil_id.data, form.adult_id.data) is not None
    return render_template("portal/incidents/new_contact.html", form=form, q=q, results=results,
                           covered=covered, can_check=can_check), status


@bp.get("/link-check")
@access(capabilities=["links.view"])
def link_check():
    """Does an approved family link cover this pupil and adult? (yes or no, nothing more).

    For holders of ``links.view`` only; limited per person (``PORTAL_LINK_CHECK_MAX`` in
    ``PORTAL_LINK_CHECK_WINDOW_SECONDS``) and every answer is audited.
    """
    key = f"linkcheck:{current_user.school_id}:{current_user.id}"
    cfg = current_app.config
    if throttle.count(key, cfg["PORTAL_LINK_CHECK_WINDOW_SECONDS"]) >= cfg["PORTAL_LINK_CHECK_MAX"]:
        audit.record("incidents.link_check_limited", actor=current_user)
        session.commit()
        return jsonify(error=_("Too many checks. Try again later.")), 429
    pupil = session.get(Person, request.args.get("pupil_id", type=row_id) or 0)
    adult = session.get(Person, request.args.get("adult_id", type=row_id) or 0)
    if pupil is None or pupil.pupil is None or adult is None or not (adult.role_set & ADULT_ROLES):
        abort(404)
    throttle.note(key)
    covered = covering_link(pupil.id, adult.id) is not None
    audit.record("incidents.link_checked", actor=current_user, pupil_id=pupil.id, adult_id=adult.id,
                 covered=covered)
    session.commit()
    return jsonify(covered=covered, message=_covered_message(covered))


def _covered_message(covered: bool) -> str:
    if covered:
        return _("An approved family link covers this pupil and this adult.")
    return _("No approved family link covers this pupil and this adult.")


@bp.route("/social/new", methods=["GET", "POST"])
@access(capabilities=RECORD)
def new_social():
    form = SocialIncidentForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            incident = ops.record_social(
                by=current_user, prevent_flag=bool(form.prevent_flag.data), author_type=form.author_type.data,
                author_description=form.author_description.data, platform=form.platform.data,
                posted_on=form.posted_on.data, seen_on=form.seen_on.data, summary=form.summary.data,
                **form.follow_up())
            session.commit()
            _sent_flash(ops.notify(incident), incident.routed_to)
            return redirect(url_for(".social", incident_id=incident.id))
        status = 400
    settings = School.get()
    return render_template("portal/incidents/new_social.html", form=form,
                           helpline=settings.helpline_contact if settings else ""), status


def _visible_or_404(model, incident_id: int):
    incident = session.get(model, incident_id)
    if incident is None:
        abort(404)
    if not ops.can_manage(current_user) and incident.recorded_by_id != current_user.id:
        abort(404)
    if getattr(incident, "adult_id", None) == current_user.id:
        abort(404)  # nobody reads an incident about their own conduct
    return incident


@bp.get("/contact/<portal_id:incident_id>")
@access(capabilities=SEE)
def contact(incident_id: int):
    incident = _visible_or_404(ContactIncident, incident_id)
    return render_template("portal/incidents/contact.html", incident=incident, routes=ROUTES,
                           manager=ops.can_manage(current_user), action_form=ActionForm())


@bp.get("/social/<portal_id:incident_id>")
@access(capabilities=SEE)
def social(incident_id: int):
    incident = _visible_or_404(SocialMediaIncident, incident_id)
    manager = ops.can_manage(current_user)
    settings = School.get()
    return render_template("portal/incidents/social.html", incident=incident, routes=ROUTES, manager=manager,
                           action_form=ActionForm(),
                           follow_form=SocialFollowUpForm(obj=incident, incident=incident) if manager else None,
                           helpline=settings.helpline_contact if settings else "")


@bp.post("/social/<portal_id:incident_id>/follow-up")
@access(capabilities=MANAGE)
def follow_up(incident_id: int):
    incident = _visible_or_404(SocialMediaIncident, incident_id)
    form = SocialFollowUpForm(incident=incident)
    if form.validate_on_submit():
        changed = ops.update_social(incident, by=current_user, **form.follow_up())
        session.commit()
        flash(_("Follow-up saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for(".social", incident_id=incident.id))
    settings = School.get()
    return render_template("portal/incidents/social.html", incident=incident, routes=ROUTES, manager=True,
                           action_form=ActionForm(formdata=None), follow_form=form,
                           helpline=settings.helpline_contact if settings else ""), 400


@bp.post("/<kind>/<portal_id:incident_id>/actions")
@access(capabilities=MANAGE)
def add_action(kind: str, incident_id: int):
    model = {"contact": ContactIncident, "social": SocialMediaIncident}.get(kind)
    if model is None:
        abort(404)
    incident = _visible_or_404(model, incident_id)
    form = ActionForm()
    if form.validate_on_submit():
        ops.add_action(incident, by=current_user, text=cast(str, form.text.data), close=bool(form.close.data))
        session.commit()
        flash(_("Added to the timeline."), "success")
        return redirect(url_for(f".{kind}", incident_id=incident.id))
    template = "portal/incidents/contact.html" if kind == "contact" else "portal/incidents/social.html"
    settings = School.get()
    extra = {}
    if kind == "social":
        extra = {"follow_form": SocialFollowUpForm(obj=incident, incident=incident, formdata=None),
                 "helpline": settings.helpline_contact if settings else ""}
    return render_template(template, incident=incident, routes=ROUTES, manager=True, action_form=form,
                           **extra), 400
