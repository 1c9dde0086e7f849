"""The Security page of an account: two-step sign-in, sessions, recent sign-ins.

Every page here is open to any signed-in account (``@access(account=True)``), even one whose
grace period for two-step sign-in is over: these are the pages it is sent to.
"""
from __future__ import annotations

from typing import cast

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, logout_user

from portal import audit, devices
from portal.auth import mfa, sessions, throttle
from portal.auth.models import AccountSession
from portal.auth.passwords import verify_password
from portal.blueprints.auth import bp
from portal.blueprints.auth.forms import ButtonForm, PasskeyNameForm, PasswordCheckForm, TotpSetupForm
from portal.db import session, utcnow
from portal.security import access, account_of

#: The authenticator-app secret being set up, kept in the signed session cookie until confirmed.
TOTP_SETUP_KEY = "portal_totp_setup"


def _account():
    account = account_of(current_user)
    if account is None:
        abort(403)
    if sessions.confined_to() is not None:
        # Opened from the LMS: the account's sign-in settings (its other sessions, devices and second
        # factors, in every school) are for someone who signed in to Countersign itself.
        abort(make_response(render_template("portal/auth/from_lms.html"), 403))
    return account


@bp.get("/security")
@access(account=True)
def security():
    account = _account()
    current = sessions.current()
    have = mfa.methods(account)
    # Failed sign-ins: the account's failures less the wrong passwords typed on this page, which count towards
    # the same delays but are not sign-ins (walk: they alarmed the teacher as "failed attempts to sign in").
    failed = max(0, throttle.count(throttle.account_key(account.email), 24 * 3600)
                 - throttle.count(f"confirm:{account.id}", 24 * 3600)) if account.email else 0
    return render_template(
        "portal/auth/security.html", account=account, have=have, required=mfa.required(account),
        grace_ends=mfa.grace_ends(account), overdue=mfa.overdue(account),
        live=sessions.live_sessions(account.id), recent=sessions.recent_sign_ins(account.id),
        current_id=current.id if current is not None else None, device_id=devices.current().id,
        label=sessions.user_agent_label, failed=failed, button=ButtonForm(), remove_form=PasswordCheckForm(),
        passkey_form=PasskeyNameForm(formdata=None))


@bp.post("/security/sessions/<portal_id:session_id>/end")
@access(account=True)
def end_session(session_id: int):
    account = _account()
    if not ButtonForm().validate_on_submit():
        abort(400)
    row = session.get(AccountSession, session_id)
    if row is None or row.account_id != account.id:
        abort(404)
    current = sessions.current()
    sessions.end(row, "ended_by_user", actor=current_user)
    session.commit()
    if current is not None and current.id == row.id:
        logout_user()
        flash(_("You have signed out."), "info")
        return redirect(url_for(".login"))
    flash(_("That session has been signed out."), "success")
    return redirect(url_for(".security"))


@bp.post("/security/sessions/end-others")
@access(account=True)
def end_other_sessions():
    account = _account()
    if not ButtonForm().validate_on_submit():
        abort(400)
    current = sessions.current()
    n = sessions.end_all(account.id, "signed_out_everywhere", except_id=current.id if current else None,
                         actor=current_user)
    session.commit()
    flash(ngettext("Signed out of %(num)d other session.", "Signed out of %(num)d other sessions.", n) if n
          else _("There were no other sessions."),
          "success")
    return redirect(url_for(".security"))


@bp.post("/security/sessions/end-all")
@access(account=True)
def end_all_sessions():
    account = _account()
    if not ButtonForm().validate_on_submit():
        abort(400)
    sessions.end_all(account.id, "signed_out_everywhere", actor=current_user)
    session.commit()
    logout_user()
    flash(_("You have signed out everywhere."), "info")
    return redirect(url_for(".login"))


# ------------------------------------------------------------------ the password again, before adding a second step

#: When the password was last typed on the Security page's "Confirm your password" (seconds since the epoch).
CONFIRMED_KEY = "portal_password_confirmed_at"
#: Where "Confirm your password" leads back to.
_CONFIRM_NEXT = {"app": ".totp_setup"}


