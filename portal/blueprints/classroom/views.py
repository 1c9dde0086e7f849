"""Classroom acknowledgement screens.

Teacher screens need ``classroom.run`` and only show the teacher's own classes and sessions
(another teacher's session is a 404). Pupil-device screens are public, but everything after
the join page needs the device token that entering a valid code puts in the signed session
cookie; without it (or once the session has ended) they redirect to the join page.
"""
from __future__ import annotations

from typing import cast

import segno
from flask import abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import devices
from portal.auth import sessions
from portal.blueprints.classroom import bp
from portal.blueprints.classroom.forms import (
    AgreeForm,
    ButtonForm,
    JoinForm,
    KioskExitForm,
    KioskForm,
    OwnAgreeForm,
    StartForm,
)
from portal.classroom import operations as ops
from portal.classroom.models import ClassroomEntry, ClassroomSession
from portal.classroom.rendering import is_young, render_html, screens
from portal.classroom.versions import academic_year, acknowledgement_of, version_for_pupil
from portal.db import session
from portal.people.bands import KS3_4, KS5
from portal.people.models import Role, SchoolClass, academic_year_label
from portal.schools.context import choose_school
from portal.schools.isolation import all_schools, current_school_id, set_school
from portal.security import access, client_ip
from portal.signals import announce_signature, announce_signatures
from portal.tasks import Task, task_provider
from portal.templating import N_

#: Key of the pupil-device token in the signed session cookie.
DEVICE_KEY = "portal_classroom_device"
#: Set while the teacher's own device is handed round (kiosk mode): {"sid", "school"}.
KIOSK_KEY = "portal_classroom_kiosk"


# ------------------------------------------------------------------ teacher


def _own_session_or_404(sid: int) -> ClassroomSession:
    cs = session.get(ClassroomSession, sid)
    if cs is None or cs.teacher_id != current_user.id:
        abort(404)
    return cs


def _start_form() -> StartForm:
    form = StartForm()
    form.class_id.choices = [(c.id, f"{c.name}") for c in ops.teacher_classes(current_user)]
    return form


def _home_page(form: StartForm, status: int = 200):
    classes = ops.teacher_classes(current_user)
    year = academic_year()
    summaries = ops.class_summaries(classes, year)
    open_sessions = ops.open_sessions_for(classes)
    rows = [(cls, open_sessions.get(cls.id), _class_summary(*summaries[cls.id], year)) for cls in classes]
    closed = session.scalars(
        select(ClassroomSession).where(ClassroomSession.teacher_id == current_user.id,
                                       ClassroomSession.closed_at.is_not(None))
        .options(selectinload(ClassroomSession.school_class), selectinload(ClassroomSession.entries))
        .order_by(ClassroomSession.closed_at.desc()).limit(10)
    ).all()
    return render_template("portal/classroom/home.html", form=form, rows=rows, closed=closed), status


def _class_summary(version, done: int, total: int, year: int) -> str:
    """"12 of 28 agreed this year", or why nothing can start."""
    if version is None:
        return _("No rules published for this age group yet")
    return _("%(done)d of %(total)d agreed in %(year)s", done=done, total=total, year=academic_year_label(year))


@bp.get("/")
@access(capabilities=["classroom.run"])
def home():
    return _home_page(_start_form())


@bp.post("/start")
@access(capabilities=["classroom.run"])
def start():
    form = _start_form()
    if not form.validate_on_submit():
        return _home_page(form, 400)
    cls = session.get(SchoolClass, form.class_id.data)
    existing = ops.open_session_for(cls)
    if existing is not None and existing.teacher_id == current_user.id:
        flash(_("%(name)s already has a session open. Here it is.", name=cls.name), "info")
        return redirect(url_for(".session_page", sid=existing.id))
    try:
        cs = ops.start_session(current_user, cls)
    except ops.ClassroomError as exc:
        form.class_id.errors.append(str(exc))
        return _home_page(form, 400)
    session.commit()
    return redirect(url_for(".session_page", sid=cs.id))


def _qr_svg(url: str) -> Markup:
    svg = segno.make(url, error="m").svg_inline(scale=6, dark="#000", light="#fff")
    return Markup(svg)  # noqa: S704 - made by segno from our own URL; no user input


