"""Data protection views. Thin: check access, parse the form, call one operation, commit once.

Who opens what:

* the retention schedule, leavers and subject access requests: ``dataprotection.manage`` (the Head
  Teacher, or staff the Head delegates it to); the DSL (``concerns.safeguarding``) decides whether a
  request includes safeguarding records;
* legal holds: ``dataprotection.hold`` (the Head Teacher, the DSL and deputies), and trust
  administrators and trust safeguarding leads from the trust's page;
* reviews: the role the rule names (the Head's, the DSL's, or the chair's for records about the Head);
* allegations: their case manager only (the Head, or the chair when about the Head); low-level
  concerns: the Head and the DSL (see :mod:`portal.dataprotection.allegations`);
* transfer packs: the DSL and deputies;
* the privacy notice: anyone; editing it: ``settings.manage`` or ``dataprotection.manage``.
"""
from __future__ import annotations

import datetime as dt
import io
from typing import Any, cast

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from portal import audit
from portal.blueprints.dataprotection import bp
from portal.blueprints.dataprotection.forms import (
    ButtonForm,
    HoldForm,
    HoldReleaseForm,
    HoldReviewForm,
    LadoForm,
    LeaverForm,
    MarkForm,
    NotesForm,
    OutcomeForm,
    PrivacyForm,
    ReceiptForm,
    ReviewDecisionForm,
    RuleForm,
    SarForm,
    SarReleaseForm,
    SarReviewedForm,
    SarSafeguardingForm,
    TransferForm,
    TrustHoldForm,
)
from portal.concerns.models import Concern
from portal.concerns.schooldays import uk_today
from portal.dataprotection import allegations as alleg
from portal.dataprotection import holds as hold_ops
from portal.dataprotection import privacy, sar, transfer
from portal.dataprotection import tasks as _tasks  # noqa: F401  (registers the home-page task provider)
from portal.dataprotection.models import (
    Departure,
    LegalHold,
    RetentionReview,
    StaffAllegation,
    SubjectAccessRequest,
    TransferPack,
)
from portal.dataprotection.operations import DataProtectionError, decide_review, record_departure, undo_departure
from portal.dataprotection.retention import dispose_files, summary_text
from portal.dataprotection.rules import (
    RuleError,
    confirm_rule,
    effective_rules,
    period_text,
    reset_rule,
    set_rule,
    unconfirmed,
)
from portal.dataprotection.schedule import BY_KEY, GROUPS, N_, REVIEW_ROLES
from portal.db import session
from portal.i18n import format_date
from portal.incidents.models import ContactIncident
from portal.people.models import GuardianLink, Person, PersonRole, Role
from portal.people.search import folded_length, search_words, words_match
from portal.schools.models import School, TrustRole
from portal.security import access, capabilities_of, designations

MANAGE = "dataprotection.manage"
HOLD = "dataprotection.hold"
SAFEGUARDING = "concerns.safeguarding"


def _caps() -> frozenset[str]:
    return capabilities_of(current_user)


def _held() -> set[str]:
    return designations(current_user)


def _people_choices(*, pupils_only: bool = False, among: Select[int] | None = None,
                    limit: int | None = None) -> list[tuple[int, str]]:
    """Everyone in the school (or every pupil; or only the ids *among* selects, at most *limit*) as
    (id, "Name (roles)"), by family name.

    Plain rows in two statements, each role's words and the label's pattern translated once (as ORM
    objects, with a translation per person, the whole roll took about 0.1 ms a person: 0.7 s at 3,000 pupils)."""
    stmt = select(Person.id, Person.given_name, Person.family_name).order_by(
        Person.family_name, Person.given_name, Person.id).limit(limit)
    if pupils_only:
        stmt = stmt.where(Person.id.in_(select(PersonRole.person_id).where(PersonRole.role == Role.PUPIL.value)))
    if among is not None:
        stmt = stmt.where(Person.id.in_(among))
    rows = session.execute(stmt).all()
    words = {r.value: _(r.label) for r in Role}
    roles: dict[int, list[str]] = {}
    for person_id, role in session.execute(select(PersonRole.person_id, PersonRole.role)
                                           .where(PersonRole.person_id.in_([r.id for r in rows]))):
        roles.setdefault(person_id, []).append(words.get(role, role))
    pattern, no_role = _("%(name)s (%(roles)s)"), _("no role")
    return [(pid, pattern % {"name": f"{given} {family}",
                             "roles": ", ".join(sorted(roles.get(pid, []))) or no_role})
            for pid, given, family in rows]


