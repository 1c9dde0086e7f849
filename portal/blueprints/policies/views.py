from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import signals
from portal.blueprints.policies import bp
from portal.blueprints.policies.forms import (
    ConsentItemForm,
    DeclineForm,
    NewDraftForm,
    PolicyForm,
    PublishForm,
    RemindForm,
    VersionForm,
    sign_form_for,
)
from portal.db import session
from portal.people.models import GuardianLink, Person, SchoolClass
from portal.policies import operations, queries
from portal.policies.models import Audience, Policy, PolicyReminder, PolicyVersion, VersionStatus
from portal.policies.rendering import placeholder_values, render_markdown, render_version
from portal.policies.tasks import register as _register_tasks
from portal.security import access, client_ip, own_child_or_404
from portal.signatures.models import Method

_register_tasks()


# ---------------------------------------------------------------- signing


def _young(version: PolicyVersion) -> bool:
    return version.policy.audience == Audience.PUPIL_EYFS_KS1.value or bool(version.policy.send_variant)


@bp.route("/versions/<int:version_id>/sign", methods=["GET", "POST"])
@access()
def sign(version_id: int):
    """Read a policy and sign it (or, for parents, decline with a reason)."""
    version = session.get(PolicyVersion, version_id)
    if version is None or version.status == VersionStatus.DRAFT.value:
        abort(404)
    pupil = None
    pupil_arg = request.args.get("pupil_id", "")
    if pupil_arg:
        if not pupil_arg.isdigit():
            abort(404)
        pupil = own_child_or_404(current_user, int(pupil_arg))
    if version.status == VersionStatus.SUPERSEDED.value:
        current = operations.published_of(version.policy)
        if current is None:
            abort(404)
        return redirect(url_for(".sign", version_id=current.id, **({"pupil_id": pupil.id} if pupil else {})))
    req = queries.requirement_for(current_user, version, pupil)
    if req is None:
        abort(404)

    rendered = render_version(version)
    form = sign_form_for(version.consent_items)
    decline_form = DeclineForm(prefix="decline")
    can_decline = operations.can_decline(req)
    error = None
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        if action == "decline" and not can_decline:
            abort(400)
        active = decline_form if action == "decline" else form
        if active.validate_on_submit():
            sign_request = operations.SignRequest(
                shown_sha256=active.text_hash.data or "",
                ip=client_ip(),
                user_agent=request.user_agent.string or "",
            )
            try:
                if action == "decline":
                    sign_request.decline_reason = decline_form.reason.data or ""
                    sig = operations.decline(req, current_user, sign_request)
                else:
                    sign_request.typed_name = form.typed_name.data or ""
                    sign_request.agreed = bool(form.agree.data)
                    sign_request.answers = {
                        item.id: form[f"consent_{item.id}"].data == "yes" for item in version.consent_items
                    }
                    # Signed inside the LMS after an LTI launch (a countersign stays a countersign).
                    via_lti = bool(flask_session.get("portal_via_lti")) and not req.countersign
                    sig = operations.sign(req, current_user, sign_request, method=Method.LTI if via_lti else None)
            except operations.SigningError as exc:
                session.rollback()
                if exc.code == "changed" or exc.code == "already":
                    status = 409
                    error = str(exc)
                elif exc.field and exc.field in active:
                    active[exc.field].errors = [str(exc)]
                    status = 400
                else:
                    error = str(exc)
                    status = 400
            else:
                session.commit()
                signals.announce_signature(sig)
                if sig.decision == "declined":
                    flash("Your decision not to sign has been recorded. The school may contact you about it.",
                          "info")
                else:
                    flash("Thank you. Your signature has been recorded.", "success")
                return redirect(url_for(".history"))
        else:
            status = 400
    # Always show (and hash) the text as it is now.
    form.text_hash.data = rendered.sha256
    decline_form.text_hash.data = rendered.sha256
    return render_template(
        "portal/policies/sign.html", version=version, req=req, rendered=rendered, form=form,
        decline_form=decline_form, can_decline=can_decline, error=error, pupil=pupil, young=_young(version),
        consent_fields=[form[f"consent_{i.id}"] for i in version.consent_items],
        active_action=request.form.get("action") if request.method == "POST" else None,
    ), status


@bp.get("/history")
@access()
def history():
    """Your own signatures and declines, and your children's."""
    sigs = queries.history_for(current_user)
    reqs = queries.requirements_for(current_user)
    return render_template("portal/policies/history.html", signatures=sigs, reqs=reqs)


