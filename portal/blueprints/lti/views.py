"""OIDC login initiation, launch, JWKS and the deep-linking choice (all public: the LMS calls them)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pylti1p3.contrib.flask import FlaskOIDCLogin, FlaskRequest
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.lineitem import LineItem
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.auth import sessions
from portal.blueprints.lti import bp
from portal.db import session
from portal.headers import set_directive
from portal.ids import row_id
from portal.lti import keys, operations
from portal.lti.models import LtiRegistration
from portal.lti.tool import (
    DbLaunchDataStorage,
    DbToolConf,
    PortalMessageLaunch,
    find_registration_row,
    http_session,
    loggable,
    purge_expired,
    refusal_reason,
    registration_for,
)
from portal.people.models import Person, Role, UsedToken
from portal.schools.context import choose_school
from portal.security import access

log = logging.getLogger("portal.lti")

DL_SALT = "portal-lti-deep-link"
DL_MAX_AGE = 3600


def _refuse(message: str, status: int = 400):
    session.rollback()
    return render_template("portal/lti/error.html", message=message), status


@bp.route("/login", methods=["GET", "POST"])
@access(public=True)
def login():
    """Step 1 (third-party initiated login): send the browser back to the LMS with state and nonce."""
    purge_expired()
    oidc = FlaskOIDCLogin(FlaskRequest(), DbToolConf(), launch_data_storage=DbLaunchDataStorage())
    try:
        response = oidc.redirect(url_for(".launch", _external=True))
    except (OIDCException, LtiException) as exc:
        log.warning("LTI login refused: %s (issuer %r)", loggable(exc), loggable(request.values.get("iss", "")))
        return _refuse("This LMS is not registered with Countersign, or the login request was incomplete.")
    session.commit()
    return response


@bp.post("/launch")
@access(public=True)
def launch():
    """Step 2: validate the signed id_token, spend its nonce, sign the person in and send them on."""
    # A refusal is logged as a warning with its reason (what the LMS sent that did not match), so that
    # the school can act on it; never the token, nor who the person is.
    ml = None
    try:
        ml = PortalMessageLaunch(
            FlaskRequest(),
            DbToolConf(),
            launch_data_storage=DbLaunchDataStorage(),
            requests_session=http_session(),
        )
        claims = ml.get_launch_data()
    except (LtiException, OIDCException, AssertionError) as exc:
        log.warning("LTI launch refused: %s", refusal_reason(exc, ml))
        return _refuse(
            _("This launch could not be checked. Go back to your course and open the activity again.")
        )
    deployment_id = str(claims.get("https://purl.imsglobal.org/spec/lti/claim/deployment_id") or "")
    reg = find_registration_row(claims["iss"], ml.get_client_id(), deployment_id)
    if reg is None:
        log.warning("LTI launch refused: deployment id %r not registered for issuer %r, client id %r",
                    deployment_id, claims["iss"], ml.get_client_id())
        return _refuse(_("This LMS is not registered with Countersign."))
    school_id = reg.school_id
    choose_school(school_id)  # the deployment names the school; everything below is scoped to it
    if not operations.spend_nonce(reg.issuer, str(claims.get("nonce"))):
        log.warning("LTI launch refused: nonce already used, the launch was sent again (issuer %r, school %s)",
                    reg.issuer, school_id)
        return _refuse(
            _("This launch has already been used. Go back to your course and open the activity again.")
        )
    try:
        with session.begin_nested():  # a refused launch writes nothing but its spent nonce
            person = operations.person_for_launch(reg, claims)
    except operations.LaunchRefused as exc:
        session.commit()
        log.warning("LTI launch refused by Countersign (issuer %r, school %s): %s", reg.issuer, school_id, exc.message)
        return render_template("portal/lti/error.html", message=_(exc.message)), exc.status
    if ml.is_deep_link_launch():
        if not person.role_set & {Role.TEACHER, Role.ADMIN}:
            session.commit()
            return render_template(
                "portal/lti/error.html", message=_l("Only teachers can add Countersign activities to a course.")
            ), 403
        settings = claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings") or {}
        token = _dl_serializer().dumps(
            {
                "school": school_id,
                "reg": reg.id,
                "person": person.id,
                "jti": uuid.uuid4().hex,
                "dep": claims.get("https://purl.imsglobal.org/spec/lti/claim/deployment_id"),
                "settings": {k: settings.get(k) for k in ("deep_link_return_url", "data", "accept_types")},
            }
        )
        session.commit()
        return render_template(
            "portal/lti/pick.html", versions=_published_versions(), token=token, error=None
        )
    operations.record_context(reg, person, claims)
    operations.record_grade_link(reg, person, claims)
    session.commit()
    flask_session.clear()  # no fixation: a fresh session for the launched person
    choose_school(school_id)
    # A server session, ended like any other, held to this school (portal/auth/sessions.py: confined_to).
    sessions.sign_in(person, person.account, via="lti", only_school_id=school_id)
    session.commit()
    flask_session["portal_via_lti"] = True  # signatures in this session are made "in the LMS"
    if person.has_role(Role.PARENT) and operations.waiting_links_of(person):
        # Nothing about the child is shown until the school has approved the link.
        flash(_("Your LMS says you are the parent or carer of a pupil here. The school checks this first: "
              "you will see your child in Countersign once the school has approved the link."), "info")
    return redirect(_target(reg, person, claims))


def _target(reg: LtiRegistration, person: Person, claims: dict) -> str:
    version_id = operations.version_from_claims(claims)
    if version_id is None:
        return url_for("portal.home")
    pupil_id = None
    if person.has_role(Role.PARENT):
        mentees = operations.mentee_ids(person, reg.issuer, claims)
        if len(mentees) == 1:
            pupil_id = mentees[0]
    return sign_url(version_id, pupil_id)


def sign_url(version_id: int, pupil_id: int | None = None) -> str:
    """The signing page of a policy version (``portal.policies.sign`` once it exists)."""
    args: dict[str, Any] = {"version_id": version_id}
    if pupil_id is not None:
        args["pupil_id"] = pupil_id
    if "portal.policies.sign" in current_app.view_functions:
        return url_for("portal.policies.sign", **args)
    prefix = current_app.config["PORTAL_URL_PREFIX"] or ""
    url = f"{prefix}/policies/versions/{version_id}/sign"
    return url + (f"?pupil_id={pupil_id}" if pupil_id is not None else "")


@bp.get("/jwks")
@access(public=True)
def jwks():
    """The tool's public keys (the LMS's "Public keyset" URL)."""
    keys.ensure_key()
    response = jsonify(keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# ---------------------------------------------------------------- deep linking


def _dl_serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.secret_key, salt=DL_SALT)


def _published_versions():
    from portal.policies.models import Policy, PolicyVersion, VersionStatus

    return session.execute(
        select(PolicyVersion, Policy)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .where(PolicyVersion.status == VersionStatus.PUBLISHED.value)
        .order_by(Policy.title)
    ).all()


@bp.post("/deep-link")
@access(public=True)
def deep_link():
    """Step 3 of deep linking: the teacher chose a policy; return a signed LtiResourceLink to the LMS.

    Authenticated by the signed, single-use token issued with the picker (not by a cookie, which
    an LMS iframe may not send back).
    """
    from itsdangerous import BadSignature, SignatureExpired
    from pylti1p3.deep_link import DeepLink

    from portal.policies.models import PolicyVersion, VersionStatus

    raw = request.form.get("token", "")
    try:
        data = _dl_serializer().loads(raw, max_age=DL_MAX_AGE)
    except SignatureExpired:
        return _refuse(_("This page has expired. Go back to your course and add the activity again."))
    except BadSignature:
        abort(400)
    if not isinstance(data.get("school"), int):
        abort(400)
    choose_school(data["school"])
    reg = session.get(LtiRegistration, data["reg"])
    person = session.get(Person, data["person"])
    if reg is None or person is None or not person.active:
        abort(400)
    version = session.get(PolicyVersion, request.form.get("version_id", type=row_id) or 0)
    if version is None or version.status != VersionStatus.PUBLISHED.value:
        return render_template(
            "portal/lti/pick.html",
            versions=_published_versions(),
            token=raw,
            error=_("Choose one of the published policies."),
        ), 400
    try:
        with session.begin_nested():
            session.add(UsedToken(digest=hashlib.sha256(("lti-dl:" + data["jti"]).encode()).hexdigest()))
            session.flush()
    except IntegrityError:
        return _refuse(_("This choice was already sent to the LMS."))
    title = f"Sign: {version.policy.title}"[:200]
    resource = (
        DeepLinkResource()
        .set_url(url_for(".launch", _external=True))
        .set_title(title)
        .set_custom_params({operations.VERSION_PARAM: str(version.id)})
        .set_lineitem(
            LineItem().set_score_maximum(1).set_label(title).set_resource_id(f"policy-version-{version.id}")
        )
    )
    link = DeepLink(registration_for(reg), data["dep"], data["settings"])
    jwt_value = link.get_response_jwt([resource])
    audit.record("lti.deep_link_created", actor=person, target=version, registration=reg.id)
    session.commit()
    return_url = data["settings"]["deep_link_return_url"]
    response = make_response(render_template(
        "portal/lti/deep_link_return.html",
        jwt=jwt_value,
        return_url=return_url,
        title=title,
    ))
    # This one form posts to the LMS: the policy's form-action allows that origin here only.
    parts = urlsplit(str(return_url or ""))
    if parts.scheme in ("https", "http") and parts.netloc:
        set_directive(response, "form-action", f"'self' {parts.scheme}://{parts.netloc}")
    return response
