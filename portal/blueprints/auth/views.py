"""Sign-in with email and password, invitations, and password reset."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_login import login_user, logout_user
from sqlalchemy import func, select

from portal import audit
from portal.auth import throttle
from portal.auth.passwords import hash_password, verify_password
from portal.auth.tokens import INVITE, RESET, TokenError, make_token, read_token, spend_token
from portal.blueprints.auth import bp
from portal.blueprints.auth.forms import ForgotForm, LoginForm, SetPasswordForm
from portal.db import session
from portal.mail import MailError, send_mail
from portal.people.models import Person
from portal.security import access, client_ip, is_safe_redirect


def _find_by_email(email: str) -> Person | None:
    return session.scalar(select(Person).where(func.lower(Person.email) == email.strip().lower()))


@bp.route("/login", methods=["GET", "POST"])
@access(public=True)
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        keys = (f"email:{email}", f"ip:{client_ip()}")
        if throttle.is_limited(*keys):
            session.commit()
            flash("Too many attempts. Wait 15 minutes, or reset your password.", "danger")
            return render_template("portal/auth/login.html", form=form), 429
        person = _find_by_email(email)
        if person is not None and person.active and verify_password(person.password_hash, form.password.data):
            throttle.clear(f"email:{email}")
            audit.record("auth.login", actor=person, target=person)
            session.commit()
            flask_session.pop("portal_via_lti", None)  # a portal sign-in is not an LMS launch
            login_user(person, remember=form.remember.data)
            target = form.next.data
            return redirect(target if is_safe_redirect(target) else url_for("portal.home"))
        if person is None:
            verify_password(None, form.password.data)
        throttle.note_failure(*keys)
        session.commit()
        flash("That email address and password do not match an account.", "danger")
    return render_template("portal/auth/login.html", form=form)


@bp.post("/logout")
@access()
def logout():
    logout_user()
    flask_session.pop("portal_via_lti", None)
    flash("You have signed out.", "info")
    return redirect(url_for("portal.auth.login"))


@bp.route("/forgot", methods=["GET", "POST"])
@access(public=True)
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        key = f"reset:{email}"
        if not throttle.is_limited(key, f"ip:{client_ip()}"):
            throttle.note_failure(key)  # counts requests, so links cannot be spammed
            person = _find_by_email(email)
            session.commit()
            if person is not None and person.active:
                _send_link(person, RESET)
        # Same answer whether or not the account exists.
        flash("If that address has an account, we have sent a link to reset the password. "
              "It works for one hour.", "info")
        return redirect(url_for("portal.auth.login"))
    return render_template("portal/auth/forgot.html", form=form)


def _send_link(person: Person, purpose: str) -> bool:
    token = make_token(person, purpose)
    endpoint = "portal.auth.reset" if purpose == RESET else "portal.auth.accept_invite"
    link = url_for(endpoint, token=token, _external=True)
    if purpose == RESET:
        subject = "Reset your Countersign password"
        body = (f"Hello {person.given_name},\n\nSomeone asked to reset the password of your school portal "
                f"account. If it was you, open this link within one hour:\n\n{link}\n\n"
                "If it was not you, you can ignore this message.\n")
    else:
        days = current_app.config["PORTAL_INVITE_MAX_AGE"] // 86400
        subject = "You are invited to the school portal"
        body = (f"Hello {person.given_name},\n\nYour school uses Countersign for its policies and for "
                f"raising concerns privately. Open this link within {days} days to choose a password:\n\n"
                f"{link}\n")
    try:
        send_mail(person.email or "", subject, body)
    except MailError:
        return False
    return True


def send_invitation(person: Person) -> bool:
    """Email *person* an invitation link (used by the admin pages and the CLI)."""
    return _send_link(person, INVITE)


def _set_password_page(token: str, purpose: str, template: str):
    try:
        person = read_token(token, purpose)
    except TokenError as exc:
        return render_template("portal/auth/link_problem.html", message=str(exc)), 400
    form = SetPasswordForm()
    if form.validate_on_submit():
        person.password_hash = hash_password(form.password.data)
        spend_token(token)
        audit.record("auth.password_set", actor=person, target=person, via=purpose.split("-")[-1])
        session.commit()
        logout_user()
        flash("Your password is saved. Please sign in.", "success")
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