@bp.get("/signatures/<int:signature_id>")
@access()
def signature(signature_id: int):
    """One signature or decline from your history, with the exact text that was shown."""
    sig = next((s for s in queries.history_for(current_user) if s.id == signature_id), None)
    if sig is None:
        abort(404)
    return render_template("portal/policies/signature.html", sig=sig, kept=queries.signed_text(sig))


@bp.get("/signatures/<int:signature_id>.pdf")
@access()
def signature_pdf(signature_id: int):
    """The sealed PDF of one of your own signatures or declines (someone else's: 404)."""
    from flask import Response, current_app

    from portal import audit
    from portal.records.archive import ArchiveError
    from portal.records.operations import record_for, record_pdf

    sig = next((s for s in queries.history_for(current_user) if s.id == signature_id), None)
    if sig is None or sig.signer_id != current_user.id:
        abort(404)
    record = record_for(sig.id)
    if record is None or not record.is_sealed:
        return render_template("portal/error.html", code=503, title="Not ready yet",
                               message="The sealed copy of this record is not ready yet. The school's portal will "
                                       "try again; come back later."), 503
    try:
        data = record_pdf(record)
    except ArchiveError as exc:
        current_app.logger.error("signed record %s: %s", record.id, exc)
        audit.record("record.integrity_failed", actor=current_user, target=record)
        session.commit()
        abort(500)
    audit.record("record.downloaded", actor=current_user, target=record)
    session.commit()
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="signed-record-{sig.id}.pdf"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@bp.route("/consents", methods=["GET", "POST"])
@access()
def consents():
    """See and change the yes/no answers you have given; every change is kept."""
    latest = queries.latest_answers(current_user)
    rows = sorted(latest.values(), key=lambda a: (a.pupil_id or 0, a.consent_item.position, a.consent_item.key))
    pupils = {p.id: p for p in session.scalars(select(Person).where(
        Person.id.in_([r.pupil_id for r in rows if r.pupil_id])))}
    if request.method == "POST":  # CSRFProtect has checked the token before the view runs
        changed = 0
        bad = False
        for row in rows:
            value = request.form.get(f"answer_{row.id}")
            if value not in ("yes", "no"):
                bad = True
                continue
            pupil = pupils.get(row.pupil_id) if row.pupil_id else None
            if operations.change_consent(current_user, row.consent_item, value == "yes", pupil=pupil) is not None:
                changed += 1
        if bad:
            session.rollback()
            flash("Choose yes or no for each question. Nothing was changed.", "danger")
            return render_template("portal/policies/consents.html", rows=rows, pupils=pupils,
                                   history=queries.consent_history(current_user)), 400
        session.commit()
        flash(f"Saved. {changed} answer(s) changed." if changed else "Nothing was changed.", "success")
        return redirect(url_for(".consents"))
    return render_template("portal/policies/consents.html", rows=rows, pupils=pupils,
                           history=queries.consent_history(current_user))


# ---------------------------------------------------------------- writing and publishing


@bp.get("/manage/")
@access(capabilities=["policies.manage"])
def manage():
    policies = session.scalars(select(Policy).options(selectinload(Policy.versions)).order_by(Policy.audience,
                                                                                               Policy.slug)).all()
    return render_template("portal/policies/manage.html", policies=policies, published_of=operations.published_of,
                           draft_of=operations.draft_of, Audience=Audience)


@bp.route("/manage/new", methods=["GET", "POST"])
@access(capabilities=["policies.manage"])
def new_policy():
    form = PolicyForm()
    if form.validate_on_submit():
        try:
            policy = operations.create_policy(slug=form.slug.data, title=form.title.data,
                                              audience=Audience(form.audience.data),
                                              send_variant=bool(form.send_variant.data), actor=current_user)
            version = operations.create_draft(policy, actor=current_user)
        except operations.PolicyError as exc:
            session.rollback()
            form.slug.errors = [str(exc)]
        else:
            session.commit()
            flash("Policy created. Write its first version below.", "success")
            return redirect(url_for(".edit_version", version_id=version.id))
    status = 400 if form.errors else 200
    return render_template("portal/policies/new_policy.html", form=form), status


def _policy_or_404(policy_id: int) -> Policy:
    policy = session.get(Policy, policy_id)
    if policy is None:
        abort(404)
    return policy


@bp.get("/manage/<int:policy_id>")
@access(capabilities=["policies.manage"])
def policy(policy_id: int):
    p = _policy_or_404(policy_id)
    return render_template("portal/policies/policy.html", policy=p, draft=operations.draft_of(p),
                           form=NewDraftForm())