#: The fewest letters the "find the person" box takes, and the most people it offers to choose from.
PERSON_SEARCH_MIN = 2
PERSON_SEARCH_LIMIT = 25


def _person_search(*, pupils_only: bool = False) -> tuple[str, list[tuple[int, str]]]:
    """What was typed in the page's "find" box (``q``: in the address, or carried back by the posted
    form so that the choice is checked against the same results) and the people it finds, as choices:
    each typed word in their given or family name. A page never lists the whole roll."""
    q = (request.values.get("q") or "").strip()[:100]
    words = search_words(q)
    if folded_length(words) < PERSON_SEARCH_MIN:
        return q, []
    return q, _people_choices(pupils_only=pupils_only, among=select(Person.id).where(words_match(words)),
                              limit=PERSON_SEARCH_LIMIT)


def _error(form, field: str, message: str) -> None:
    getattr(form, field).errors = list(getattr(form, field).errors) + [message]


# ------------------------------------------------------------------ home


@bp.get("/")
@access(roles=[Role.GOVERNOR], capabilities=[MANAGE, HOLD, SAFEGUARDING])
def home():
    caps, held = _caps(), _held()
    if not (caps & {MANAGE, HOLD, SAFEGUARDING}) and "chair_of_governors" not in held:
        abort(403)
    rules = effective_rules() if MANAGE in caps else {}
    today = uk_today()
    reviews = [r for r in _open_reviews() if _review_visible(r)]
    sars = session.scalars(select(SubjectAccessRequest).where(SubjectAccessRequest.released_at.is_(None))
                           .order_by(SubjectAccessRequest.due_on)).all() if caps & {MANAGE, SAFEGUARDING} else []
    holds_due = [h for h in hold_ops.holds(active_only=True) if h.review_on <= today] if HOLD in caps else []
    packs = session.scalars(select(TransferPack).where(TransferPack.received_on.is_(None))
                            .order_by(TransferPack.due_on)).all() if SAFEGUARDING in caps else []
    return render_template("portal/dataprotection/home.html", caps=caps, held=held, to_confirm=unconfirmed(rules),
                           reviews=reviews, sars=sars, holds_due=holds_due, packs=packs, today=today,
                           sar_overdue=sar.overdue, pack_overdue=transfer.overdue,
                           allegations=alleg.may_open_log(current_user))


# ------------------------------------------------------------------ retention schedule


@bp.get("/retention")
@access(capabilities=[MANAGE])
def schedule():
    rules = effective_rules()
    return render_template("portal/dataprotection/schedule.html", rules=rules, groups=GROUPS, roles=REVIEW_ROLES,
                           confirm_form=ButtonForm(), school=School.get())


def _rule_form(key: str):
    default = BY_KEY.get(key)
    if default is None or default.installation:
        abort(404)
    rule = effective_rules()[key]
    form = RuleForm(data={"period": rule.period, "unit": rule.unit, "action": rule.action,
                          "review_role": rule.review_role or "head"} if request.method == "GET" else None)
    form.action.choices = [(a.value, _(a.label)) for a in default.actions]
    return default, rule, form


@bp.route("/retention/<key>", methods=["GET", "POST"])
@access(capabilities=[MANAGE])
def rule(key: str):
    default, current, form = _rule_form(key)
    if form.validate_on_submit():
        try:
            set_rule(key, period=form.period.data, unit=form.unit.data, action=form.action.data,
                     review_role=form.review_role.data, actor=current_user)
        except RuleError as exc:
            session.rollback()
            _error(form, "period", _(str(exc)))
        else:
            session.commit()
            flash(_("Saved: %(rule)s.", rule=_(default.label)), "success")
            return redirect(url_for(".schedule"))
    status = 400 if form.errors else 200
    return render_template("portal/dataprotection/rule.html", default=default, rule=current, form=form,
                           reset_form=ButtonForm(), roles=REVIEW_ROLES, period_text=period_text), status


@bp.post("/retention/<key>/confirm")
@access(capabilities=[MANAGE])
def confirm(key: str):
    if key not in BY_KEY or BY_KEY[key].installation:
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    confirm_rule(key, actor=current_user)
    session.commit()
    flash(_("Confirmed: %(rule)s.", rule=_(BY_KEY[key].label)), "success")
    return redirect(url_for(".schedule"))


