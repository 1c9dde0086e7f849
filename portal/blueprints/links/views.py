"""Family-link views.

Privacy: the declaring adult sees only their own declarations and decisions. School staff
choose a pupil from a search that shows name and class only (at least two characters, a
short list); governors, volunteers and contractors never see pupil lists and type the name
and class, which the Head Teacher matches. The register is for ``links.view``/``links.approve``.
"""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import audit
from portal.blueprints.links import bp
from portal.blueprints.links.forms import (
    ConfirmForm,
    DecisionForm,
    RelativeForm,
    SearchDeclareForm,
    TypedDeclareForm,
)
from portal.db import session
from portal.links import operations as ops
from portal.links import tasks as _tasks  # noqa: F401  (registers the home-page tasks)
from portal.links.models import FamilyLinkDeclaration, LinkSource, LinkStatus
from portal.links.notifications import tell_declarer
from portal.paging import paginate
from portal.people.models import ADULT_ROLES, Person, Role, academic_year_label
from portal.security import access, children_of, has_capability
from portal.validators import add_error, choice_values


def _declare_form():
    """The declaration form that suits the signed-in adult, with pupil choices from ``q``."""
    if ops.searches_pupils(current_user):
        form = SearchDeclareForm()
        q = (form.q.data or request.args.get("q", "")).strip()[:100]
        form.q.data = q
        results = ops.search_pupils(q)
        form.pupil_id.choices = [(p.id, f"{p.full_name} ({cls})") for p, cls in results]
        return form, q, results
    return TypedDeclareForm(), "", []


def _render_mine(form, q, results, confirm_form=None, status=200):
    year = ops.current_academic_year()
    declarations = ops.own_declarations(current_user)
    own = [d for d in declarations if d.source == LinkSource.ADULT.value]
    return render_template(
        "portal/links/mine.html", form=form, q=q, results=results, declarations=own,
        confirm_form=confirm_form or ConfirmForm(), year_label=academic_year_label(year),
        answered=ops.adult_has_answered(current_user, year), searches=ops.searches_pupils(current_user),
    ), status


@bp.get("/")
@access(roles=ADULT_ROLES)
def mine():
    form, q, results = _declare_form()
    return _render_mine(form, q, results)


@bp.post("/declare")
@access(roles=ADULT_ROLES)
def declare():
    form, q, results = _declare_form()
    if not form.validate_on_submit() or not _not_already_declared(form):
        return _render_mine(form, q, results, status=400)
    if isinstance(form, SearchDeclareForm):
        pupil = session.get(Person, form.pupil_id.data)
        ops.declare(declared_by=current_user, source=LinkSource.ADULT, adult=current_user, pupil=pupil,
                    relationship=form.relationship.data, note=form.note.data or "")
    else:
        ops.declare(declared_by=current_user, source=LinkSource.ADULT, adult=current_user,
                    typed_pupil_name=form.pupil_name.data, typed_pupil_class=form.pupil_class.data,
                    relationship=form.relationship.data, note=form.note.data or "")
    session.commit()
    flash(_("Thank you. Your declaration has been sent to the Head Teacher."), "success")
    return redirect(url_for(".mine"))


def _not_already_declared(form) -> bool:
    """A staff member cannot declare the same pupil twice (unless it was declined)."""
    if not isinstance(form, SearchDeclareForm):
        return True
    if ops.existing_declaration(current_user.id, form.pupil_id.data) is None:
        return True
    add_error(form.pupil_id, _("You have already declared a link with this pupil."))
    return False


@bp.post("/confirm")
@access(roles=ADULT_ROLES)
def confirm():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    own = [d for d in ops.own_declarations(current_user) if d.source == LinkSource.ADULT.value
           and d.status != LinkStatus.DECLINED.value]
    ops.confirm(current_user, context="adult", has_links=bool(own))
    session.commit()
    flash(_("Thank you. Your answer for this academic year is recorded."), "success")
    return redirect(url_for(".mine"))


def _relative_form() -> RelativeForm:
    form = RelativeForm()
    form.pupil_id.choices = [(0, _("Choose…"))] + [(c.id, c.full_name) for c in children_of(current_user)]
    form.adult_id.choices = [(0, _("Choose…"))] + [
        (a.id, a.full_name) for a in ops.school_adults(staff_and_governors_only=True) if a.id != current_user.id]
    return form


@bp.route("/relative", methods=["GET", "POST"])
@access(roles=[Role.PARENT])
def relative():
    form = _relative_form()
    if request.method == "POST":
        valid = form.validate_on_submit()
        if valid and form.answer.data == "yes" and ops.parent_already_told(
                current_user, form.pupil_id.data, form.adult_id.data or None, form.adult_name.data):
            # Sent twice (a second tap, the back button): the school already has it.
            add_error(form.pupil_id, _("You have already told us about this relative of this child. The Head "
                                       "Teacher will look at it."))
            valid = False
        if valid:
            if form.answer.data == "no":
                ops.confirm(current_user, context="parent", has_links=False)
                flash(_("Thank you. You can tell us later if this changes."), "success")
            else:
                adult = session.get(Person, form.adult_id.data) if form.adult_id.data else None
                ops.declare(declared_by=current_user, source=LinkSource.PARENT, adult=adult,
                            pupil=session.get(Person, form.pupil_id.data),
                            typed_adult_name=form.adult_name.data or None,
                            relationship=form.relationship.data, note=form.note.data or "")
                flash(_("Thank you. The Head Teacher will look at what you told us."), "success")
            session.commit()
            return redirect(url_for(".relative"))
        status = 400
    else:
        status = 200
    own = [d for d in ops.own_declarations(current_user) if d.source == LinkSource.PARENT.value]
    return render_template("portal/links/relative.html", form=form, declarations=own,
                           answered=ops.parent_has_answered(current_user)), status


