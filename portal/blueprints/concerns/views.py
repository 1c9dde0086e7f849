"""Parent pages (raise, read, reply, escalate), the staff inbox, and school closures.

Views are thin: check access, call one operation, commit once, then send "there is news" emails.
Concern text is never logged, audited or emailed.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
from typing import TypedDict, cast

from babel.lists import format_list
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload, selectinload

from portal import audit
from portal.blueprints.concerns import bp
from portal.blueprints.concerns.forms import (
    AssignForm,
    ClosureForm,
    DeleteForm,
    EscalateForm,
    InboxFilter,
    MessageForm,
    NoteForm,
    RaiseForm,
    ShareForm,
    StatusForm,
    TargetForm,
    options,
)
from portal.concerns import notifications
from portal.concerns import operations as ops
from portal.concerns import tasks as _tasks  # noqa: F401  (registers the home-page task providers)
from portal.concerns.access import SAFEGUARDING, handlers_of, may_handle, may_use_inbox, visible_clause
from portal.concerns.models import (
    CATEGORY_LABELS,
    STAGE_LABELS,
    STATUS_LABELS,
    TRANSITIONS,
    About,
    Category,
    Concern,
    ConcernAttachment,
    ConcernMessage,
    Route,
    SchoolClosure,
    Status,
    overdue_clause,
)
from portal.concerns.schooldays import uk_today
from portal.concerns.storage import AttachmentError, UploadBatch, check_uploads, max_file_bytes, max_files, path_of
from portal.db import session
from portal.i18n import format_date
from portal.ids import row_id
from portal.paging import paginate
from portal.people.models import STAFF_ROLES, Person, PersonRole, PupilProfile, Role, SchoolClass
from portal.people.search import words_match
from portal.schools.models import School
from portal.security import access, children_of, has_capability, own_child_or_404
from portal.validators import add_error

log = logging.getLogger("portal.concerns")

#: The inbox's one decorator: reviewers and the DSL by capability, governors by role (then only
#: the chair of governors gets past :func:`_inbox_person`).
class _AccessRule(TypedDict):
    """The keyword arguments of :func:`portal.security.access` that the inbox views share."""

    roles: list[Role]
    capabilities: list[str]


INBOX_ACCESS: _AccessRule = {"roles": [Role.GOVERNOR], "capabilities": ["concerns.review", "concerns.safeguarding"]}

@bp.context_processor
def _labels():
    return {"status_label": lambda v: _(STATUS_LABELS[Status(v)]),
            "stage_label": lambda v: _({k.value: t for k, t in STAGE_LABELS.items()}[v]),
            "category_label": lambda v: _(CATEGORY_LABELS[Category(v)]),
            "today": uk_today()}


# ---------------------------------------------------------------- parents


def _own_concern_or_404(concern_id: int) -> Concern:
    concern = session.get(Concern, concern_id)
    if concern is None or concern.raised_by_id != current_user.id:
        abort(404)
    return concern


def _staff_choices() -> list[tuple[int, str]]:
    settings = School.get()
    head_id = settings.head_teacher_id if settings else None
    people = session.scalars(
        select(Person).join(PersonRole).where(PersonRole.role.in_([r.value for r in STAFF_ROLES]), Person.active)
        .order_by(Person.family_name, Person.given_name).distinct()
    ).all()
    return [(p.id, p.full_name) for p in people if p.id not in (head_id, current_user.id)]


@bp.get("/")
@access(roles=[Role.PARENT])
def mine():
    concerns = session.scalars(
        select(Concern).where(Concern.raised_by_id == current_user.id).order_by(Concern.created_at.desc())
    ).all()
    return render_template("portal/concerns/mine.html", concerns=concerns)


@bp.route("/new", methods=["GET", "POST"])
@access(roles=[Role.PARENT])
def new():
    form = RaiseForm()
    form.child_id.choices = options([(0, _("No particular child"))]
                                    + [(c.id, c.full_name) for c in children_of(current_user)])
    form.about_person_id.choices = options([(0, _("Choose a member of staff"))] + _staff_choices())
    settings = School.get()
    upload_error = None
    failed = False
    if form.validate_on_submit() and not _undeliverable_about_head(form, settings):
        try:
            files = check_uploads(request.files.getlist(form.attachments.name))
        except AttachmentError as exc:
            upload_error = str(exc)
        else:
            child = own_child_or_404(current_user, form.child_id.data) if form.child_id.data else None
            about = About(form.about.data)
            about_person = session.get(Person, form.about_person_id.data) if about == About.STAFF else None
            try:
                with UploadBatch() as batch:
                    concern = ops.raise_concern(
                        current_user, category=Category(form.category.data), subject=form.subject.data.strip(),
                        description=form.description.data.strip(), at_risk=form.at_risk.data == "yes",
                        about=about, about_person=about_person, child=child, files=files, batch=batch)
                    session.commit()
                    batch.keep()
            except (SQLAlchemyError, OSError) as exc:
                session.rollback()
                log.error("concern not saved: %s", type(exc).__name__)  # never the text
                failed = True
            else:
                sent = notifications.new_concern(concern)
                if sent and concern.route == Route.SAFEGUARDING.value:
                    # Not "the DSL": an at-risk concern about the DSL goes to the Head Teacher instead.
                    flash(_("Thank you. Your concern %(reference)s has been sent privately to the school and "
                            "marked urgent, because a child may be at risk. If a child is in danger right now, "
                            "call 999.", reference=concern.reference), "success")
                elif sent:
                    flash(_("Thank you. Your concern %(reference)s has been sent privately to the school.",
                            reference=concern.reference), "success")
                else:
                    flash(_("Your concern %(reference)s is saved and the school can see it, but we could "
                            "not send the email notifications just now.", reference=concern.reference), "warning")
                return redirect(url_for(".view", concern_id=concern.id))
    status = 503 if failed else 400 if (form.errors or upload_error) else 200
    # A browser never fills a file box again: a page sent back says so, or the evidence would be left behind.
    files_dropped = status != 200 and not upload_error and any(
        f.filename for f in request.files.getlist(form.attachments.name))
    limit = max_file_bytes()
    return render_template("portal/concerns/new.html", form=form, upload_error=upload_error, failed=failed,
                           settings=settings, files_dropped=files_dropped, max_files=max_files(),
                           max_bytes=limit, max_mb=limit // (1024 * 1024)), status


def _undeliverable_about_head(form, settings) -> bool:
    """A concern about the Head Teacher goes to the chair of governors only; with no chair named
    nobody could read it, so say so instead of saving it where no one looks."""
    if About(form.about.data) != About.HEAD_TEACHER or (settings and settings.chair_of_governors_id):
        return False
    channel = settings.official_channel if settings else _("the school office")
    form.about.errors = list(form.about.errors) + [
        _("The school has not named its chair of governors in the portal yet, so a concern about the Head "
          "Teacher cannot be delivered here. Please contact the chair of governors through %(channel)s.",
          channel=channel)]
    return True


@bp.get("/<portal_id:concern_id>")
@access(roles=[Role.PARENT])
def view(concern_id: int):
    concern = _own_concern_or_404(concern_id)
    ops.mark_seen_by_parent(concern)
    session.commit()
    return _parent_page(concern)


def _parent_page(concern: Concern, form: MessageForm | None = None, escalate_form: EscalateForm | None = None):
    """The parent's page of one concern; a form that was refused comes back with what was typed (400)."""
    messages = [m for m in concern.messages if not m.internal]
    events = [e for e in concern.events if e.kind in ("status", "stage", "target")]
    today = uk_today()
    response_late = concern.response_late(today)
    refused = form is not None or escalate_form is not None
    escalate_form = escalate_form or EscalateForm(formdata=None, prefix="escalate")
    if response_late:  # taken further while still waiting: there is no outcome to be unhappy with
        escalate_form.body.label.text = _("Anything you want to add? (optional)")
    if concern.stage != "informal":
        escalate_form.confirm.label.text = _("I want a panel of governors to hear this complaint.")
    page = render_template("portal/concerns/view.html", concern=concern, messages=messages, events=events,
                           form=form or MessageForm(formdata=None), escalate_form=escalate_form,
                           settings=School.get(), late=concern.overdue(today), response_late=response_late,
                           can_escalate=ops.can_escalate(concern, today),
                           escalation_closes=ops.escalation_closes(concern))
    return page, 400 if refused else 200