@bp.post("/retention/<key>/reset")
@access(capabilities=[MANAGE])
def reset(key: str):
    if key not in BY_KEY or BY_KEY[key].installation:
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    reset_rule(key, actor=current_user)
    session.commit()
    flash(_("%(rule)s: back to the default.", rule=_(BY_KEY[key].label)), "success")
    return redirect(url_for(".schedule"))


# ------------------------------------------------------------------ reviews


def _open_reviews() -> list[RetentionReview]:
    return list(session.scalars(select(RetentionReview).where(RetentionReview.decision.is_(None))
                                .order_by(RetentionReview.due_on, RetentionReview.id)))


def _review_visible(review: RetentionReview) -> bool:
    if review.about_person_id is not None and review.about_person_id == current_user.id:
        return False
    held, caps = _held(), _caps()
    if review.review_role == "chair":
        return "chair_of_governors" in held
    if review.review_role == "dsl":
        return SAFEGUARDING in caps
    if review.record_type in ("allegations", "low_level_concerns"):
        return "head_teacher" in held
    return MANAGE in caps


@bp.get("/reviews")
@access(roles=[Role.GOVERNOR], capabilities=[MANAGE, SAFEGUARDING])
def reviews():
    if not (_caps() & {MANAGE, SAFEGUARDING}) and "chair_of_governors" not in _held():
        abort(403)
    rows = [r for r in _open_reviews() if _review_visible(r)]
    return render_template("portal/dataprotection/reviews.html", reviews=rows, form=ReviewDecisionForm(),
                           labels={k: _(d.label) for k, d in BY_KEY.items()},
                           roles={**REVIEW_ROLES, "chair": N_("Chair of governors")}, summary_text=summary_text)


@bp.post("/reviews/<portal_id:review_id>")
@access(roles=[Role.GOVERNOR], capabilities=[MANAGE, SAFEGUARDING])
def decide(review_id: int):
    review = session.get(RetentionReview, review_id)
    if review is None or review.decision is not None or not _review_visible(review):
        abort(404)
    form = ReviewDecisionForm()
    if not form.validate_on_submit():
        flash(_("Choose to keep the record or to dispose of it."), "danger")
        return redirect(url_for(".reviews"))
    try:
        removal = decide_review(review, actor=current_user, decision=form.decision.data,
                                keep_until=form.keep_until.data, reason=form.reason.data or "")
    except DataProtectionError as exc:
        session.rollback()
        flash(_(str(exc)), "danger")
        return redirect(url_for(".reviews"))
    session.commit()
    if removal is not None:
        dispose_files(removal)
        flash(_("%(record)s: disposed of.", record=summary_text(review.summary)), "success")
    else:
        flash(_("%(record)s: kept until %(day)s.", record=summary_text(review.summary),
                day=format_date(review.keep_until, "long")), "success")
    return redirect(url_for(".reviews"))


# ------------------------------------------------------------------ legal holds


@bp.route("/holds", methods=["GET", "POST"])
@access(capabilities=[HOLD])
def holds():
    form = HoldForm()
    if form.validate_on_submit():
        try:
            target_id = hold_ops.resolve(form.kind.data, form.target.data)
            hold_ops.place_hold(form.kind.data, target_id, form.reason.data, actor=current_user,
                                review_on=form.review_on.data)
        except hold_ops.HoldError as exc:
            session.rollback()
            _error(form, exc.field or _hold_field(str(exc)), _(str(exc)))
        else:
            session.commit()
            flash(_("The hold is in place: nothing it covers will be disposed of."), "success")
            return redirect(url_for(".holds"))
    return render_template("portal/dataprotection/holds.html", form=form, holds=hold_ops.holds(),
                           describe=hold_ops.describe, review_form=HoldReviewForm(),
                           release_form=HoldReleaseForm(), today=uk_today()), (400 if form.errors else 200)


def _hold_field(message: str) -> str:
    """The form field a hold error belongs to."""
    lowered = message.lower()
    if "reason" in lowered:
        return "reason"
    if "review the hold" in lowered:
        return "review_on"
    return "target"


def _hold_or_404(hold_id: int) -> LegalHold:
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        abort(404)
    return hold


@bp.post("/holds/<portal_id:hold_id>/review")
@access(capabilities=[HOLD])
def review_hold(hold_id: int):
    hold = _hold_or_404(hold_id)
    form = HoldReviewForm()
    if not form.validate_on_submit():
        flash(_("Give a valid date for the next review."), "danger")
        return redirect(url_for(".holds"))
    try:
        hold_ops.review_hold(hold, actor=current_user, next_review_on=form.next_review_on.data)
    except hold_ops.HoldError as exc:
        session.rollback()
        flash(_(str(exc)), "danger")
        return redirect(url_for(".holds"))
    session.commit()
    flash(_("Hold kept; look at it again on %(day)s.", day=format_date(hold.review_on, "long")), "success")
    return redirect(url_for(".holds"))