#: Approved links per page of the register (the CSV has them all).
REGISTER_PER_PAGE = 50


@bp.get("/register")
@access(capabilities=["links.view", "links.approve"])
def register():
    can_approve = has_capability(current_user, "links.approve")
    links = paginate(ops.approved_links_query(), REGISTER_PER_PAGE)
    confirmed = ops.last_confirmed_years(d.adult_id for d in links.items)
    return render_template("portal/links/register.html", links=links,
                           pending=ops.pending_declarations() if can_approve else [],
                           declined=ops.recently_declined() if can_approve else [],
                           can_approve=can_approve, last_confirmed=confirmed.get,
                           academic_year_label=academic_year_label)


@bp.get("/register.csv")
@access(capabilities=["links.view", "links.approve"])
def export():
    links = ops.approved_links(with_roles=True)
    body = ops.register_csv(links)
    audit.record("links.exported", actor=current_user, rows=len(links))
    session.commit()
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=family-links-register.csv",
        "Cache-Control": "no-store",
    })


def _decision_form(decl: FamilyLinkDeclaration) -> DecisionForm:
    form = DecisionForm()
    choices = []
    for p, cls in ops.match_candidates(decl):
        label = f"{p.full_name} ({cls})"
        if ops.year_differs(decl, p):
            label += " – " + _("not the year group typed")
        choices.append((p.id, label))
    form.pupil_id.choices = [(0, _("Choose…")), *choices]
    form.adult_id.choices = [(0, _("Choose…"))] + [(a.id, a.full_name) for a in ops.school_adults()] \
        if decl.adult_id is None else [(0, "")]
    return form


@bp.route("/declarations/<portal_id:decl_id>", methods=["GET", "POST"])
@access(capabilities=["links.approve"])
def review(decl_id: int):
    decl = session.get(FamilyLinkDeclaration, decl_id)
    if decl is None:
        abort(404)
    form = _decision_form(decl)
    status = 200
    if request.method == "POST":
        if decl.status != LinkStatus.PENDING.value:
            flash(_("This declaration has already been decided."), "warning")
            return redirect(url_for(".review", decl_id=decl.id))
        if current_user.id in (decl.adult_id, decl.declared_by_id):
            flash(_("You cannot decide on a declaration about yourself; another approver must."), "warning")
            return redirect(url_for(".review", decl_id=decl.id))
        if form.validate_on_submit() and form.adult_id.data == current_user.id:
            form.adult_id.errors = list(form.adult_id.errors) + [
                _("You cannot decide on a link about yourself; another approver must.")]
        elif form.validate_on_submit() and _check_matches(form, decl):
            approve = form.decision.data == "approve"
            try:
                ops.decide(decl, by=current_user, approve=approve, reason=form.reason.data or "",
                           pupil=session.get(Person, form.pupil_id.data) if form.pupil_id.data else None,
                           adult=session.get(Person, form.adult_id.data) if form.adult_id.data else None)
            except ValueError:  # decided by someone else a moment ago
                session.rollback()
                flash(_("This declaration has already been decided."), "warning")
                return redirect(url_for(".review", decl_id=decl_id))
            session.commit()
            # Walk finding: "Decision recorded." named nothing, and the declarer was not told until they signed in.
            told = tell_declarer(decl)
            names = {"adult": decl.adult.full_name if decl.adult else decl.typed_adult_name or "?",
                     "pupil": decl.pupil.full_name if decl.pupil else decl.typed_pupil_name or "?"}
            said = (_("Approved: the family link between %(adult)s and %(pupil)s.", **names) if approve
                    else _("Declined: the family link between %(adult)s and %(pupil)s.", **names))
            if told:
                said += " " + _("%(name)s is told by email to sign in and see it.", name=decl.declared_by.full_name)
            flash(said, "success")
            return redirect(url_for(".register"))
        status = 400
    return render_template("portal/links/review.html", decl=decl, form=form,
                           academic_year_label=academic_year_label), status


def _check_matches(form: DecisionForm, decl: FamilyLinkDeclaration) -> bool:
    ok = True
    pupil_choices = choice_values(form.pupil_id)
    adult_choices = choice_values(form.adult_id)
    if form.pupil_id.data and form.pupil_id.data not in pupil_choices:
        add_error(form.pupil_id, _("Choose a pupil from the list."))
        ok = False
    if form.adult_id.data and form.adult_id.data not in adult_choices:
        add_error(form.adult_id, _("Choose an adult from the list."))
        ok = False
    pupil_id, adult_id = decl.pupil_id or form.pupil_id.data, decl.adult_id or form.adult_id.data
    if ok and pupil_id and adult_id and (decl.pupil_id is None or decl.adult_id is None):
        other = ops.existing_declaration(adult_id, pupil_id)
        if other is not None and other.id != decl.id:
            field = form.adult_id if decl.adult_id is None else form.pupil_id
            add_error(field, _("This adult already has a declaration with this pupil (number %(number)s). "
                               "Decline this one as a duplicate.", number=other.id))
            ok = False
    if form.decision.data == "approve":
        if decl.pupil_id is None and not form.pupil_id.data:
            add_error(form.pupil_id, _("Match the pupil before approving (or decline with a reason)."))
            ok = False
        if decl.adult_id is None and not form.adult_id.data:
            add_error(form.adult_id, _("Match the adult before approving (or decline with a reason)."))
            ok = False
    return ok



