"""Sign-in with email and password (and a second step where set up), invitations, password reset."""
from __future__ import annotations

import logging
from typing import cast

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, logout_user

from portal import audit, devices
from portal.auth import mfa, sessions, throttle
from portal.auth.links import ask_for_reset, find_account, tell_holder_of_failures
from portal.auth.passwords import hash_password, verify_password
from portal.auth.tokens import INVITE, RESET, TokenError, account_for, read_token, spend_token
from portal.blueprints.auth import bp
from portal.blueprints.auth import security as _security  # noqa: F401  (the Security page's views)
from portal.blueprints.auth.forms import (
    ChooseSchoolForm,
    ForgotForm,
    LanguageForm,
    LoginForm,
    PasskeyNameForm,
    SecondStepForm,
    SetPasswordForm,
)
from portal.db import session, utcnow
from portal.i18n import adopt_visitors_pick, format_date
from portal.people.models import Account, Person
from portal.schools.context import account_school_ids, account_schools, choose_school, trusts_of
from portal.schools.signin import PLACES_KEY, remember_places, start_session_for
from portal.security import access, account_of, client_ip, is_safe_redirect

log = logging.getLogger("portal.auth")


#: The half-finished sign-in (password right, second step to come), in the signed session cookie.
PENDING_KEY = "portal_mfa_pending"


@bp.route("/login", methods=["GET", "POST"])
@access(public=True)
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        ip = client_ip()
        account = find_account(email)
        known = account is not None and _known_device(account)
        # A device the account has signed in on before passes the address's budget too: a school's pupils
        # share one address, and one of them must not keep every teacher out.
        if not known and throttle.address_limited(ip):
            flash(_("Too many failed sign-ins from your network. Wait a few minutes and try again, or reset "
                    "your password."), "danger")
            return render_template("portal/auth/login.html", form=form), 429
        wait = throttle.account_wait(email, known_device=known)
        if not wait:
            # Counted before the password is checked, so attempts sent at once cannot all be checked.
            device = devices.current()
            attempt = throttle.claim(email, ip, known_device=known, device=throttle.device_key(
                device.id, account.id) if account is not None and device.knows(account.id) else None)
            if attempt.refused:
                throttle.release(attempt)
                session.commit()
                if attempt.address_limited and not attempt.wait:
                    flash(_("Too many failed sign-ins from your network. Wait a few minutes and try again, or "
                            "reset your password."), "danger")
                    return render_template("portal/auth/login.html", form=form), 429
                wait = attempt.wait
        if wait:
            # Nothing is checked while the account waits: guessing gets no faster by trying.
            flash(ngettext("Too many wrong passwords for this account. For its safety, wait %(num)s second and "
                           "try again. On a device you have signed in on before there is no wait.",
                           "Too many wrong passwords for this account. For its safety, wait %(num)s seconds and "
                           "try again. On a device you have signed in on before there is no wait.", wait), "danger")
            return render_template("portal/auth/login.html", form=form), 429
        ok = account is not None and account.active and verify_password(account.password_hash, form.password.data)
        if account is None:
            verify_password(None, form.password.data)
        # None when the account has no active place in any school (switched off): refused with
        # the same words as a wrong password.
        user = start_session_for(account) if ok and account is not None else None
        if user is not None and account is not None:
            throttle.release(attempt)  # the password was right: not a failure
            # Failures are not cleared by a success: someone guessing elsewhere keeps their delays
            # (this device is now known to the account and is never slowed down).
            target = form.next.data if is_safe_redirect(form.next.data) else ""
            if mfa.enrolled(account):
                flask_session[PENDING_KEY] = {"a": account.id, "t": int(utcnow().timestamp()),
                                              "r": bool(form.remember.data), "n": target}
                session.commit()
                return redirect(url_for(".verify"))
            return redirect(_complete_sign_in(user, account, remember=bool(form.remember.data), target=target))
        _failed_attempt(email, ip, account, "password", counted=attempt)
        session.commit()
        flash(_("That email address and password do not match an account."), "danger")
    return render_template("portal/auth/login.html", form=form)


def _known_device(account: Account) -> bool:
    """This browser has signed in to *account* before and has not used up its own failures for it."""
    device = devices.current()
    return device.knows(account.id) and throttle.device_trusted(device.id, account.id)


def _failed_attempt(email: str, ip: str, account: Account | None, step: str, *,
                    counted: throttle.Claim | None = None) -> None:
    """Count a wrong password or code (unless :func:`throttle.claim` *counted* it already); audit it and tell
    the holder when the delays start (once: the claim knows whether this attempt started them)."""
    keys, device = [throttle.account_key(email), throttle.address_key(ip)], devices.current()
    if account is not None and device.knows(account.id):
        keys.append(throttle.device_key(device.id, account.id))  # the known device's own budget
    if counted is None:
        throttle.note_failure(*keys)
    if account is None:
        return
    session.flush()
    audit.record("auth.login_failed", school=None, account_id=account.id, step=step, ip=ip[:45])
    started = counted.delays_start if counted is not None else throttle.delays_just_started(email)
    if started and account.active:
        tell_holder_of_failures(account)