@bp.post("/holds/<portal_id:hold_id>/release")
@access(capabilities=[HOLD])
def release_hold(hold_id: int):
    hold = _hold_or_404(hold_id)
    form = HoldReleaseForm()
    try:
        if not form.validate_on_submit():
            raise hold_ops.HoldError("Please try again.")
        hold_ops.release_hold(hold, form.release_reason.data, actor=current_user)
    except hold_ops.HoldError as exc:
        session.rollback()
        flash(_(str(exc)), "danger")
        return redirect(url_for(".holds"))
    session.commit()
    flash(_("Hold released: its records follow the retention schedule again."), "success")
    return redirect(url_for(".holds"))


# ------------------------------------------------------------------ leavers


@bp.route("/leavers", methods=["GET", "POST"])
@access(capabilities=[MANAGE, "roster.manage"])
def leavers():
    form = LeaverForm()
    q, found = _person_search()
    form.person_id.choices = [(0, _("Choose…"))] + found
    if form.validate_on_submit():
        person = session.get(Person, form.person_id.data) if form.person_id.data else None
        if person is None:
            _error(form, "person_id", _("Choose the person who left."))
        else:
            try:
                record_departure(person, form.left_on.data, actor=current_user, destination=form.destination.data)
            except DataProtectionError as exc:
                session.rollback()
                _error(form, "destination", _(str(exc)))
            else:
                session.commit()
                flash(_("Recorded: %(name)s left on %(day)s.", name=person.full_name,
                        day=format_date(form.left_on.data, "long")), "success")
                return redirect(url_for(".leavers"))
    rows = session.scalars(select(Departure).options(selectinload(Departure.person))
                           .order_by(Departure.left_on.desc(), Departure.id.desc())).all()
    return render_template("portal/dataprotection/leavers.html", form=form, rows=rows, undo_form=ButtonForm(),
                           q=q, found=found), (400 if form.errors else 200)


@bp.post("/leavers/<portal_id:person_id>/undo")
@access(capabilities=[MANAGE, "roster.manage"])
def undo_leaver(person_id: int):
    person = session.get(Person, person_id)
    if person is None or not ButtonForm().validate_on_submit():
        abort(404)
    try:
        undo_departure(person, actor=current_user)
    except DataProtectionError:
        abort(404)
    session.commit()
    flash(_("%(name)s is no longer recorded as having left.", name=person.full_name), "success")
    return redirect(url_for(".leavers"))


# ------------------------------------------------------------------ subject access requests


@bp.route("/requests", methods=["GET", "POST"])
@access(capabilities=[MANAGE, SAFEGUARDING])
def sars():
    form = SarForm() if MANAGE in _caps() else None
    q, found = _person_search()
    if form is not None:
        form.subject_id.choices = [(0, _("Choose…"))] + found
        # Who may ask: the person themselves, or a parent or carer of a child found (the rule sar.create_request
        # checks); never the whole roll.
        found_ids = [pid for pid, _label in found]
        parents = _people_choices(among=select(GuardianLink.parent_id).where(GuardianLink.pupil_id.in_(found_ids)),
                                  limit=PERSON_SEARCH_LIMIT) if found_ids else []
        form.requester_id.choices = [(0, _("The person themselves"))] + parents
        if request.method == "GET":
            form.received_on.data = uk_today()
    elif request.method == "POST":
        abort(403)
    if form is not None and form.validate_on_submit():
        subject = session.get(Person, form.subject_id.data) if form.subject_id.data else None
        requester = session.get(Person, form.requester_id.data) if form.requester_id.data else subject
        if subject is None:
            _error(form, "subject_id", _("Choose whose information is asked for."))
        else:
            try:
                req = sar.create_request(subject, requester, received_on=form.received_on.data, actor=current_user)
            except sar.SarError as exc:
                session.rollback()
                _error(form, "requester_id", _(str(exc)))
            else:
                session.commit()
                flash(_("Request %(ref)s recorded. It must be answered by %(day)s.", ref=req.reference,
                        day=format_date(req.due_on, "long")), "success")
                return redirect(url_for(".sar_detail", request_id=req.id))
    rows = session.scalars(select(SubjectAccessRequest).order_by(SubjectAccessRequest.released_at.is_not(None),
                                                                 SubjectAccessRequest.due_on)).all()
    return render_template("portal/dataprotection/sars.html", form=form, rows=rows, overdue=sar.overdue,
                           today=uk_today(), q=q, found=found), (400 if form is not None and form.errors else 200)