def _no_store(resp):
    """Teacher screens are never kept by the browser, so "Back" on a kiosk shows nothing of them."""
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _session_page(cs: ClassroomSession, kiosk_form: KioskForm | None = None, status: int = 200):
    progress = ops.Progress(cs)
    join_url = url_for("portal.join", _external=True)
    qr_url = url_for("portal.join_code", code=cs.code, _external=True)
    resp = make_response(render_template(
        "portal/classroom/session.html", cs=cs, progress=progress, join_url=join_url, qr_url=qr_url,
        qr=_qr_svg(qr_url), button=ButtonForm(), kiosk_form=kiosk_form or KioskForm()), status)
    return _no_store(resp)


@bp.get("/sessions/<portal_id:sid>")
@access(capabilities=["classroom.run"])
def session_page(sid: int):
    return _session_page(_own_session_or_404(sid))


@bp.get("/sessions/<portal_id:sid>/progress.json")
@access(capabilities=["classroom.run"])
def progress(sid: int):
    """The live numbers for the teacher's screen (polled every few seconds by classroom.js),
    with the "agreed in this session" table drawn by the same template as the page."""
    cs = _own_session_or_404(sid)
    progress = ops.Progress(cs)
    data = progress.as_json()
    data["entries_html"] = render_template("portal/classroom/_entries.html", cs=cs)
    return _no_store(jsonify(data))


@bp.post("/sessions/<portal_id:sid>/close")
@access(capabilities=["classroom.run"])
def close(sid: int):
    cs = _own_session_or_404(sid)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        signatures = ops.close_session(cs, current_user)
    except ops.ClassroomError as exc:
        flash(str(exc), "warning")
        return redirect(url_for(".session_page", sid=cs.id))
    session.commit()
    announce_signatures(signatures)  # the PDFs are made by the job worker, not in this request
    if cookie.get(DEVICE_KEY, {}).get("sid") == cs.id:
        cookie.pop(DEVICE_KEY, None)
    n = len(signatures)
    flash(ngettext("Session closed. %(num)d acknowledgement recorded, witnessed by you.",
                   "Session closed. %(num)d acknowledgements recorded, witnessed by you.", n), "success")
    return redirect(url_for(".session_page", sid=cs.id))


@bp.post("/sessions/<portal_id:sid>/kiosk")
@access(capabilities=["classroom.run"])
def kiosk(sid: int):
    """Hand this (the teacher's) device to pupils one by one, without typing the code. Until the
    teacher's PIN (or password) is typed at "Back to the teacher screen", this browser shows only
    the pupils' screens: every other portal page leads back to them."""
    cs = _own_session_or_404(sid)
    form = KioskForm()
    if not form.validate_on_submit():
        return _session_page(cs, form, 400)
    if not cs.accepts_pupils():
        flash(_("This session's code has expired. Close it and start a new one for the pupils still to agree."),
              "warning")
        return redirect(url_for(".session_page", sid=cs.id))
    ops.start_kiosk(cs, current_user, form.pin.data or "")
    row = sessions.current()
    if row is not None:  # on the server too: a browser that drops its session cookie stays a kiosk
        row.kiosk_session_id = cs.id
    session.commit()
    _kiosk_cookies(cs, row.id if row is not None else None)
    return redirect(url_for(".device"))


def _kiosk_cookies(cs: ClassroomSession, row_id: int | None) -> None:
    """*row_id*: the server session that remembers this kiosk (its PIN ends that one, not another device's)."""
    cookie[DEVICE_KEY] = {"sid": cs.id, "code": cs.code, "kiosk": True, "school": cs.school_id}
    cookie[KIOSK_KEY] = {"sid": cs.id, "school": cs.school_id, "row": row_id}


def _restore_kiosk() -> None:
    """Probe finding: with "keep me signed in", a pupil who deleted only the session cookie (browser settings)
    came back as the teacher through the remember cookie, out of kiosk mode: the staff home, a class with
    dates of birth, the incidents list. The server session remembers the kiosk, and puts it back, in the kiosk's
    school (review finding: the remember cookie signs a teacher of two schools in to the last one they used)."""
    if not current_user.is_authenticated:
        return
    row = sessions.current()
    if row is None or row.kiosk_session_id is None:
        return
    with all_schools(session):  # the server's own note, whichever school the sign-in landed in
        cs = session.get(ClassroomSession, row.kiosk_session_id)
    if cs is not None:
        choose_school(cs.school_id)
        _kiosk_cookies(cs, row.id)