@bp.post("/<portal_id:concern_id>/reply")
@access(roles=[Role.PARENT])
def reply(concern_id: int):
    concern = _own_concern_or_404(concern_id)
    form = MessageForm()
    if not form.validate_on_submit():
        return _parent_page(concern, form=form)
    try:
        ops.add_message(concern, current_user, cast(str, form.body.data).strip())  # validated: DataRequired
    except ops.ConcernError as exc:
        session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".view", concern_id=concern.id))
    ops.mark_seen_by_parent(concern)
    session.commit()
    notifications.news_for_staff(concern)
    flash(_("Your message has been sent."), "success")
    return redirect(url_for(".view", concern_id=concern.id))


@bp.post("/<portal_id:concern_id>/escalate")
@access(roles=[Role.PARENT])
def escalate(concern_id: int):
    concern = _own_concern_or_404(concern_id)
    form = EscalateForm(prefix="escalate")  # the page's message form has a "body" too
    if not form.validate_on_submit():
        return _parent_page(concern, escalate_form=form)
    try:
        stage = ops.escalate(concern, current_user)
        body = (form.body.data or "").strip()
        if body:
            ops.add_message(concern, current_user, body)
    except ops.ConcernError as exc:
        # Reopened or already taken further meanwhile: the page comes back with the words and the reason.
        session.rollback()
        add_error(form.confirm, str(exc))
        return _parent_page(concern, escalate_form=form)
    session.commit()
    notifications.news_for_staff(concern, escalated=True)
    flash(_("Your concern is now a %(stage)s. We will acknowledge it by %(day)s.", stage=_(stage.label).lower(),
            day=format_date(concern.ack_due, "long")), "success")
    return redirect(url_for(".view", concern_id=concern.id))