def _sar_or_404(request_id: int) -> SubjectAccessRequest:
    req = session.get(SubjectAccessRequest, request_id)
    if req is None:
        abort(404)
    return req


@bp.get("/requests/<portal_id:request_id>")
@access(capabilities=[MANAGE, SAFEGUARDING])
def sar_detail(request_id: int):
    req = _sar_or_404(request_id)
    found = sar.collect(req.subject, req.requester, include_safeguarding=req.include_safeguarding,
                        viewer=current_user)
    reviewed_form = SarReviewedForm()
    reviewed_form.redact.choices = _flagged_names(found)
    return render_template("portal/dataprotection/sar.html", req=req, found=found, caps=_caps(),
                           safeguarding_form=SarSafeguardingForm(include="yes" if req.include_safeguarding else "no"),
                           reviewed_form=reviewed_form, release_form=SarReleaseForm(), overdue=sar.overdue(req))


def _flagged_names(found) -> list[tuple[str, str]]:
    return [(n, n) for n in sorted({f["name"] for f in found.redaction})]


def _zip_response(data: bytes, req: SubjectAccessRequest):
    resp = send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                     download_name=f"{req.reference}.zip", max_age=0, etag=False, conditional=False)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/requests/<portal_id:request_id>/download")
@access(capabilities=[MANAGE, SAFEGUARDING])
def sar_download(request_id: int):
    """A working copy for the review (the released copy is made by "Release")."""
    req = _sar_or_404(request_id)
    data = sar.build_zip(req, viewer=current_user)
    audit.record("sar.downloaded", actor=current_user, target=req, size=len(data))
    session.commit()
    return _zip_response(data, req)


@bp.post("/requests/<portal_id:request_id>/safeguarding")
@access(capabilities=[SAFEGUARDING])
def sar_safeguarding(request_id: int):
    req = _sar_or_404(request_id)
    form = SarSafeguardingForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        sar.set_safeguarding(req, form.include.data == "yes", actor=current_user)
    except sar.SarError as exc:
        session.rollback()
        flash(_(str(exc)), "danger")
    else:
        session.commit()
        flash(_("Safeguarding records are now included.") if req.include_safeguarding
              else _("Safeguarding records are left out."), "success")
    return redirect(url_for(".sar_detail", request_id=req.id))


@bp.post("/requests/<portal_id:request_id>/reviewed")
@access(capabilities=[MANAGE])
def sar_reviewed(request_id: int):
    req = _sar_or_404(request_id)
    form = SarReviewedForm()
    form.redact.choices = _flagged_names(sar.collect(req.subject, req.requester,
                                                     include_safeguarding=req.include_safeguarding,
                                                     viewer=current_user))
    try:
        if not form.validate_on_submit():
            raise sar.SarError("Only names flagged for review can be redacted.")
        sar.mark_reviewed(req, actor=current_user, confirmed=bool(form.confirm.data), redact=form.redact.data or [])
    except sar.SarError as exc:
        session.rollback()
        flash(_(str(exc)), "danger")
    else:
        session.commit()
        flash(_("Marked as reviewed: the copy can be released."), "success")
    return redirect(url_for(".sar_detail", request_id=req.id))


@bp.post("/requests/<portal_id:request_id>/release")
@access(capabilities=[MANAGE])
def sar_release(request_id: int):
    req = _sar_or_404(request_id)
    form = SarReleaseForm()
    try:
        if not form.validate_on_submit():
            raise sar.SarError("Please try again.")
        data = sar.release(req, actor=current_user, method=form.method.data or "")
    except sar.SarError as exc:
        session.rollback()
        flash(_(str(exc)), "danger")
        return redirect(url_for(".sar_detail", request_id=req.id))
    session.commit()
    return _zip_response(data, req)


# ------------------------------------------------------------------ allegations against staff


@bp.get("/allegations")
@access(staff=True, roles=[Role.GOVERNOR])
def allegations():
    if not alleg.may_open_log(current_user):
        abort(403)
    return render_template("portal/dataprotection/allegations.html",
                           allegations=alleg.visible(current_user, "allegation"),
                           low_level=alleg.visible(current_user, "low_level"))