def _complete_sign_in(user: Person | Account, account: Account, *, remember: bool, target: str,
                      second_factor: str | None = None, via: str = "password") -> str:
    """Both steps done: start the server session, audit, and say where to go next."""
    flask_session.pop(PENDING_KEY, None)
    flask_session.pop("portal_via_lti", None)  # a portal sign-in is not an LMS launch
    devices.current().remember(account.id)
    mfa.note_requirement(account)
    row = sessions.sign_in(user, account, remember=remember, via=via, second_factor=second_factor)
    audit.record("auth.login", actor=user, target=user, school="current" if not user.is_account else None,
                 session_id=row.id, second_factor=second_factor)
    changed = adopt_visitors_pick(account)
    if changed is not None:
        audit.record("account.language_changed", actor=user, target=account, before=changed[0], after=changed[1],
                     on="signed out, before signing in", school="current" if not user.is_account else None)
    session.commit()
    if mfa.overdue(account):
        flash(_("Your role needs two-step sign-in. Set it up now to carry on."), "warning")
        return url_for(".security")
    if mfa.required(account) and not mfa.enrolled(account):
        ends = mfa.grace_ends(account)
        flash(_("Your role needs two-step sign-in. Please set it up on your Security page by %(day)s.",
                day=format_date(ends, "long")) if ends else _("Your role needs two-step sign-in."), "warning")
    if remember_places(account):
        return url_for(".schools", next=target or None)
    return target or url_for("portal.home")


def _pending() -> tuple[Account, dict] | None:
    data = flask_session.get(PENDING_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("a"), int):
        return None
    if int(utcnow().timestamp()) - int(data.get("t", 0)) > mfa.CHALLENGE_SECONDS:
        flask_session.pop(PENDING_KEY, None)
        return None
    account = session.get(Account, data["a"])
    if account is None or not account.active:
        return None
    return account, data


def _second_step_done(account: Account, data: dict, factor: str) -> str | None:
    user = start_session_for(account)
    if user is None:
        return None
    return _complete_sign_in(user, account, remember=bool(data.get("r")), target=data.get("n") or "",
                             second_factor=factor)


@bp.route("/verify", methods=["GET", "POST"])
@access(public=True)
def verify():
    """The second step of signing in: an authenticator code, a passkey, or a recovery code."""
    pending = _pending()
    if pending is None:
        flash(_("Please sign in again."), "info")
        return redirect(url_for(".login"))
    account, data = pending
    form = SecondStepForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            email, ip = account.email or f"account-{account.id}", client_ip()
            known = _known_device(account)
            wait = throttle.account_wait(email, known_device=known)
            if not wait:
                # Counted before the code is checked, as at the first step: codes sent at once are not all tried.
                device = devices.current()
                attempt = throttle.claim(email, ip, known_device=known, device=throttle.device_key(
                    device.id, account.id) if device.knows(account.id) else None)
                if attempt.wait:
                    throttle.release(attempt)
                    session.commit()
                    wait = attempt.wait
            if wait:
                form.code.errors.append(ngettext("Too many wrong codes. Wait %(num)s second and try again.",
                                                 "Too many wrong codes. Wait %(num)s seconds and try again.", wait))
                return _verify_page(account, form), 429
            factor = "totp" if mfa.check_totp(account, form.code.data) else \
                "recovery" if mfa.use_recovery_code(account, form.code.data) else None
            if factor:
                throttle.release(attempt)  # the right code: not a failure
            target = _second_step_done(account, data, factor) if factor else None
            if target:
                if factor == "recovery":
                    flash(_("You used a recovery code; each works once. Make new ones on your Security page "
                            "when you run low."), "info")
                return redirect(target)
            session.rollback()
            _failed_attempt(email, ip, account, "code", counted=attempt)
            session.commit()
            form.code.errors.append(
                _("That code is not right. Type the newest code from your app, or a recovery code."))
    return _verify_page(account, form), status


def _verify_page(account: Account, form: SecondStepForm) -> str:
    have = mfa.methods(account)
    return render_template("portal/auth/verify.html", form=form, has_totp=have["totp"] is not None,
                           has_passkeys=bool(have["passkeys"]), passkey_form=PasskeyNameForm(formdata=None))


@bp.post("/verify/passkey/options")
@access(public=True)
def verify_passkey_options():
    pending = _pending()
    if pending is None:
        return jsonify(error=_("Please sign in again.")), 400
    options = mfa.authentication_options(pending[0])
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/verify/passkey")
@access(public=True)
def verify_passkey():
    pending = _pending()
    if pending is None:
        flash(_("Please sign in again."), "info")
        return redirect(url_for(".login"))
    account, data = pending
    form = PasskeyNameForm()
    email, ip = account.email or f"account-{account.id}", client_ip()
    if throttle.account_wait(email, known_device=_known_device(account)):
        flash(_("Too many failed attempts. Wait a little and try again."), "danger")
        return redirect(url_for(".verify")), 303
    try:
        credential = mfa.describe_credential(form.credential.data or "")
        ok = mfa.check_passkey(account, credential)
    except mfa.MfaError:
        ok = False
    target = _second_step_done(account, data, "passkey") if ok else None
    if target:
        return redirect(target)
    session.rollback()
    _failed_attempt(email, ip, account, "passkey")
    session.commit()
    flash(_("That passkey could not be checked. Try again, or use a code."), "danger")
    return redirect(url_for(".verify")), 303