@bp.get("/<portal_id:concern_id>/attachments/<portal_id:attachment_id>")
@access()
def attachment(concern_id: int, attachment_id: int):
    """The file, to the parent who sent it and to staff who may handle the concern; 404 to others."""
    att = session.get(ConcernAttachment, attachment_id)
    if att is None or att.concern_id != concern_id:
        abort(404)
    concern = att.concern
    if concern.raised_by_id != current_user.id and not may_handle(current_user, concern):
        abort(404)
    path = path_of(att.stored_name)
    if not path.is_file():
        abort(404)
    audit.record("concern.attachment_downloaded", actor=current_user, target=concern, attachment_id=att.id)
    session.commit()
    # Read whole (at most PORTAL_CONCERN_MAX_FILE_BYTES) so no file handle outlives the request.
    resp = send_file(io.BytesIO(path.read_bytes()), mimetype=att.content_type, as_attachment=True,
                     download_name=att.original_name, max_age=0, etag=False, conditional=False)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


# ---------------------------------------------------------------- staff (and the chair of governors)


def _inbox_person() -> Person:
    if not may_use_inbox(current_user):
        abort(403)
    return current_user


def _handled_or_404(concern_id: int, *options) -> Concern:
    person = _inbox_person()
    concern = session.scalar(select(Concern).where(Concern.id == concern_id, visible_clause(person)).options(*options))
    if concern is None:
        abort(404)
    return concern


#: Concerns per inbox page.
INBOX_PER_PAGE = 50
#: The inbox's filters (query arguments), kept by the links to other pages.
INBOX_FILTERS = ("status", "category", "child", "school_class", "assignee", "overdue", "at_risk")