def _source_or_404(source: str, source_id: int) -> Concern | ContactIncident:
    model = {"concern": Concern, "contact": ContactIncident}.get(source)
    obj: Any = session.get(model, source_id) if model is not None else None
    if obj is None or not alleg.may_mark(current_user, obj):
        abort(404)
    return obj


@bp.route("/allegations/mark/<source>/<portal_id:source_id>", methods=["GET", "POST"])
@access(roles=[Role.GOVERNOR], capabilities=["concerns.review", SAFEGUARDING, "incidents.manage"])
def mark(source: str, source_id: int):
    obj = _source_or_404(source, source_id)
    done = alleg.existing(obj)
    form = MarkForm()
    if request.method == "GET" and form.reported_on.data is None:
        form.reported_on.data = uk_today()
    if done is None and form.validate_on_submit():
        try:
            allegation = alleg.mark(obj, form.kind.data, actor=current_user, reported_on=form.reported_on.data,
                                    notes=form.notes.data or "")
        except alleg.AllegationError as exc:
            session.rollback()
            _error(form, "kind", _(str(exc)))
        else:
            session.commit()
            sent = alleg.notify(allegation)
            if allegation.kind == "allegation":
                chair = allegation.case_manager == "chair"
                if sent:
                    text = (_("Marked as an allegation (%(ref)s). It goes to the chair of governors as case manager, "
                              "who has been told by email.", ref=allegation.reference) if chair
                            else _("Marked as an allegation (%(ref)s). It goes to the Head Teacher as case manager, "
                                   "who has been told by email.", ref=allegation.reference))
                else:
                    text = (_("Marked as an allegation (%(ref)s). It goes to the chair of governors as case "
                              "manager.", ref=allegation.reference) if chair
                            else _("Marked as an allegation (%(ref)s). It goes to the Head Teacher as case manager.",
                                   ref=allegation.reference))
                flash(text, "success")
            else:
                flash(_("Added to the low-level concerns log (%(ref)s).", ref=allegation.reference), "success")
            if alleg.may_see(current_user, allegation):
                return redirect(url_for(".allegation", allegation_id=allegation.id))
            return redirect(url_for(".allegations") if alleg.may_open_log(current_user) else url_for("portal.home"))
    return render_template("portal/dataprotection/mark.html", source=obj, kind=source, form=form, done=done), \
        (400 if form.errors else 200)


def _allegation_or_404(allegation_id: int) -> StaffAllegation:
    a = session.get(StaffAllegation, allegation_id)
    if a is None or not alleg.may_see(current_user, a):
        abort(404)
    return a


@bp.get("/allegations/<portal_id:allegation_id>")
@access(staff=True, roles=[Role.GOVERNOR])
def allegation(allegation_id: int):
    a = _allegation_or_404(allegation_id)
    return render_template("portal/dataprotection/allegation.html", a=a, source=alleg.source_of(a),
                           lado_form=LadoForm(obj=a, consulted_on=a.lado_consulted_on, reference=a.lado_reference,
                                              advice=a.lado_advice),
                           outcome_form=OutcomeForm(obj=a), notes_form=NotesForm(obj=a))


def _allegation_update(allegation_id: int, form, apply):
    a = _allegation_or_404(allegation_id)
    if not form.validate_on_submit():
        errors = [e for errs in form.errors.values() for e in errs]
        flash(_("Not saved: %(errors)s", errors=" ".join(str(e) for e in errors) if errors else _("please try again.")),
              "danger")
        return redirect(url_for(".allegation", allegation_id=a.id))
    try:
        apply(a)
    except alleg.AllegationError as exc:
        session.rollback()
        flash(_(str(exc)), "danger")
    else:
        session.commit()
        flash(_("Saved."), "success")
    return redirect(url_for(".allegation", allegation_id=a.id))


@bp.post("/allegations/<portal_id:allegation_id>/lado")
@access(staff=True, roles=[Role.GOVERNOR])
def allegation_lado(allegation_id: int):
    form = LadoForm()
    # _allegation_update applies it once the form is valid: the date is there (InputRequired).
    return _allegation_update(allegation_id, form, lambda a: alleg.record_lado(
        a, actor=current_user, consulted_on=cast(dt.date, form.consulted_on.data), reference=form.reference.data or "",
        advice=form.advice.data or ""))