@bp.post("/manage/<int:policy_id>/drafts")
@access(capabilities=["policies.manage"])
def new_draft(policy_id: int):
    p = _policy_or_404(policy_id)
    form = NewDraftForm()
    if not form.validate_on_submit():
        abort(400)
    existing = operations.draft_of(p)
    if existing is not None:
        flash("This policy already has a draft; here it is.", "info")
        return redirect(url_for(".edit_version", version_id=existing.id))
    version = operations.create_draft(p, actor=current_user)
    session.commit()
    return redirect(url_for(".edit_version", version_id=version.id))


def _version_or_404(version_id: int) -> PolicyVersion:
    version = session.get(PolicyVersion, version_id)
    if version is None:
        abort(404)
    return version


@bp.route("/manage/versions/<int:version_id>", methods=["GET", "POST"])
@access(capabilities=["policies.manage"])
def edit_version(version_id: int):
    """Edit a draft with a preview; a published version is shown read-only."""
    version = _version_or_404(version_id)
    is_draft = version.status == VersionStatus.DRAFT.value
    form = VersionForm(obj=version)
    preview = None
    status = 200
    if request.method == "POST":
        if not is_draft:
            abort(409)
        if form.validate_on_submit():
            if request.form.get("action") == "preview":
                preview = render_markdown(form.body_md.data, placeholder_values())
            else:
                try:
                    operations.update_draft(version, title=form.title.data, body_md=form.body_md.data,
                                            change_note=form.change_note.data or "", actor=current_user)
                except operations.PolicyError as exc:
                    session.rollback()
                    form.body_md.errors = [str(exc)]
                    status = 400
                else:
                    session.commit()
                    flash("Draft saved.", "success")
                    return redirect(url_for(".edit_version", version_id=version.id))
        else:
            status = 400
    rendered = render_version(version) if preview is None else None
    return render_template("portal/policies/version.html", version=version, form=form, preview=preview,
                           rendered=rendered, is_draft=is_draft, publish_form=PublishForm(),
                           item_form=ConsentItemForm(), first=operations.published_of(version.policy) is None
                           and not any(v.status == VersionStatus.SUPERSEDED.value for v in version.policy.versions)
                           ), status


@bp.post("/manage/versions/<int:version_id>/publish")
@access(capabilities=["policies.manage"])
def publish(version_id: int):
    version = _version_or_404(version_id)
    form = PublishForm()
    if not form.validate_on_submit():
        flash("Choose whether everyone must sign again.", "danger")
        return redirect(url_for(".edit_version", version_id=version.id))
    try:
        operations.publish_version(version, requires_resign=form.change.data == "resign",
                                   change_note=form.change_note.data or "", actor=current_user)
    except operations.PolicyError as exc:
        session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".edit_version", version_id=version.id))
    session.commit()
    flash(f"Version {version.number} is published.", "success")
    return redirect(url_for(".policy", policy_id=version.policy_id))


@bp.post("/manage/versions/<int:version_id>/consent-items")
@access(capabilities=["policies.manage"])
def add_consent_item(version_id: int):
    version = _version_or_404(version_id)
    form = ConsentItemForm()
    if form.validate_on_submit():
        try:
            operations.add_consent_item(version, key=form.key.data, question=form.question.data,
                                        actor=current_user)
        except operations.PolicyError as exc:
            session.rollback()
            flash(str(exc), "danger")
        else:
            session.commit()
            flash("Question added.", "success")
    else:
        flash("Give both a key and a question (at most 300 characters).", "danger")
    return redirect(url_for(".edit_version", version_id=version.id))


# ---------------------------------------------------------------- compliance


@dataclass
class Tally:
    label: str
    signed: int = 0
    declined: int = 0
    outstanding: int = 0
    key: object = None
    url: str = ""

    @property
    def total(self) -> int:
        return self.signed + self.declined + self.outstanding

    def pct(self, n: int) -> int:
        return round(100 * n / self.total) if self.total else 0

    def add(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)


def _tallies(reqs, keyfunc, labelfunc) -> list[Tally]:
    out: dict[object, Tally] = {}
    for r in reqs:
        k = keyfunc(r)
        if k is None:
            continue
        if k not in out:
            out[k] = Tally(label=labelfunc(r), key=k)
        out[k].add(r.status)
    return list(out.values())