def kiosk_session() -> ClassroomSession | None:
    """The session this browser is a kiosk for (the teacher's device handed round), if any."""
    token = cookie.get(KIOSK_KEY)
    if not isinstance(token, dict) or not isinstance(token.get("sid"), int) \
            or not isinstance(token.get("school"), int):
        return None
    if current_school_id(session) is None:
        set_school(session, token["school"])
    elif current_school_id(session) != token["school"]:
        return None
    return session.get(ClassroomSession, token["sid"])


#: What a kiosk may open: the pupils' screens, the way back, and static files.
KIOSK_ENDPOINTS = frozenset({
    "portal.classroom.device", "portal.classroom.device_pupil", "portal.classroom.device_leave",
    "portal.classroom.kiosk_exit", "portal.classroom.join", "portal.join", "portal.join_code", "portal.static",
})


@bp.before_app_request
def _kiosk_guard():
    """While this browser is a kiosk, any other portal page (the teacher's home, sign-out, the
    menu, a typed address) leads back to the pupils' screen: nothing of the teacher's account."""
    endpoint = request.endpoint or ""
    if not endpoint.startswith("portal.") or endpoint == "portal.static":
        return None
    if KIOSK_KEY not in cookie:
        _restore_kiosk()
        if KIOSK_KEY not in cookie:
            return None
    if endpoint in KIOSK_ENDPOINTS:
        return None
    return redirect(url_for("portal.classroom.device"))


@bp.route("/kiosk/exit", methods=["GET", "POST"])
@access(public=True)
def kiosk_exit():
    """The kiosk's way back to the teacher screen: the PIN chosen when it was handed round, or
    the teacher's password. Too many wrong tries sign the teacher out on this device."""
    from flask_login import logout_user

    cs = kiosk_session()
    if cs is None:
        cookie.pop(KIOSK_KEY, None)
        return redirect(url_for(".join"))
    form = KioskExitForm()
    status = 200
    if request.method == "POST":
        if ops.kiosk_locked_out(cs):
            session.commit()
            return _kiosk_sign_out(logout_user)
        if form.validate_on_submit():
            if ops.kiosk_unlock(cs, form.secret.data):
                row_id = (cookie.get(KIOSK_KEY) or {}).get("row")
                if not isinstance(row_id, int):  # review: a kiosk started before cookies named their row
                    current_row = sessions.current()
                    row_id = current_row.id if current_row is not None else None
                sessions.end_kiosk(cs.id, row_id)
                session.commit()
                cookie.pop(KIOSK_KEY, None)
                cookie.pop(DEVICE_KEY, None)
                if current_user.is_authenticated and current_user.id == cs.teacher_id:
                    return redirect(url_for(".session_page", sid=cs.id))
                return redirect(url_for("portal.auth.login"))
            session.commit()
            if ops.kiosk_locked_out(cs):
                return _kiosk_sign_out(logout_user)
            # Walk finding: nothing said that wrong tries sign the teacher out.
            left = ops.kiosk_tries_left(cs)
            form.secret.errors.append(_("That is not the PIN or the teacher's password.") + " " + ngettext(
                "After %(num)s more wrong try, the teacher is signed out on this device.",
                "After %(num)s more wrong tries, the teacher is signed out on this device.", left))
        status = 400
    return render_template("portal/classroom/kiosk_exit.html", cs=cs, form=form, kiosk=True), status


def _kiosk_sign_out(logout_user):
    """Too many wrong tries: end kiosk mode by signing the teacher out of this browser (and ending its server
    session, so its remember cookie cannot bring the teacher back either)."""
    row = sessions.current()
    if row is not None:
        sessions.end(row, "signed_out")
        session.commit()
    logout_user()
    cookie.clear()
    flash(_("Too many wrong tries, so the teacher has been signed out on this device. "
            "Teacher: sign in again to get back to your class session."), "warning")
    return redirect(url_for("portal.auth.login"))


@bp.post("/sessions/<portal_id:sid>/entries/<portal_id:entry_id>/remove")
@access(capabilities=["classroom.run"])
def remove_entry(sid: int, entry_id: int):
    cs = _own_session_or_404(sid)
    entry = session.get(ClassroomEntry, entry_id)
    if entry is None or entry.session_id != cs.id:
        abort(404)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        name = entry.pupil.short_name
        ops.remove_entry(cs, entry, teacher=current_user)
    except ops.ClassroomError as exc:
        flash(str(exc), "warning")
    else:
        session.commit()
        flash(_("%(name)s is back on the list of pupils still to agree.", name=name), "info")
    return redirect(url_for(".session_page", sid=cs.id))


# ------------------------------------------------------------------ pupil devices