@bp.get("/schools")
@access(account=True)
def schools():
    """Choose the school to work in (people with more than one school, or a trust role)."""
    account = account_of(current_user)
    only = sessions.confined_to()
    places = [s for s in account_schools(account.id) if only is None or s.id == only]
    remember_places(account)
    target = request.args.get("next", "")
    return render_template("portal/auth/schools.html", schools=places,
                           trusts=trusts_of(account.id) if only is None else [],
                           form=ChooseSchoolForm(next=target if is_safe_redirect(target) else ""),
                           current_id=getattr(current_user, "school_id", None))


@bp.post("/schools")
@access(account=True)
def choose():
    form = ChooseSchoolForm()
    account = account_of(current_user)
    if not form.validate_on_submit() or form.school_id.data not in account_school_ids(account.id):
        abort(404)
    if sessions.confined_to() not in (None, form.school_id.data):
        abort(404)  # a session opened from the LMS stays in its school
    choose_school(form.school_id.data)
    account.last_school_id = form.school_id.data
    session.commit()
    target = form.next.data
    return redirect(target if is_safe_redirect(target) else url_for("portal.home"))


@bp.post("/logout")
@access(account=True)
def logout():
    row = sessions.current()
    if row is not None:
        sessions.end(row, "signed_out", actor=current_user)
        session.commit()
    logout_user()
    flask_session.pop("portal_via_lti", None)
    flask_session.pop(PLACES_KEY, None)
    flash(_("You have signed out."), "info")
    return redirect(url_for("portal.auth.login"))


@bp.post("/language")
@access(public=True)
def language():
    """Choose the language of the pages (and, when signed in, of emails): kept on the account for
    someone signed in (one choice across schools), in the session for a visitor."""
    from portal.i18n import SESSION_KEY, normalise, note_visitors_pick

    form = LanguageForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the languages in the list."), "danger")
        return redirect(url_for("portal.home")), 303
    code = normalise(form.language.data)
    account = account_of(current_user)
    if account is None:
        note_visitors_pick(code)
    else:
        # A session opened from the LMS keeps its pick for this browser only (review finding: it changed the
        # account's language, which every school's emails follow, like the account-wide settings it may not touch).
        if sessions.confined_to() is None:
            before = account.language
            account.language = code
            audit.record("account.language_changed", actor=current_user, target=account, before=before, after=code)
            session.commit()
        flask_session[SESSION_KEY] = code
    target = form.next.data
    return redirect(target if is_safe_redirect(target) else url_for("portal.home"), 303)


@bp.route("/forgot", methods=["GET", "POST"])
@access(public=True)
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        key = f"reset:{email}"
        limit = current_app.config["PORTAL_RESET_MAX_REQUESTS"]
        if not throttle.is_limited(key, f"reset-ip:{client_ip()}", limit=limit):
            throttle.note_failure(key, f"reset-ip:{client_ip()}")  # counts requests: links cannot be spammed
            session.commit()
            # Queued whether or not the address has an account: the answer takes the same time either way.
            ask_for_reset(email)
        # Same answer whether or not the account exists.
        flash(_("If that address has an account, we have sent a link to reset the password. "
                "It works for one hour."), "info")
        return redirect(url_for("portal.auth.login"))
    return render_template("portal/auth/forgot.html", form=form)


def _set_password_page(token: str, purpose: str, template: str):
    try:
        person = read_token(token, purpose)
    except TokenError as exc:
        return render_template("portal/auth/link_problem.html", message=str(exc)), 400
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            account = person.account if isinstance(person, Account) else account_for(person)
        except TokenError as exc:
            return render_template("portal/auth/link_problem.html", message=str(exc)), 400
        sessions.end_all(account.id, "password_changed", actor=person)  # a copied cookie stops working
        account.password_hash = hash_password(cast(str, form.password.data))  # validated: DataRequired
        spend_token(token)
        audit.record("auth.password_set", actor=person, target=person, via=purpose.split("-")[-1],
                     school="current" if isinstance(person, Person) else None)
        session.commit()
        logout_user()
        flash(_("Your password is saved. Please sign in."), "success")
        return redirect(url_for("portal.auth.login"))
    return render_template(template, form=form, person=person)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@access(public=True)
def reset(token: str):
    return _set_password_page(token, RESET, "portal/auth/reset.html")


@bp.route("/invite/<token>", methods=["GET", "POST"])
@access(public=True)
def accept_invite(token: str):
    return _set_password_page(token, INVITE, "portal/auth/invite.html")