@bp.get("/compliance/")
@access(capabilities=["compliance.view"])
def compliance():
    reqs = queries.school_requirements()
    by_policy = _tallies(reqs, lambda r: r.version.policy_id, lambda r: r.version.title)
    by_audience = _tallies(reqs, lambda r: r.version.policy.audience,
                           lambda r: Audience(r.version.policy.audience).label)
    pupil_reqs = [r for r in reqs if r.version.policy.audience.startswith("pupil_")]
    by_class = _tallies(pupil_reqs, lambda r: r.school_class.id if r.school_class else None,
                        lambda r: r.school_class.name)
    classes = {c.id: c for c in session.scalars(select(SchoolClass))}
    by_class.sort(key=lambda t: (classes[t.key].year_group, classes[t.key].code))
    policies = {r.version.policy_id: r.version.policy for r in reqs}
    # Published policies nobody in the portal has to sign (e.g. visitors) still get a row.
    seen = {t.key for t in by_policy}
    for v in queries.Catalogue().current.values():
        if v.policy_id not in seen:
            policies[v.policy_id] = v.policy
            by_policy.append(Tally(label=v.title, key=v.policy_id))
    for t in by_policy:
        t.url = url_for(".compliance_policy", policy_id=t.key)
    by_policy.sort(key=lambda t: ([a.value for a in Audience].index(policies[t.key].audience), t.label))
    by_audience.sort(key=lambda t: [a.value for a in Audience].index(t.key))
    return render_template("portal/policies/compliance.html", by_policy=by_policy, by_audience=by_audience,
                           by_class=by_class, year=queries.current_academic_year())


@bp.get("/compliance/policies/<int:policy_id>")
@access(capabilities=["compliance.view"])
def compliance_policy(policy_id: int):
    p = _policy_or_404(policy_id)
    class_id = request.args.get("class_id", type=int)
    reqs = _filtered(policy_id, class_id)
    school_class = session.get(SchoolClass, class_id) if class_id else None
    outstanding = [r for r in reqs if r.status == queries.OUTSTANDING]
    declined = [r for r in reqs if r.status == queries.DECLINED]
    tally = Tally(label=p.title)
    for r in reqs:
        tally.add(r.status)
    # Last reminder per person (the subject or, for young pupils, their parents).
    ids = {r.subject.id for r in outstanding}
    parents: dict[int, list[Person]] = defaultdict(list)
    if outstanding:
        for link in session.scalars(select(GuardianLink).where(GuardianLink.pupil_id.in_(ids))
                                    .options(selectinload(GuardianLink.parent))):
            parents[link.pupil_id].append(link.parent)
    recipient_ids = ids | {pp.id for lst in parents.values() for pp in lst}
    last: dict[int, object] = {}
    for rem in session.scalars(select(PolicyReminder).where(PolicyReminder.recipient_id.in_(recipient_ids))
                               .order_by(PolicyReminder.sent_at)):
        last[rem.recipient_id] = rem.sent_at
    form = RemindForm(policy_id=str(policy_id), class_id=str(class_id or ""))
    classes = session.scalars(select(SchoolClass).order_by(SchoolClass.year_group, SchoolClass.code)).all()
    return render_template("portal/policies/compliance_policy.html", policy=p, outstanding=outstanding,
                           declined=declined, tally=tally, parents=parents, last=last, form=form,
                           school_class=school_class, classes=classes,
                           is_pupil=p.audience.startswith("pupil_"))


def _filtered(policy_id: int | None, class_id: int | None):
    reqs = queries.school_requirements()
    if policy_id:
        reqs = [r for r in reqs if r.version.policy_id == policy_id]
    if class_id:
        reqs = [r for r in reqs if r.school_class is not None and r.school_class.id == class_id]
    return reqs


@bp.post("/compliance/remind")
@access(capabilities=["compliance.view"])
def remind():
    form = RemindForm()
    if not form.validate_on_submit():
        abort(400)
    policy_id = int(form.policy_id.data) if (form.policy_id.data or "").isdigit() else None
    class_id = int(form.class_id.data) if (form.class_id.data or "").isdigit() else None
    if policy_id is not None:
        _policy_or_404(policy_id)
    result = operations.send_reminders(_filtered(policy_id, class_id), actor=current_user)
    session.commit()
    parts = [f"Reminders sent to {len(result.sent)} people."]
    if result.recent:
        parts.append(f"{len(result.recent)} were reminded in the last 7 days and were not sent another.")
    if result.unreachable:
        parts.append(f"{len(result.unreachable)} have no email address (nor a parent with one).")
    if result.failed:
        parts.append(f"{len(result.failed)} could not be sent; try again later.")
    flash(" ".join(parts), "warning" if result.failed else "success")
    if policy_id:
        return redirect(url_for(".compliance_policy", policy_id=policy_id, **({"class_id": class_id} if class_id
                                                                               else {})))
    return redirect(url_for(".compliance"))