NO_MATCH = N_("That code does not match an open class session. Check the code on the board and try again.")


def _join_page(form: JoinForm, status: int = 200):
    return render_template("portal/classroom/join.html", form=form, kiosk=KIOSK_KEY in cookie), status


def _try_code(form: JoinForm):
    """Join with the (well-formed) code in *form*: to the names, or the form with why not."""
    cs = ops.find_by_code(cast(str, form.code.data))  # validated: DataRequired
    if cs is not None and getattr(current_user, "school_id", cs.school_id) != cs.school_id:
        cs = None  # this device is signed in to another school
    if cs is not None:
        cookie[DEVICE_KEY] = {"sid": cs.id, "code": cs.code, "school": cs.school_id}
        devices.current().mark_joined()
        return redirect(url_for("portal.classroom.device"))
    _count_wrong_code()
    form.code.errors = [*form.code.errors, _(NO_MATCH)]
    return _join_page(form, 400)


def _count_wrong_code() -> None:
    """A wrong (or malformed) code counts against this device and its address."""
    device = devices.current()
    ops.note_wrong_code(client_ip(), device.id, known_device=device.joined)
    session.commit()


def _limited(form: JoinForm):
    """The refusal page when this device (or its address's larger budget) has had too many wrong codes."""
    device = devices.current()
    which = ops.join_limited(client_ip(), device.id, known_device=device.joined)
    if which is None:
        return None
    session.commit()
    # The address's budget is shared by every device on the school's connection: say so, rather than
    # blame a device that typed nothing wrong.
    form.code.errors = [_("Too many wrong codes from this device. Wait 10 minutes, or ask your teacher.")
                        if which == "device" else
                        _("Too many wrong codes from devices on this connection. Wait 10 minutes, or ask "
                          "your teacher.")]
    return _join_page(form, 429)


@bp.route("/join", methods=["GET", "POST"])
@access(public=True)
def join():
    form = JoinForm()
    if request.method == "GET" and request.args.get("code"):
        form.code.data = ops.normalise_code(request.args["code"])[:12]
    if request.method == "POST":
        refused = _limited(form)
        if refused is not None:
            return refused
        if form.validate_on_submit():
            return _try_code(form)
        _count_wrong_code()  # a malformed code counts too, so no guess goes uncounted
        return _join_page(form, 400)
    return _join_page(form)


@access(public=True)
def short_join():
    """``/portal/join``: the short address written on the board."""
    return redirect(url_for("portal.classroom.join"))


@access(public=True)
def join_code(code: str):
    """``/portal/join/ABC123``: what the QR code opens. A code that opens a session goes
    straight to the names; otherwise the join page says why, with the code filled in."""
    form = JoinForm(formdata=None, code=ops.normalise_code(code)[:12])
    refused = _limited(form)
    if refused is not None:
        return refused
    if not ops.code_is_well_formed(code):
        _count_wrong_code()
        form.code.errors = [JoinForm.format_message()]
        return _join_page(form, 400)
    return _try_code(form)


def _device_session() -> ClassroomSession | None:
    """The session this device joined, if it still accepts pupils; otherwise forget it."""
    token = cookie.get(DEVICE_KEY)
    if not isinstance(token, dict) or not isinstance(token.get("school"), int):
        return None
    if current_school_id(session) != token["school"]:
        if getattr(current_user, "school_id", None) is not None:
            return None  # signed in to another school on this device
        set_school(session, token["school"])  # a pupil's device: the session it joined names the school
    cs = session.get(ClassroomSession, token.get("sid")) if isinstance(token.get("sid"), int) else None
    if cs is None or cs.code != token.get("code") or not cs.accepts_pupils():
        return None
    return cs


def _ended():
    """Back to the join page; say why only when this device had joined a session."""
    if DEVICE_KEY in cookie:
        cookie.pop(DEVICE_KEY, None)
        flash(_("That class session has ended. Ask your teacher for the new code."), "info")
    return redirect(url_for(".join"))


def _is_kiosk(cs: ClassroomSession) -> bool:
    return (cookie.get(KIOSK_KEY) or {}).get("sid") == cs.id


@bp.get("/device/")
@access(public=True)
def device():
    cs = _device_session()
    if cs is None:
        return _ended()
    progress = ops.Progress(cs)
    return render_template("portal/classroom/device_names.html", cs=cs, pupils=progress.missing,
                           kiosk=_is_kiosk(cs), leave=ButtonForm())