def _recently_confirmed() -> bool:
    """The password was typed in this browser within ``PORTAL_REAUTH_SECONDS``: at sign-in (the session is that
    new) or on "Confirm your password".

    Security probe: at a browser left signed in, anyone could add their own authenticator app (which signs the
    owner out everywhere else and shows the new recovery codes) and lock the owner out, with no password and no
    email. Removing a second step already asked for the password; adding one, or new recovery codes, does now."""
    window = int(current_app.config["PORTAL_REAUTH_SECONDS"])
    now = utcnow()
    row = sessions.current()
    if row is not None and row.created_at is not None and row.via != "lti" \
            and (now - row.created_at).total_seconds() < window:
        return True
    at = flask_session.get(CONFIRMED_KEY)
    return isinstance(at, (int, float)) and 0 <= now.timestamp() - at < window


def _confirm_first(then: str | None = None):
    """Send the browser to "Confirm your password" (and back to *then*, one of :data:`_CONFIRM_NEXT`)."""
    flash(_("For your account's safety, type your password again before you change two-step sign-in."), "info")
    target = url_for(".confirm_password", next=then) if then else url_for(".confirm_password")
    return redirect(target, 303)


@bp.route("/security/confirm", methods=["GET", "POST"])
@access(account=True)
def confirm_password():
    account = _account()
    then = request.values.get("next")
    target = _CONFIRM_NEXT.get(then or "", ".security")
    if request.method == "POST" and _password_confirmed(account, _("That password is not right.")):
        flask_session[CONFIRMED_KEY] = utcnow().timestamp()
        return redirect(url_for(target))
    return render_template("portal/auth/confirm_password.html", form=PasswordCheckForm(formdata=None),
                           then=then if then in _CONFIRM_NEXT else None), 400 if request.method == "POST" else 200


def _tell_holder(account, what: str) -> None:
    """Email the holder that a second step was added (or new recovery codes made), in their language."""
    from portal.auth.links import tell_holder_of_second_step

    tell_holder_of_second_step(account, what)


# ------------------------------------------------------------------ authenticator app


@bp.route("/security/app", methods=["GET", "POST"])
@access(account=True)
def totp_setup():
    account = _account()
    if mfa.methods(account)["totp"] is not None:
        flash(_("An authenticator app is already set up."), "info")
        return redirect(url_for(".security"))
    form = TotpSetupForm()
    secret = mfa.open_pending(flask_session.get(TOTP_SETUP_KEY))
    # A secret being set up was shown after the password (so a slow scan of the code is not sent back).
    if not _recently_confirmed() and (request.method == "GET" or secret is None):
        return _confirm_first("app")
    if request.method == "GET" or secret is None:
        secret = mfa.new_totp_secret()
        flask_session[TOTP_SETUP_KEY] = mfa.seal_pending(secret)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                mfa.add_totp(account, secret, form.code.data)
            except mfa.MfaError as exc:
                form.code.errors.append(str(exc))
            else:
                flask_session.pop(TOTP_SETUP_KEY, None)
                page = _after_first_factor(account, _("Two-step sign-in is on: your authenticator app is set up."))
                _tell_holder(account, "app")
                return page
    uri = mfa.provisioning_uri(secret, account)
    return render_template("portal/auth/totp_setup.html", form=form, qr=mfa.qr_svg(uri),
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4))), status


def _after_first_factor(account, message: str):
    """Commit; with no recovery codes yet, make them and show them once."""
    if mfa.methods(account)["recovery_left"] == 0:
        codes = mfa.new_recovery_codes(account)
        session.commit()
        flash(message, "success")
        return render_template("portal/auth/recovery_codes.html", codes=codes)
    session.commit()
    flash(message, "success")
    return redirect(url_for(".security"))