@bp.get("/inbox")
@access(**INBOX_ACCESS)
def inbox():
    """Open concerns by default (closed ones when asked for by status), a child at risk first, then
    overdue, then the oldest, a page at a time; the filter choices and each row's child and handler come from a
    fixed number of queries however many concerns the school has."""
    person = _inbox_person()
    today = uk_today()
    visible = visible_clause(person)
    f = InboxFilter(request.args)
    f.status.choices = options([("", _("Any status"))] + [(s.value, _(s.label)) for s in Status])
    f.category.choices = options([("", _("Any category"))] + [(c.value, _(t)) for c, t in CATEGORY_LABELS.items()])
    # The school's classes (a few dozen however many concerns there are); a child is found by name.
    classes = session.execute(select(SchoolClass.id, SchoolClass.name)
                              .order_by(SchoolClass.year_group, SchoolClass.name, SchoolClass.id)).all()
    f.school_class.choices = options([("", _("Any class"))] + [(str(c.id), c.name) for c in classes])
    people = session.execute(
        select(Person.id, Person.given_name, Person.family_name)
        .where(Person.id.in_(select(Concern.assignee_id).where(visible, Concern.assignee_id.is_not(None))))
        .order_by(Person.family_name, Person.given_name, Person.id)).all()
    f.assignee.choices = options([("", _("Anyone or no one")), ("none", _("No one yet")), ("me", _("Me"))]
                                 + [(str(p.id), f"{p.given_name} {p.family_name}") for p in people])

    query = select(Concern).where(visible)
    if f.status.data in {s.value for s in Status}:
        query = query.where(Concern.status == f.status.data)
    else:
        # Closed concerns only when asked for.
        query = query.where(Concern.status != Status.CLOSED.value)
    if f.category.data in {c.value for c in Category}:
        query = query.where(Concern.category == f.category.data)
    child_words = (f.child.data or "").split() if f.child.validate(f) else []
    if child_words:
        query = query.where(Concern.child_id.in_(select(Person.id).where(words_match(child_words))))
    if (f.school_class.data or "").isdigit():
        query = query.join(PupilProfile, PupilProfile.person_id == Concern.child_id).where(
            PupilProfile.class_id == (row_id(f.school_class.data) or 0))
    if f.assignee.data == "none":
        query = query.where(Concern.assignee_id.is_(None))
    elif f.assignee.data == "me":
        query = query.where(Concern.assignee_id == person.id)
    elif (f.assignee.data or "").isdigit():
        query = query.where(Concern.assignee_id == (row_id(f.assignee.data) or 0))
    late = overdue_clause(today)
    if f.overdue.data:
        query = query.where(late)
    if f.at_risk.data:
        query = query.where(Concern.at_risk.is_(True))
    # A child at risk first, then overdue, then the oldest.
    page = paginate(query.options(selectinload(Concern.child).lazyload(Person.roles),
                                  selectinload(Concern.assignee).lazyload(Person.roles))
                    .order_by(case((Concern.at_risk.is_(True), 0), else_=1), case((late, 0), else_=1),
                              Concern.stage_started_at, Concern.id),
                    INBOX_PER_PAGE, keep=INBOX_FILTERS)
    rows = [(c, c.overdue(today)) for c in page.items]
    return render_template("portal/concerns/inbox.html", rows=rows, filters=f, page=page,
                           filtered=any(request.args.get(k) for k in INBOX_FILTERS))


@bp.get("/inbox/<portal_id:concern_id>")
@access(**INBOX_ACCESS)
def handle(concern_id: int):
    return _handle_page(concern_id)


def _handle_page(concern_id: int, refused: MessageForm | NoteForm | None = None):
    """A handler's page of one concern; a reply or note that was refused comes back with its words (400)."""
    # The people it names joined in (without their roles), its thread, history and files in three more.
    concern = _handled_or_404(
        concern_id, joinedload(Concern.raised_by).lazyload(Person.roles),
        joinedload(Concern.assignee).lazyload(Person.roles), joinedload(Concern.about_person).lazyload(Person.roles),
        joinedload(Concern.child).lazyload(Person.roles),
        joinedload(Concern.child).joinedload(Person.pupil).joinedload(PupilProfile.school_class),
        selectinload(Concern.messages).joinedload(ConcernMessage.author).lazyload(Person.roles),
        selectinload(Concern.events), selectinload(Concern.attachments))
    ids = {int(e.new_value) for e in concern.events if e.kind == "assignee" and e.new_value}
    names = {str(p.id): p.full_name for p in session.scalars(select(Person).where(Person.id.in_(ids)))} if ids else {}
    forms = _staff_forms(concern)
    if refused is not None:
        forms["reply_form" if isinstance(refused, MessageForm) else "note_form"] = refused
    page = render_template("portal/concerns/handle.html", concern=concern, assignee_names=names,
                           escalation_closes=ops.escalation_closes(concern), today=uk_today(), **forms)
    return page, 200 if refused is None else 400