@bp.route("/device/pupils/<portal_id:pupil_id>", methods=["GET", "POST"])
@access(public=True)
def device_pupil(pupil_id: int):
    cs = _device_session()
    if cs is None:
        return _ended()
    pupil = ops.class_pupil_or_none(cs, pupil_id)
    if pupil is None:
        abort(404)
    version = cs.version_for(pupil)
    young = is_young(cs.school_class.year_group)
    form = AgreeForm()
    ctx = {"cs": cs, "pupil": pupil, "version": version, "kiosk": _is_kiosk(cs), "form": form}
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            ops.acknowledge(cs, pupil, ip=client_ip(), user_agent=request.headers.get("User-Agent", ""))
            session.commit()
        except (ops.ClassroomError, IntegrityError) as exc:
            # IntegrityError: the same name pressed on two devices at the same moment.
            session.rollback()
            message = str(exc) if isinstance(exc, ops.ClassroomError) else \
                _("%(name)s has already agreed in this session.", name=pupil.short_name)
            return render_template("portal/classroom/device_message.html", title=_("Already done"),
                                   message=message, **ctx), 409
        flash(_("Thank you, %(name)s! Your teacher can see that you agreed. "
                "Please pass the device to the next person.", name=pupil.given_name), "success")
        return redirect(url_for(".device"))
    if pupil.id in ops.Progress(cs).done_ids:
        return render_template("portal/classroom/device_message.html", title=_("Already done"),
                               message=_("%(name)s has already agreed to these rules.", name=pupil.short_name), **ctx)
    if not young:
        return render_template("portal/classroom/device_full.html", html=Markup(render_html(version.body_md)),
                               **ctx)
    parts = screens(version.body_md)
    step = request.args.get("step", default=1, type=int) or 1
    step = min(max(step, 1), len(parts) or 1)
    return render_template("portal/classroom/device_screen.html", screen=parts[step - 1] if parts else None,
                           step=step, steps=len(parts), rule_no=sum(1 for p in parts[:step] if p.is_rule),
                           rules_total=sum(1 for p in parts if p.is_rule), **ctx)


@bp.post("/device/leave")
@access(public=True)
def device_leave():
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    if KIOSK_KEY in cookie:  # the teacher's device: only the teacher's PIN or password leads back
        return redirect(url_for(".kiosk_exit"))
    cookie.pop(DEVICE_KEY, None)
    flash(_("This device has left the class session."), "info")
    return redirect(url_for(".join"))


# ------------------------------------------------------------------ older pupils on their own

OWN_BANDS = (KS3_4, KS5)


def _own_version():
    profile = current_user.pupil
    if profile is None or profile.age_band not in OWN_BANDS:
        return None, "young"
    version = version_for_pupil(current_user)
    return version, ("none" if version is None else "ok")


@bp.route("/my-rules", methods=["GET", "POST"])
@access(roles=[Role.PUPIL])
def my_rules():
    version, state = _own_version()
    form = OwnAgreeForm()
    signed = acknowledgement_of(current_user, version, academic_year()) if version is not None else None
    if request.method == "POST" and state == "ok" and signed is None:
        if form.validate_on_submit():
            try:
                sig = ops.sign_online(current_user, version, ip=client_ip(),
                                      user_agent=request.headers.get("User-Agent", ""))
            except ops.ClassroomError as exc:
                session.rollback()
                flash(str(exc), "info")
                return redirect(url_for(".my_rules"))
            session.commit()
            announce_signature(sig)
            flash(_("Thank you. You have agreed to the online-safety rules for this year."), "success")
            return redirect(url_for("portal.pupil.home"))
        status = 400
    elif request.method == "POST":
        status = 409 if signed is not None else 404
    else:
        status = 200
    html = Markup(render_html(version.body_md)) if version is not None else None
    return render_template("portal/classroom/my_rules.html", form=form, version=version, state=state,
                           signed=signed, html=html), status


@task_provider
def pupil_rules_task(person) -> list[Task]:
    """Older pupils who have not agreed to this academic year's rules."""
    if not person.has_role(Role.PUPIL) or person.pupil is None or person.pupil.age_band not in OWN_BANDS:
        return []
    version = version_for_pupil(person)
    if version is None:
        return []
    year = academic_year()
    if acknowledgement_of(person, version, year) is not None:
        return []
    return [Task(title=_("Read and agree to the online-safety rules"), url=url_for("portal.classroom.my_rules"),
                 detail=_("for %(year)s", year=academic_year_label(year)), level="warning")]