def _password_confirmed(account, refused: str | None = None) -> bool:
    """The password typed to remove a second factor is right. Wrong ones count towards the account's sign-in
    delays (and the email to the holder), and after ``PORTAL_LOGIN_FREE_ATTEMPTS`` of them in the window no
    more are checked. Security probe: with a session in hand (a copied cookie, a classroom computer left
    signed in), this form let anyone try passwords without limit, and keep a found one after "sign out
    everywhere"."""
    refused = refused or _("That password is not right, so nothing was removed.")
    form = PasswordCheckForm()
    if not form.validate_on_submit():  # an empty box or a stale form: not a wrong password
        flash(refused, "danger")
        return False
    # Counted before the check, as sign-in is (review: a burst of removals was all checked).
    attempt = throttle.claim_check(
        f"confirm:{account.id}", throttle.account_key(account.email or f"account-{account.id}"),
        limit=int(current_app.config["PORTAL_LOGIN_FREE_ATTEMPTS"]))
    if attempt.refused:
        throttle.release(attempt)
        session.commit()
        flash(_("Too many wrong passwords. For the account's safety, try again in %(minutes)s minutes.",
                minutes=int(current_app.config["PORTAL_LOGIN_WINDOW_SECONDS"]) // 60), "danger")
        return False
    if verify_password(account.password_hash, cast(str, form.password.data)):
        throttle.release(attempt)
        session.commit()
        return True
    audit.record("auth.password_check_failed", school=None, account_id=account.id)
    if attempt.delays_start:
        from portal.auth.links import tell_holder_of_failures

        tell_holder_of_failures(account)
    session.commit()
    flash(refused, "danger")
    return False


@bp.post("/security/app/remove")
@access(account=True)
def totp_remove():
    account = _account()
    if not _password_confirmed(account):
        return redirect(url_for(".security")), 303
    if mfa.remove_totp(account):
        session.commit()
        flash(_("The authenticator app is removed.") if mfa.enrolled(account) else
              _("The authenticator app is removed. Two-step sign-in is off."), "success")
    return redirect(url_for(".security"))


# ------------------------------------------------------------------ recovery codes


@bp.post("/security/recovery-codes")
@access(account=True)
def recovery_codes():
    account = _account()
    if not ButtonForm().validate_on_submit():
        abort(400)
    if not mfa.enrolled(account):
        flash(_("Set up an authenticator app or a passkey first."), "warning")
        return redirect(url_for(".security"))
    if not _recently_confirmed():
        return _confirm_first()
    codes = mfa.new_recovery_codes(account)
    session.commit()
    _tell_holder(account, "codes")
    return render_template("portal/auth/recovery_codes.html", codes=codes)


# ------------------------------------------------------------------ passkeys


@bp.post("/security/passkeys/options")
@access(account=True)
def passkey_options():
    account = _account()
    if not _recently_confirmed():  # the page's script says so and offers "Confirm your password"
        return current_app.response_class('{"confirm": true}', status=403, mimetype="application/json")
    return current_app.response_class(mfa.registration_options(account), mimetype="application/json")


@bp.post("/security/passkeys")
@access(account=True)
def passkey_add():
    account = _account()
    if not _recently_confirmed():
        return _confirm_first()
    form = PasskeyNameForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "danger")
        return redirect(url_for(".security")), 303
    try:
        factor = mfa.add_passkey(account, mfa.describe_credential(form.credential.data or ""), form.name.data)
    except mfa.MfaError as exc:
        session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".security")), 303
    page = _after_first_factor(account, _("The passkey “%(name)s” is added.", name=factor.name))
    _tell_holder(account, "passkey")
    return page


@bp.post("/security/passkeys/<portal_id:passkey_id>/remove")
@access(account=True)
def passkey_remove(passkey_id: int):
    account = _account()
    if not _password_confirmed(account):
        return redirect(url_for(".security")), 303
    if not mfa.remove_passkey(account, passkey_id):
        abort(404)
    session.commit()
    flash(_("The passkey is removed.") if mfa.enrolled(account) else
          _("The passkey is removed. Two-step sign-in is off."), "success")
    return redirect(url_for(".security"))