def _staff_forms(concern: Concern) -> dict:
    """The page's forms, empty (a page sent back after a refused post shows only that post's words)."""
    status_form = StatusForm(formdata=None)
    status_form.status.choices = options([(s.value, _(s.label)) for s in Status
                                          if s in TRANSITIONS[concern.status_enum]])
    assign_form = AssignForm(formdata=None, assignee_id=concern.assignee_id or 0)
    handlers = handlers_of(concern)
    assign_form.assignee_id.choices = options([(0, _("No one yet"))] + [(p.id, p.full_name) for p in handlers])
    target_form = TargetForm(formdata=None, new_date=concern.response_due)
    school = School.get()
    share_form = ShareForm(formdata=None, share="no" if concern.shared_with_trust_at else "yes") \
        if school is not None and school.trust_id is not None and has_capability(current_user, SAFEGUARDING) \
        else None
    return {"reply_form": MessageForm(formdata=None, prefix="reply"),
            "note_form": NoteForm(formdata=None, prefix="note"), "status_form": status_form,
            "assign_form": assign_form, "target_form": target_form, "share_form": share_form,
            # Walk finding: "Only the safeguarding lead can see this concern", though deputies could too.
            "readers": format_list([p.full_name for p in handlers], locale=str(get_locale() or "en_GB"))}


def _back(concern: Concern):
    return redirect(url_for(".handle", concern_id=concern.id))


def _refuse(concern: Concern, message: str):
    session.rollback()
    flash(message, "danger")
    return _back(concern)


@bp.post("/inbox/<portal_id:concern_id>/reply")
@access(**INBOX_ACCESS)
def staff_reply(concern_id: int):
    concern = _handled_or_404(concern_id)
    form = MessageForm(prefix="reply")
    if not form.validate_on_submit():
        return _handle_page(concern.id, refused=form)
    was_new = concern.status_enum == Status.NEW
    try:
        ops.add_message(concern, current_user, cast(str, form.body.data).strip())  # validated: DataRequired
    except ops.ConcernError as exc:
        return _refuse(concern, str(exc))
    session.commit()
    sent = notifications.news_for_parent(concern)
    flash(_("Reply sent to the parent.") if sent else _("Reply saved, but the email to the parent could not be sent."),
          "success" if sent else "warning")
    if was_new and concern.status_enum == Status.ACKNOWLEDGED:  # the operation decides; the page only says so
        flash(_("Your reply acknowledged the concern: its status is now Acknowledged."), "info")
    return _back(concern)


@bp.post("/inbox/<portal_id:concern_id>/note")
@access(**INBOX_ACCESS)
def note(concern_id: int):
    concern = _handled_or_404(concern_id)
    form = NoteForm(prefix="note")
    if not form.validate_on_submit():
        return _handle_page(concern.id, refused=form)
    ops.add_message(concern, current_user, cast(str, form.body.data).strip(), internal=True)  # validated
    session.commit()
    flash(_("Internal note added. The parent cannot see it."), "success")
    return _back(concern)


@bp.post("/inbox/<portal_id:concern_id>/status")
@access(**INBOX_ACCESS)
def status(concern_id: int):
    concern = _handled_or_404(concern_id)
    form = StatusForm()
    form.status.choices = options([(s.value, _(s.label)) for s in Status])
    if not form.validate_on_submit():
        return _refuse(concern, _("Choose a status."))
    try:
        ops.change_status(concern, current_user, Status(form.status.data))
    except ops.ConcernError as exc:
        return _refuse(concern, str(exc))
    session.commit()
    notifications.news_for_parent(concern)
    flash(_("Status changed to %(status)s. The parent has been told there is news.",
            status=_(concern.status_enum.label).lower()), "success")
    return _back(concern)