@bp.post("/allegations/<portal_id:allegation_id>/outcome")
@access(staff=True, roles=[Role.GOVERNOR])
def allegation_outcome(allegation_id: int):
    form = OutcomeForm()
    # _allegation_update applies it once the form is valid: the date is there (InputRequired).
    return _allegation_update(allegation_id, form, lambda a: alleg.record_outcome(
        a, actor=current_user, outcome=form.outcome.data, outcome_on=cast(dt.date, form.outcome_on.data),
        normal_pension_on=form.normal_pension_on.data))


@bp.post("/allegations/<portal_id:allegation_id>/notes")
@access(staff=True, roles=[Role.GOVERNOR])
def allegation_notes(allegation_id: int):
    form = NotesForm()
    return _allegation_update(allegation_id, form, lambda a: alleg.update_notes(
        a, actor=current_user, notes=form.notes.data or ""))


# ------------------------------------------------------------------ moving school


@bp.route("/transfers", methods=["GET", "POST"])
@access(capabilities=[SAFEGUARDING])
def transfers():
    form = TransferForm()
    q, found = _person_search(pupils_only=True)
    form.pupil_id.choices = [(0, _("Choose…"))] + found
    if form.validate_on_submit():
        pupil = session.get(Person, form.pupil_id.data) if form.pupil_id.data else None
        if pupil is None:
            _error(form, "pupil_id", _("Choose the pupil who is moving."))
        else:
            try:
                pack = transfer.make_pack(pupil, destination=form.destination.data or "",
                                          moved_on=form.moved_on.data, actor=current_user)
            except transfer.TransferError as exc:
                session.rollback()
                _error(form, "destination", _(str(exc)))
            else:
                session.commit()
                flash(_("Pack %(ref)s is sealed. Send it securely and record when it arrives (due by %(day)s).",
                        ref=pack.reference, day=format_date(pack.due_on, "long")), "success")
                return redirect(url_for(".transfer_detail", pack_id=pack.id))
    rows = session.scalars(select(TransferPack).order_by(TransferPack.received_on.is_not(None),
                                                         TransferPack.due_on)).all()
    return render_template("portal/dataprotection/transfers.html", form=form, rows=rows, overdue=transfer.overdue,
                           today=uk_today(), q=q, found=found), (400 if form.errors else 200)


def _pack_or_404(pack_id: int) -> TransferPack:
    pack = session.get(TransferPack, pack_id)
    if pack is None:
        abort(404)
    return pack


@bp.get("/transfers/<portal_id:pack_id>")
@access(capabilities=[SAFEGUARDING])
def transfer_detail(pack_id: int):
    pack = _pack_or_404(pack_id)
    form = ReceiptForm()
    if form.received_on.data is None:
        form.received_on.data = uk_today()
    return render_template("portal/dataprotection/transfer.html", pack=pack, form=form,
                           overdue=transfer.overdue(pack))


@bp.get("/transfers/<portal_id:pack_id>/pack.pdf")
@access(capabilities=[SAFEGUARDING])
def transfer_pdf(pack_id: int):
    pack = _pack_or_404(pack_id)
    data = transfer.pack_pdf(pack)
    audit.record("transfer_pack.downloaded", actor=current_user, target=pack)
    session.commit()
    resp = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"{pack.reference}.pdf", max_age=0, etag=False, conditional=False)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.post("/transfers/<portal_id:pack_id>/receipt")
@access(capabilities=[SAFEGUARDING])
def transfer_receipt(pack_id: int):
    pack = _pack_or_404(pack_id)
    form = ReceiptForm()
    if form.validate_on_submit():
        try:
            transfer.record_receipt(pack, actor=current_user,
                                    received_on=cast(dt.date, form.received_on.data),  # validated: InputRequired
                                    received_by=form.received_by.data or "", reference=form.reference.data or "")
        except transfer.TransferError as exc:
            session.rollback()
            _error(form, "received_by", _(str(exc)))
        else:
            session.commit()
            flash(_("Receipt recorded."), "success")
            return redirect(url_for(".transfer_detail", pack_id=pack.id))
    return render_template("portal/dataprotection/transfer.html", pack=pack, form=form,
                           overdue=transfer.overdue(pack)), 400


# ------------------------------------------------------------------ privacy notice


@bp.get("/privacy")
@access(public=True)
def privacy_notice():
    school = School.get()
    if school is None:
        slug = request.args.get("school", "")
        schools = _public_schools()
        chosen = next((s for s in schools if s.slug == slug), None)
        if chosen is None:
            return render_template("portal/dataprotection/privacy_choose.html", schools=schools)
        from portal.schools.isolation import school_scope

        with school_scope(session, chosen.id):
            return _privacy_page(chosen)
    return _privacy_page(school)


