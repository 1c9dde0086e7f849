"""Sign-in with email and password, invitations, and password reset."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from portal import audit
from portal.auth import throttle
from portal.auth.passwords import hash_password, verify_password
from portal.auth.tokens import INVITE, RESET, TokenError, account_for, make_token, read_token, spend_token
from portal.blueprints.auth import bp
from portal.blueprints.auth.forms import ChooseSchoolForm, ForgotForm, LoginForm, SetPasswordForm
from portal.db import session
from portal.mail import MailError, send_mail
from portal.people.models import Account, Person
from portal.schools.context import account_school_ids, account_schools, choose_school, trusts_of
from portal.schools.signin import PLACES_KEY, remember_places, start_session_for
from portal.security import access, account_of, client_ip, is_safe_redirect


def _find_account(email: str) -> Account | None:
    return session.scalar(select(Account).where(Account.email == email.strip().lower()))


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
        account = _find_account(email)
        user = None
        if account is not None and account.active and verify_password(account.password_hash, form.password.data):
            # None when the account has no active place in any school (switched off): refused
            # with the same words as a wrong password.
            user = start_session_for(account)
        if user is not None and account is not None:
            throttle.clear(f"email:{email}")
            audit.record("auth.login", actor=user, target=user, school="current" if not user.is_account else None)
            session.commit()
            flask_session.pop("portal_via_lti", None)  # a portal sign-in is not an LMS launch
            login_user(user, remember=form.remember.data)
            target = form.next.data
            if remember_places(account):
                return redirect(url_for("portal.auth.schools", next=target if is_safe_redirect(target) else None))
            return redirect(target if is_safe_redirect(target) else url_for("portal.home"))
        if account is None:
            verify_password(None, form.password.data)
        throttle.note_failure(*keys)
        session.commit()
        flash("That email address and password do not match an account.", "danger")
    return render_template("portal/auth/login.html", form=form)


@bp.get("/schools")
@access(account=True)
def schools():
    """Choose the school to work in (people with more than one school, or a trust role)."""
    account = account_of(current_user)
    places = account_schools(account.id)
    remember_places(account)
    target = request.args.get("next", "")
    return render_template("portal/auth/schools.html", schools=places, trusts=trusts_of(account.id),
                           form=ChooseSchoolForm(next=target if is_safe_redirect(target) else ""),
                           current_id=getattr(current_user, "school_id", None))


@bp.post("/schools")
@access(account=True)
def choose():
    form = ChooseSchoolForm()
    account = account_of(current_user)
    if not form.validate_on_submit() or form.school_id.data not in account_school_ids(account.id):
        abort(404)
    choose_school(form.school_id.data)
    account.last_school_id = form.school_id.data
    session.commit()
    target = form.next.data
    return redirect(target if is_safe_redirect(target) else url_for("portal.home"))


@bp.post("/logout")
@access(account=True)
def logout():
    logout_user()
    flask_session.pop("portal_via_lti", None)
    flask_session.pop(PLACES_KEY, None)
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
            account = _find_account(email)
            session.commit()
            if account is not None and account.active:
                _send_link(account, RESET)
        # Same answer whether or not the account exists.
        flash("If that address has an account, we have sent a link to reset the password. "
              "It works for one hour.", "info")
        return redirect(url_for("portal.auth.login"))
    return render_template("portal/auth/forgot.html", form=form)


def _send_link(person: Person | Account, purpose: str) -> bool:
    token = make_token(person, purpose)
    endpoint = "portal.auth.reset" if purpose == RESET else "portal.auth.accept_invite"
    link = url_for(endpoint, token=token, _external=True)
    name = person.given_name if isinstance(person, Person) else (person.display_name.split(" ")[0] or "there")
    if purpose == RESET:
        subject = "Reset your Countersign password"
        body = (f"Hello {name},\n\nSomeone asked to reset the password of your school portal "
                f"account. If it was you, open this link within one hour:\n\n{link}\n\n"
                "If it was not you, you can ignore this message.\n")
    else:
        days = current_app.config["PORTAL_INVITE_MAX_AGE"] // 86400
        subject = "You are invited to the school portal"
        body = (f"Hello {name},\n\nYour school uses Countersign for its policies and for "
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
        try:
            account = person.account if isinstance(person, Account) else account_for(person)
        except TokenError as exc:
            return render_template("portal/auth/link_problem.html", message=str(exc)), 400
        account.password_hash = hash_password(form.password.data)
        spend_token(token)
        audit.record("auth.password_set", actor=person, target=person, via=purpose.split("-")[-1],
                     school="current" if isinstance(person, Person) else None)
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