@bp.post("/inbox/<portal_id:concern_id>/assign")
@access(**INBOX_ACCESS)
def assign(concern_id: int):
    concern = _handled_or_404(concern_id)
    allowed = handlers_of(concern)
    form = AssignForm()
    form.assignee_id.choices = options([(0, _("No one yet"))] + [(p.id, p.full_name) for p in allowed])
    if not form.validate_on_submit():
        return _refuse(concern, _("That person cannot see this concern, so it cannot be given to them."))
    assignee = session.get(Person, form.assignee_id.data) if form.assignee_id.data else None
    before = concern.assignee_id
    try:
        ops.assign(concern, current_user, assignee, allowed)
    except ops.ConcernError as exc:
        return _refuse(concern, str(exc))
    session.commit()
    if assignee is not None and assignee.id != before and assignee.id != current_user.id:
        notifications.assigned(concern, assignee)
    flash(_("Now looked after by %(name)s.", name=assignee.full_name) if assignee
          else _("No one is looking after it now."),
          "success")
    return _back(concern)


@bp.post("/inbox/<portal_id:concern_id>/target")
@access(**INBOX_ACCESS)
def target(concern_id: int):
    concern = _handled_or_404(concern_id)
    form = TargetForm()
    if not form.validate_on_submit():
        errors = [e for errs in form.errors.values() for e in errs]
        return _refuse(concern, _("The target date was not changed: %(why)s", why=" ".join(map(str, errors))))
    try:
        # Validated: InputRequired and DataRequired.
        ops.revise_target(concern, current_user, cast(dt.date, form.new_date.data), cast(str, form.reason.data))
    except ops.ConcernError as exc:
        return _refuse(concern, str(exc))
    session.commit()
    notifications.news_for_parent(concern)
    flash(_("The target date is now %(day)s.", day=format_date(concern.response_due, "long")), "success")
    return _back(concern)


@bp.post("/inbox/<portal_id:concern_id>/share")
@access(capabilities=["concerns.safeguarding"])
def share(concern_id: int):
    """The DSL (or a deputy) shares a concern with the trust's safeguarding lead, or stops sharing."""
    concern = _handled_or_404(concern_id)
    form = ShareForm()
    school = School.get()
    if not form.validate_on_submit() or school is None or school.trust_id is None:
        abort(400)
    sharing = form.share.data == "yes"
    try:
        ops.share_with_trust(concern, current_user, sharing)
    except ops.ConcernError as exc:
        return _refuse(concern, str(exc))
    session.commit()
    flash(_("The trust's safeguarding lead can now read this concern.") if sharing
          else _("The trust no longer sees this concern's words."), "success")
    return _back(concern)


# ---------------------------------------------------------------- school closures


@bp.route("/calendar", methods=["GET", "POST"])
@access(capabilities=["settings.manage"])
def calendar():
    from portal.concerns.schooldays import upcoming_bank_holidays

    form = ClosureForm()
    if form.validate_on_submit():
        closure = SchoolClosure(first_day=form.first_day.data, last_day=form.last_day.data,
                                label=form.label.data.strip(), created_by_id=current_user.id)
        session.add(closure)
        session.flush()
        audit.record("closure.added", actor=current_user, target=closure, first_day=closure.first_day.isoformat(),
                     last_day=closure.last_day.isoformat())
        session.commit()
        flash(_("Closure added. Target dates of new concerns will skip it."), "success")
        return redirect(url_for(".calendar"))
    closures = session.scalars(select(SchoolClosure).order_by(SchoolClosure.first_day)).all()
    today = uk_today()
    holidays = list(upcoming_bank_holidays(today))
    return render_template("portal/concerns/calendar.html", form=form, closures=closures, holidays=holidays,
                           delete_form=DeleteForm()), 400 if form.errors else 200


@bp.post("/calendar/<portal_id:closure_id>/delete")
@access(capabilities=["settings.manage"])
def delete_closure(closure_id: int):
    closure = session.get(SchoolClosure, closure_id)
    if closure is None:
        abort(404)  # removed already, or not this school's
    if DeleteForm().validate_on_submit():
        audit.record("closure.removed", actor=current_user, target=closure,
                     first_day=closure.first_day.isoformat(), last_day=closure.last_day.isoformat())
        session.delete(closure)
        session.commit()
        flash(_("Closure removed."), "success")
    return redirect(url_for(".calendar"))