def _public_schools() -> list[School]:
    return list(session.scalars(select(School).order_by(School.name)))


def _privacy_page(school: School):
    notice = privacy.current()
    rules = [r for r in effective_rules(school).values()]
    return render_template("portal/dataprotection/privacy.html", school=school, body=privacy.rendered(),
                           notice=notice, rules=rules, groups=GROUPS)


@bp.route("/privacy/edit", methods=["GET", "POST"])
@access(capabilities=["settings.manage", MANAGE])
def privacy_edit():
    form = PrivacyForm(data={"body": privacy.text()} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            privacy.save(form.body.data or "", actor=current_user)
        except ValueError as exc:
            session.rollback()
            _error(form, "body", _(str(exc)))
        else:
            session.commit()
            flash(_("The privacy notice is saved and shown to everyone."), "success")
            return redirect(url_for(".privacy_notice"))
    return render_template("portal/dataprotection/privacy_edit.html", form=form, default=privacy.DEFAULT_NOTICE), \
        (400 if form.errors else 200)


# ------------------------------------------------------------------ the trust's holds

TRUST_HOLDERS = (TrustRole.ADMIN, TrustRole.SAFEGUARDING)


def _trust_schools_or_404(trust_id: int) -> tuple[Any, list[School]]:
    from portal.schools.context import trust_roles_of
    from portal.schools.models import Trust
    from portal.security import account_of

    account = account_of(current_user)
    held = trust_roles_of(account.id).get(trust_id, set())
    if not held & {r.value for r in TRUST_HOLDERS}:
        abort(404)
    trust = session.get(Trust, trust_id)
    if trust is None:
        abort(404)
    return trust, list(session.scalars(select(School).where(School.trust_id == trust.id).order_by(School.name)))


@bp.route("/trust/<portal_id:trust_id>/holds", methods=["GET", "POST"])
@access(trust=TRUST_HOLDERS)
def trust_holds(trust_id: int):
    from portal.schools.isolation import school_scope, schools_scope

    trust, schools = _trust_schools_or_404(trust_id)
    form = TrustHoldForm()
    form.school_id.choices = [(s.id, s.name) for s in schools]
    if form.validate_on_submit():
        if form.school_id.data not in {s.id for s in schools}:
            abort(404)
        with school_scope(session, form.school_id.data):
            try:
                # Validated: InputRequired.
                target_id = hold_ops.resolve(form.kind.data, cast(str, form.target.data))
                hold_ops.place_hold(form.kind.data, target_id, form.reason.data, actor=current_user,
                                    review_on=form.review_on.data)
            except hold_ops.HoldError as exc:
                session.rollback()
                _error(form, exc.field or _hold_field(str(exc)), _(str(exc)))
                failed = True
            else:
                session.commit()
                failed = False
        if not failed:
            flash(_("The hold is in place in that school."), "success")
            return redirect(url_for(".trust_holds", trust_id=trust.id))
    rows = []
    names = {s.id: s.name for s in schools}
    with schools_scope(session, [s.id for s in schools]):
        for h in hold_ops.holds():
            with school_scope(session, h.school_id):
                rows.append((names.get(h.school_id, ""), h, hold_ops.describe(h)))
    return render_template("portal/dataprotection/trust_holds.html", trust=trust, form=form, rows=rows,
                           release_form=HoldReleaseForm(), today=uk_today()), (400 if form.errors else 200)


@bp.post("/trust/<portal_id:trust_id>/holds/<portal_id:hold_id>/release")
@access(trust=TRUST_HOLDERS)
def trust_release_hold(trust_id: int, hold_id: int):
    from portal.schools.isolation import school_scope, schools_scope

    trust, schools = _trust_schools_or_404(trust_id)
    with schools_scope(session, [s.id for s in schools]):
        hold = session.get(LegalHold, hold_id)
    if hold is None:
        abort(404)
    form = HoldReleaseForm()
    with school_scope(session, hold.school_id):
        try:
            if not form.validate_on_submit():
                raise hold_ops.HoldError("Please try again.")
            hold_ops.release_hold(hold, form.release_reason.data, actor=current_user)
        except hold_ops.HoldError as exc:
            session.rollback()
            flash(_(str(exc)), "danger")
        else:
            session.commit()
            flash(_("Hold released."), "success")
    return redirect(url_for(".trust_holds", trust_id=trust.id))
