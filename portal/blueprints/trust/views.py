"""Trust pages. Each view scopes the database session to the trust's schools itself.

* trust admin: add schools, import a roster into any of them;
* trust auditor: records of every school, one ZIP with a folder and manifest per school;
* trust safeguarding lead: counts and overdue figures per school; the text only of concerns a
  school's DSL has shared with the trust;
* trust compliance: who has signed, per school, side by side.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, cast

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, func, select
from sqlalchemy.orm import load_only

from portal import audit
from portal.blueprints.trust import bp
from portal.blueprints.trust.forms import NewSchoolForm, TrustRecordsForm, TrustRosterForm
from portal.concerns.models import OPEN_STATUSES, Concern, Route, Status
from portal.db import session
from portal.policies.models import AUDIENCE_LABELS, Audience
from portal.records.archive import archive_store
from portal.records.models import RecordStatus, SignedRecord
from portal.schools.context import trust_roles_of
from portal.schools.isolation import PortalSession, school_scope, schools_scope
from portal.schools.models import School, Trust, TrustRole
from portal.security import access, account_of
from portal.signatures.models import Signature
from portal.templating import N_

ANY = tuple(TrustRole)


def _trust_or_404(trust_id: int, *roles: TrustRole) -> tuple[Trust, set[str]]:
    """The trust, if the signed-in account holds one of *roles* in it (any role when none given)."""
    account = account_of(current_user)
    held = trust_roles_of(account.id).get(trust_id, set())
    wanted = {r.value for r in roles} or {r.value for r in TrustRole}
    if not held & wanted:
        abort(404)
    trust = session.get(Trust, trust_id)
    if trust is None:
        abort(404)
    return trust, held


def _schools(trust: Trust) -> list[School]:
    return list(session.scalars(select(School).where(School.trust_id == trust.id).order_by(School.name)))


def _school_of(trust: Trust, school_id: int) -> School:
    school = session.get(School, school_id)
    if school is None or school.trust_id != trust.id:
        abort(404)
    return school


@bp.get("/")
@access(trust=ANY)
def index():
    account = account_of(current_user)
    trusts = list(session.scalars(select(Trust).where(Trust.id.in_(trust_roles_of(account.id))).order_by(Trust.name)))
    if len(trusts) == 1:
        return redirect(url_for(".home", trust_id=trusts[0].id))
    return render_template("portal/trust/index.html", trusts=trusts)


@bp.get("/<portal_id:trust_id>/")
@access(trust=ANY)
def home(trust_id: int):
    trust, held = _trust_or_404(trust_id)
    return render_template("portal/trust/home.html", trust=trust, held=held, schools=_schools(trust),
                           roles={r.value: r.label for r in TrustRole})


# ------------------------------------------------------------------ trust admin


@bp.route("/<portal_id:trust_id>/schools/new", methods=["GET", "POST"])
@access(trust=[TrustRole.ADMIN])
def new_school(trust_id: int):
    from portal.schools.operations import SchoolError, create_school

    trust, _held = _trust_or_404(trust_id, TrustRole.ADMIN)
    form = NewSchoolForm()
    if form.validate_on_submit():
        try:
            school = create_school(slug=cast(str, form.slug.data), name=cast(str, form.name.data),  # validated
                                   urn=form.urn.data or None, phases=form.phases.data or [], trust=trust,
                                   actor=account_of(current_user))
        except SchoolError as exc:
            session.rollback()
            form.slug.errors = [*form.slug.errors, str(exc)]
        else:
            session.commit()
            flash(_("%(school)s is added, with the default policies published. Import its roster next.",
                    school=school.name), "success")
            return redirect(url_for(".roster", trust_id=trust.id, school_id=school.id))
    return render_template("portal/trust/new_school.html", trust=trust, form=form), (400 if form.errors else 200)


@bp.route("/<portal_id:trust_id>/schools/<portal_id:school_id>/roster", methods=["GET", "POST"])
@access(trust=[TrustRole.ADMIN])
def roster(trust_id: int, school_id: int):
    from portal.people.importing import run_upload_import
    from portal.people.roster import STAFF_ROLE_NAMES, import_roster

    trust, _held = _trust_or_404(trust_id, TrustRole.ADMIN)
    school = _school_of(trust, school_id)
    form = TrustRosterForm()
    errors: list[str] = []
    if form.validate_on_submit():
        with school_scope(session, school.id):
            errors = run_upload_import(
                form.file.data, current_app.config["PORTAL_MAX_ROSTER_BYTES"],
                _("{name}: the file is larger than {mb} MB. Split it and import each part: classes and pupils "
                  "first, then parents and staff (a row may name people an earlier part added)."),
                lambda data, name: import_roster(data, name), "roster.csv") or []
        if not errors:
            return redirect(url_for(".roster", trust_id=trust.id, school_id=school.id))
    status = 400 if errors or form.errors else 200
    return render_template("portal/trust/roster.html", trust=trust, school=school, form=form, errors=errors,
                           roster_staff_roles=sorted(STAFF_ROLE_NAMES)), status


# ------------------------------------------------------------------ trust auditor


def _records_filter():
    from portal.records.queries import RecordFilter

    form = TrustRecordsForm(request.args)
    return form, RecordFilter(audience=request.args.get("audience") or None)


@bp.get("/<portal_id:trust_id>/records")
@access(trust=[TrustRole.AUDITOR])
def records(trust_id: int):
    trust, _held = _trust_or_404(trust_id, TrustRole.AUDITOR)
    schools = _schools(trust)
    audience = request.args.get("audience") or None
    if audience and audience not in {a.value for a in Audience}:
        abort(400)
    rows = []
    if schools:
        from portal.policies.models import Policy, PolicyVersion

        # Two counts per school from the indexes (signatures; sealed records), without joining
        # every signature to its record; an audience narrows both to its policies' versions.
        with schools_scope(session, [s.id for s in schools]):
            signatures = select(Signature.school_id, func.count()).group_by(Signature.school_id)
            sealed = (select(SignedRecord.school_id, func.count())
                      .where(SignedRecord.status == RecordStatus.SEALED.value).group_by(SignedRecord.school_id))
            if audience:
                versions = (select(PolicyVersion.id).join(Policy, Policy.id == PolicyVersion.policy_id)
                            .where(Policy.audience == audience))
                signatures = signatures.where(Signature.version_id.in_(versions))
                sealed = sealed.join(Signature, Signature.id == SignedRecord.signature_id).where(
                    Signature.version_id.in_(versions))
            totals = dict(session.execute(signatures).all())
            made = dict(session.execute(sealed).all())
        rows = [(s, totals.get(s.id, 0), made.get(s.id, 0)) for s in schools]
    return render_template("portal/trust/records.html", trust=trust, rows=rows, audience=audience,
                           audiences=[(a.value, label) for a, label in AUDIENCE_LABELS.items()])


@bp.get("/<portal_id:trust_id>/records/export.zip")
@access(trust=[TrustRole.AUDITOR])
def export_zip(trust_id: int):
    from portal.records.export import SchoolPart, stream_trust_export
    from portal.records.queries import RecordFilter

    trust, _held = _trust_or_404(trust_id, TrustRole.AUDITOR)
    audience = request.args.get("audience") or None
    if audience and audience not in {a.value for a in Audience}:
        abort(400)
    f = RecordFilter(audience=audience)
    account = account_of(current_user)
    parts = []
    for school in _schools(trust):
        with school_scope(session, school.id):
            audit.record("records.exported", filters=f.as_dict(), by_account=account.id, trust=trust.slug)
            head = audit.chain_head()
        parts.append(SchoolPart(school.id, school.slug, school.name, head, archive_store(school)))
    audit.record("trust.records_exported", actor=account, school=None, trust=trust.slug,
                 schools=[p.slug for p in parts], filters=f.as_dict())
    session.commit()
    engine = current_app.extensions["portal"].engine

    def body():
        db = PortalSession(bind=engine)
        try:
            yield from stream_trust_export(f, parts, db=db)
        finally:
            db.close()

    return Response(body(), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{trust.slug}-signed-records.zip"',
        "Cache-Control": "private, no-store"})


# ------------------------------------------------------------------ trust safeguarding lead


@bp.get("/<portal_id:trust_id>/safeguarding")
@access(trust=[TrustRole.SAFEGUARDING])
def safeguarding(trust_id: int):
    trust, _held = _trust_or_404(trust_id, TrustRole.SAFEGUARDING)
    schools = _schools(trust)
    today = dt.date.today()
    open_values = [s.value for s in OPEN_STATUSES]
    counts: dict[int, Any] = {}
    shared: list[Concern] = []
    if schools:
        with schools_scope(session, [s.id for s in schools]):
            # Most concerns are closed: the open ones are counted from the (school, status) index,
            # and the all-time total from the school index alone (no concern row is read for it),
            # in one statement, instead of reading and testing every concern the trust ever had.
            totals = select(Concern.school_id, func.count().label("total")).group_by(Concern.school_id).subquery()
            is_open = select(
                Concern.school_id,
                func.count().label("open"),
                func.count(case((Concern.route == Route.SAFEGUARDING.value, 1))).label("safeguarding"),
                func.count(case(((Concern.status == Status.NEW.value) & (Concern.ack_due < today), 1))).label("ack"),
                func.count(case((Concern.response_due < today, 1))).label("response"),
            ).where(Concern.status.in_(open_values)).group_by(Concern.school_id).subquery()
            stmt = select(totals.c.school_id, func.coalesce(is_open.c.open, 0),
                          func.coalesce(is_open.c.safeguarding, 0), func.coalesce(is_open.c.ack, 0),
                          func.coalesce(is_open.c.response, 0), totals.c.total,
                          ).outerjoin(is_open, is_open.c.school_id == totals.c.school_id)
            counts = {row[0]: row[1:] for row in session.execute(stmt)}
            # Only what the list shows (not the concerns' words).
            shared = list(session.scalars(
                select(Concern).options(load_only(Concern.id, Concern.school_id, Concern.subject,
                                                  Concern.shared_with_trust_at))
                .where(Concern.shared_with_trust_at.is_not(None))
                .order_by(Concern.shared_with_trust_at.desc()).limit(200)))
    rows = [(s, *(counts.get(s.id) or (0, 0, 0, 0, 0))) for s in schools]
    names = {s.id: s.name for s in schools}
    audit.record("trust.safeguarding_viewed", actor=account_of(current_user), school=None, trust=trust.slug)
    session.commit()
    return render_template("portal/trust/safeguarding.html", trust=trust, rows=rows, shared=shared, names=names,
                           today=today)


@bp.get("/<portal_id:trust_id>/safeguarding/<portal_id:school_id>/concerns/<portal_id:concern_id>")
@access(trust=[TrustRole.SAFEGUARDING])
def shared_concern(trust_id: int, school_id: int, concern_id: int):
    trust, _held = _trust_or_404(trust_id, TrustRole.SAFEGUARDING)
    school = _school_of(trust, school_id)
    with school_scope(session, school.id):
        concern = session.get(Concern, concern_id)
        if concern is None or concern.shared_with_trust_at is None:
            abort(404)
        messages = [m for m in concern.messages if not m.internal]
        audit.record("concern.read_by_trust", target=concern, by_account=account_of(current_user).id,
                     trust=trust.slug)
        page = render_template("portal/trust/shared_concern.html", trust=trust, school=school, concern=concern,
                               messages=messages)
    session.commit()
    response = current_app.make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------ trust compliance


@bp.get("/<portal_id:trust_id>/compliance")
@access(trust=[TrustRole.COMPLIANCE])
def compliance(trust_id: int):
    """Signing rates per audience, school by school: the stored counts of every school of the
    trust, recounted (in one statement for all of them) only for schools that changed since."""
    from portal.policies.compliance import cached_tallies

    trust, _held = _trust_or_404(trust_id, TrustRole.COMPLIANCE)
    schools = _schools(trust)
    table: dict[str, dict[int, Any]] = {}
    if schools:
        with schools_scope(session, [s.id for s in schools]):
            for (school_id, audience), counts in cached_tallies(("school", "audience")).items():
                table.setdefault(audience, {})[school_id] = counts.as_dict()
        session.commit()  # the counts of schools that changed, made again
    order = [a.value for a in Audience]
    audiences = sorted(table, key=order.index)
    return render_template("portal/trust/compliance.html", trust=trust, schools=schools, table=table,
                           audiences=audiences, labels={a.value: label for a, label in AUDIENCE_LABELS.items()})


#: The trust roles' words (portal/schools/models.py keeps them in English), for the catalogues.
_ROLE_WORDS = (N_("Trust administrator"), N_("Trust auditor"), N_("Trust safeguarding lead"), N_("Trust compliance"))
