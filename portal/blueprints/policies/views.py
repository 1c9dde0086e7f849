from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask import session as flask_session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal import signals
from portal.blueprints.policies import bp
from portal.blueprints.policies.forms import (
    ConsentItemForm,
    DeclineForm,
    NewDraftForm,
    OfflineSearchForm,
    PolicyForm,
    PublishForm,
    PublishTranslationForm,
    RemindForm,
    TranslationForm,
    VersionForm,
    offline_form_for,
    sign_form_for,
)
from portal.db import session
from portal.ids import row_id
from portal.people.models import GuardianLink, Person, PersonRole, Role, SchoolClass
from portal.policies import compliance as compliance_counts
from portal.policies import operations, queries
from portal.policies.models import Audience, Policy, PolicyReminder, PolicyVersion, VersionStatus
from portal.policies.rendering import placeholder_values, render_markdown, render_version
from portal.policies.tasks import register as _register_tasks
from portal.schools.models import School
from portal.security import access, client_ip, own_child_or_404
from portal.signatures.models import Method, OfflineAgreement, Signature
from portal.web import error_page

_register_tasks()


# ---------------------------------------------------------------- signing


def _young(version: PolicyVersion) -> bool:
    return version.policy.audience == Audience.PUPIL_EYFS_KS1.value or bool(version.policy.send_variant)


@bp.route("/versions/<portal_id:version_id>/sign", methods=["GET", "POST"])
@access()
def sign(version_id: int):
    """Read a policy and sign it (or, for parents, decline with a reason)."""
    version = session.get(PolicyVersion, version_id)
    if version is None or version.status == VersionStatus.DRAFT.value:
        abort(404)
    pupil = None
    pupil_arg = request.args.get("pupil_id", "")
    if pupil_arg:
        pupil = own_child_or_404(current_user, row_id(pupil_arg) or 0)
    if version.status == VersionStatus.SUPERSEDED.value:
        current = operations.published_of(version.policy)
        if current is None:
            abort(404)
        extra: dict[str, Any] = {"pupil_id": pupil.id} if pupil else {}
        return redirect(url_for(".sign", version_id=current.id, **extra))
    req = queries.requirement_for(current_user, version, pupil)
    if req is None:
        abort(404)

    # The translation shown beside the English: the one the form was sent with, else the one
    # asked for (``?text=pl``; ``?text=en`` for English only), else the page's language.
    from portal.i18n import current as current_language
    from portal.policies.translations import published_languages

    available = published_languages(version)
    if request.method == "POST":
        text_language = request.form.get("text_language") or None
    else:
        text_language = request.args.get("text") or current_language().code
    rendered = render_version(version, language=text_language)
    # One-step family signing: every child of this parent still to be countersigned for this
    # policy is offered (each named, ticked by default); each gets its own signature.
    family = queries.family_requirements(current_user, version) if req.countersign else []
    if len(family) < 2 or req.subject.id not in {r.subject.id for r in family}:
        family = []
    chosen_ids = {r.subject.id for r in family}
    family_error = None
    form = sign_form_for(version.consent_items, signer=current_user)
    decline_form = DeclineForm(prefix="decline")
    can_decline = operations.can_decline(req)
    error = None
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        if action == "decline" and not can_decline:
            abort(400)
        active = decline_form if action == "decline" else form
        if family and action != "decline":
            # The children ticked, read first so the page sent back keeps them as they were.
            picked = {n for v in request.form.getlist("pupil_ids") if (n := row_id(v)) is not None}
            chosen_ids = picked & {r.subject.id for r in family}
            if not chosen_ids:
                family_error = str(operations.no_child_chosen())
        valid = active.validate_on_submit() and family_error is None
        if req.status == queries.SIGNED:
            # Signed meanwhile (another tab, the other parent): that is the answer, whatever the form says.
            valid, status, error = False, 409, str(operations.already_signed())
        elif active.text_hash.data and active.text_hash.data != rendered.sha256:
            # The text changed since the page was opened: the page shows it again, whatever else is
            # missing. (The sign operation checks both again under its lock, and refuses a missing hash.)
            valid, status, error = False, 409, str(operations.text_changed())
        if valid:
            sign_request = operations.SignRequest(
                shown_sha256=active.text_hash.data or "",
                ip=client_ip(),
                user_agent=request.user_agent.string or "",
                language=rendered.language,
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
                    if family:
                        sigs = operations.sign_for_children([r for r in family if r.subject.id in chosen_ids],
                                                            current_user, sign_request)
                        sig = sigs[0]
                    else:
                        sig = operations.sign(req, current_user, sign_request,
                                              method=Method.LTI if via_lti else None)
                        sigs = [sig]
            except operations.SigningError as exc:
                session.rollback()
                if exc.code == "changed" or exc.code == "already":
                    status = 409
                    error = str(exc)
                elif exc.field == "pupil_ids":
                    family_error = str(exc)
                    status = 400
                elif exc.field and exc.field in active:
                    active[exc.field].errors = [str(exc)]
                    status = 400
                else:
                    error = str(exc)
                    status = 400
            else:
                session.commit()
                for one in (sigs if action != "decline" else [sig]):
                    signals.announce_signature(one)
                if sig.decision == "declined":
                    flash(_("Your decision not to sign has been recorded. The school may contact you about it."),
                          "info")
                elif len(sigs) > 1:
                    names = [cast(Person, s.on_behalf_of).given_name for s in sigs]  # one per child
                    flash(_("Thank you. You have signed for %(names)s and %(last)s: %(count)s signatures, one for "
                            "each child.", names=", ".join(names[:-1]), last=names[-1], count=len(sigs)), "success")
                else:
                    flash(_("Thank you. Your signature has been recorded."), "success")
                # The signature is the record of intent; its sealed PDF follows (a job), and the
                # signature's page shows it when it is ready. Signing for several children makes
                # one signature each: the history lists them all (each links to its page), where
                # the first one's page alone would show a single child.
                if sig.decision != "declined" and len(sigs) > 1:
                    return redirect(url_for(".history"))
                return redirect(url_for(".signature", signature_id=sig.id, just="signed"))
        elif status != 409:
            status = 400
    # Always show (and hash) the text as it is now.
    form.text_hash.data = rendered.sha256
    decline_form.text_hash.data = rendered.sha256
    return render_template(
        "portal/policies/sign.html", version=version, req=req, rendered=rendered, form=form,
        decline_form=decline_form, can_decline=can_decline, error=error, pupil=pupil, young=_young(version),
        family=family, chosen_ids=chosen_ids, family_error=family_error,
        consent_fields=[form[f"consent_{i.id}"] for i in version.consent_items],
        active_action=request.form.get("action") if request.method == "POST" else None,
        text_languages=available, translated_questions=_translated_questions(version, rendered.language),
    ), status


def _translated_questions(version: PolicyVersion, language: str | None) -> list[str]:
    """The version's yes/no questions in the translation shown (empty when there are none)."""
    from portal.policies.translations import published_translation, question_lines

    translation = published_translation(version, language) if language else None
    lines = question_lines(translation.questions) if translation is not None else []
    return lines if len(lines) == len(version.consent_items) else []


@bp.get("/history")
@access()
def history():
    """Your own signatures and declines, and your children's."""
    sigs = queries.history_for(current_user)
    reqs = queries.requirements_for(current_user)
    return render_template("portal/policies/history.html", signatures=sigs, reqs=reqs)


def _own_signature_or_404(signature_id: int):
    sig = next((s for s in queries.history_for(current_user) if s.id == signature_id), None)
    if sig is None:
        abort(404)
    return sig


def _record_of(sig):
    from portal.records.models import SignedRecord

    return session.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))


@bp.get("/signatures/<portal_id:signature_id>")
@access()
def signature(signature_id: int):
    """One signature or decline from your history, with the exact text that was shown and its
    sealed PDF copy (or word that it is being made)."""
    sig = _own_signature_or_404(signature_id)
    # Just signed: say what is still to sign, if anything (walk finding: the page led only to the history, while
    # a child's policy was still waiting).
    after = request.args.get("just") == "signed" and sig.signer_id == current_user.id
    waiting = [r for r in queries.requirements_for(current_user) if r.status == queries.OUTSTANDING] if after else []
    return render_template("portal/policies/signature.html", sig=sig, kept=queries.signed_text(sig),
                           record=_record_of(sig), after=after, next_req=waiting[0] if waiting else None,
                           more=len(waiting))


@bp.get("/signatures/<portal_id:signature_id>/record.json")
@access()
def signature_record_status(signature_id: int):
    """Whether the sealed PDF of one of your signatures is ready (polled by sealed-copy.js)."""
    sig = _own_signature_or_404(signature_id)
    if sig.signer_id != current_user.id:
        abort(404)
    record = _record_of(sig)
    if record is not None and record.is_sealed:
        body = {"state": "sealed", "pdf_url": url_for(".signature_pdf", signature_id=sig.id),
                "size": record.size, "sealed_at": record.sealed_at.isoformat() if record.sealed_at else None}
    else:
        body = {"state": "delayed" if record is not None and record.last_error else "pending"}
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/signatures/<portal_id:signature_id>.pdf")
@access()
def signature_pdf(signature_id: int):
    """The sealed PDF of one of your own signatures or declines. Someone else's (another parent's
    countersignature for your child, which carries their address and browser) is theirs: 404."""
    from portal import audit
    from portal.records.archive import ArchiveError
    from portal.records.operations import record_for, record_pdf

    sig = _own_signature_or_404(signature_id)
    if sig.signer_id != current_user.id:
        abort(404)
    record = _record_of(sig)
    if record is None or (not record.is_sealed and record.last_error):
        # Missing, or failed last time: try again now (retry on access; idempotent).
        record = record_for(sig.id)
    if record is None or not record.is_sealed:
        return error_page(503, _("Not ready yet"), _("The sealed copy of this record is not ready yet. It is being "
                                                     "made; please try again in a minute."))
    try:
        data = record_pdf(record)
    except ArchiveError:
        current_app.logger.error("signed record %s: the archived copy is missing or damaged", record.id)
        audit.record("record.integrity_failed", actor=current_user, target=record)
        session.commit()
        return error_page(500, _("Please try later"),
                          _("The sealed copy cannot be given out just now. The school has been told."))
    audit.record("record.downloaded", actor=current_user, target=record, by="signer")
    session.commit()
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="signature-{sig.id}.pdf"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


def _replaced(history) -> dict[int, object]:
    """Answer id -> when a newer answer to the same question (about the same child) replaced it;
    the current answers are absent. *history* is newest first."""
    newer: dict[tuple[str, int | None], object] = {}
    out: dict[int, object] = {}
    for a in history:
        key = (a.consent_item.key, a.pupil_id)
        if key in newer:
            out[a.id] = newer[key]
        newer[key] = a.answered_at
    return out


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
            flash(_("Choose yes or no for each question. Nothing was changed."), "danger")
            history = queries.consent_history(current_user)
            return render_template("portal/policies/consents.html", rows=rows, pupils=pupils, history=history,
                                   replaced=_replaced(history)), 400
        session.commit()
        flash(_("Saved. Answers changed: %(count)s.", count=changed) if changed else _("Nothing was changed."),
              "success")
        return redirect(url_for(".consents"))
    history = queries.consent_history(current_user)
    pupils.update({p.id: p for p in session.scalars(select(Person).where(
        Person.id.in_([a.pupil_id for a in history if a.pupil_id and a.pupil_id not in pupils])))})
    return render_template("portal/policies/consents.html", rows=rows, pupils=pupils, history=history,
                           replaced=_replaced(history))


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
            flash(_("Policy created. Write its first version below."), "success")
            return redirect(url_for(".edit_version", version_id=version.id))
    status = 400 if form.errors else 200
    return render_template("portal/policies/new_policy.html", form=form), status


def _policy_or_404(policy_id: int) -> Policy:
    policy = session.get(Policy, policy_id)
    if policy is None:
        abort(404)
    return policy


@bp.get("/manage/<portal_id:policy_id>")
@access(capabilities=["policies.manage"])
def policy(policy_id: int):
    p = _policy_or_404(policy_id)
    return render_template("portal/policies/policy.html", policy=p, draft=operations.draft_of(p),
                           form=NewDraftForm())


@bp.post("/manage/<portal_id:policy_id>/drafts")
@access(capabilities=["policies.manage"])
def new_draft(policy_id: int):
    p = _policy_or_404(policy_id)
    form = NewDraftForm()
    if not form.validate_on_submit():
        abort(400)
    existing = operations.draft_of(p)
    if existing is not None:
        flash(_("This policy already has a draft; here it is."), "info")
        return redirect(url_for(".edit_version", version_id=existing.id))
    version = operations.create_draft(p, actor=current_user)
    session.commit()
    return redirect(url_for(".edit_version", version_id=version.id))


def _version_or_404(version_id: int) -> PolicyVersion:
    version = session.get(PolicyVersion, version_id)
    if version is None:
        abort(404)
    return version


@bp.route("/manage/versions/<portal_id:version_id>", methods=["GET", "POST"])
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
                preview = render_markdown(cast(str, form.body_md.data), placeholder_values())  # validated
            elif (item_form := _question_left_typed()) is not None:
                return _version_page(version, form, 400, item_form=item_form)
            else:
                try:
                    _save_typed(version, form)  # validated: title and text are required
                except operations.PolicyError as exc:
                    session.rollback()
                    form.body_md.errors = [str(exc)]
                    status = 400
                else:
                    session.commit()
                    flash(_("Draft saved."), "success")
                    return redirect(url_for(".edit_version", version_id=version.id))
        else:
            status = 400
    return _version_page(version, form, status, preview=preview)


def _version_page(version: PolicyVersion, form: VersionForm, status: int = 200, *, preview: Markup | None = None,
                  publish_form: PublishForm | None = None, item_form: ConsentItemForm | None = None):
    """The version page. A draft's page is one form: its text, its questions and publishing are sent
    together, so no button loses what was typed in another part (each button saves the text first)."""
    rendered = render_version(version) if preview is None else None
    return render_template("portal/policies/version.html", version=version, form=form, preview=preview,
                           rendered=rendered, is_draft=version.status == VersionStatus.DRAFT.value,
                           publish_form=publish_form or PublishForm(),
                           item_form=item_form or ConsentItemForm(),
                           first=_first_version(version), asked=_asked_to_sign(version)), status


def _first_version(version: PolicyVersion) -> bool:
    """Nothing of the policy has been published before *version*."""
    return operations.published_of(version.policy) is None and not any(
        v.status == VersionStatus.SUPERSEDED.value for v in version.policy.versions)


def _asked_to_sign(version: PolicyVersion) -> int | None:
    """How many people the policy asks for a signature this school year (the draft page's publish section)."""
    if version.status != VersionStatus.DRAFT.value:
        return None
    tally = compliance_counts.tallies(("policy",)).get((version.policy_id,))
    return tally.total if tally is not None else None


def _typed_draft() -> VersionForm | None:
    """The draft's text as sent with another button on its page (None for a post without it)."""
    return VersionForm() if "body_md" in request.form else None


def _refused(version: PolicyVersion, draft: VersionForm | None, message: str, field: Any, **forms: Any):
    """An operation refused a post from the draft's page: the page again with *message* on *field* and the typed
    text kept (nothing was saved), or for a post without the text (an older page) the message and the page."""
    session.rollback()
    if draft is not None:
        session.refresh(version)
    if draft is None or version.status != VersionStatus.DRAFT.value:
        # No text to keep, or published meanwhile (another tab, a colleague): its page says what happened.
        flash(message, "danger")
        return redirect(url_for(".edit_version", version_id=version.id))
    field.errors = [message]
    return _version_page(version, draft, 400, **forms)


def _question_left_typed() -> ConsentItemForm | None:
    """A yes/no question typed on the draft's page but not added: "Save draft" and "Publish" would drop it
    (a published version cannot be changed), so they refuse with the question kept and a word on what to do."""
    if not ((request.form.get("key") or "").strip() or (request.form.get("question") or "").strip()):
        return None
    item_form = ConsentItemForm()
    item_form.key.errors = [_("Press “Add question” to add this question first, or clear both boxes.")]
    return item_form


def _save_typed(version: PolicyVersion, draft: VersionForm) -> None:
    """Save the draft's title, text and note as typed (the form is validated: title and text are there)."""
    operations.update_draft(version, title=cast(str, draft.title.data), body_md=cast(str, draft.body_md.data),
                            change_note=draft.change_note.data or "", actor=current_user)


@bp.post("/manage/versions/<portal_id:version_id>/publish")
@access(capabilities=["policies.manage"])
def publish(version_id: int):
    version = _version_or_404(version_id)
    form, draft = PublishForm(), _typed_draft()
    ok = form.validate_on_submit()
    ok = (draft.validate() if draft is not None else True) and ok  # every error at once
    item_form = _question_left_typed() if draft is not None else None
    if ok and draft is not None and form.change.data == "resign" and not _first_version(version) \
            and not (draft.change_note.data or "").strip() and not (form.change_note.data or "").strip():
        # Walk finding: a Head published a version that asks everyone to sign again with "What changed" empty;
        # a published version cannot be changed, so parents were never told what was different.
        draft.change_note.errors = [_("Say what changed: everyone asked to sign again is shown this note.")]
        ok = False
    if not ok or item_form is not None:
        if draft is None:
            flash(_("Choose whether everyone must sign again."), "danger")
            return redirect(url_for(".edit_version", version_id=version.id))
        if version.status != VersionStatus.DRAFT.value:  # published meanwhile: its page says so
            flash(_("This version is not a draft."), "danger")
            return redirect(url_for(".edit_version", version_id=version.id))
        return _version_page(version, draft, 400, publish_form=form, item_form=item_form)
    try:
        if draft is not None:
            _save_typed(version, draft)  # what is on the screen is what is published
        operations.publish_version(version, requires_resign=form.change.data == "resign",
                                   change_note=form.change_note.data or "", actor=current_user)
    except operations.PolicyError as exc:
        return _refused(version, draft, str(exc), draft.body_md if draft is not None else None, publish_form=form)
    session.commit()
    flash(_("Version %(number)s is published.", number=version.number), "success")
    # How many people it asks for a signature now (walk finding: the Head found out only from the home page).
    waiting = compliance_counts.tallies(("policy",)).get((version.policy_id,))
    if waiting is not None and waiting.outstanding:
        flash(ngettext("%(num)s person has still to sign it this school year.",
                       "%(num)s people have still to sign it this school year.", waiting.outstanding), "info")
    return redirect(url_for(".policy", policy_id=version.policy_id))


@bp.route("/manage/versions/<portal_id:version_id>/translations", methods=["GET", "POST"])
@access(capabilities=["policies.manage"])
def translations(version_id: int):
    """A version's translations: write or correct one (a draft), and publish it."""
    from portal.policies import translations as tr_ops

    version = _version_or_404(version_id)
    form = TranslationForm()
    if request.method == "GET" and request.args.get("language"):
        lang = request.args["language"]
        existing = [t for t in tr_ops.translations_of(version) if t.language == lang]
        if existing:
            newest = existing[-1]
            form = TranslationForm(formdata=None, language=lang, title=newest.title, body_md=newest.body_md,
                                   authoritative=newest.authoritative, questions=newest.questions)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                saved = tr_ops.save_translation(version, language=form.language.data or "",
                                                title=form.title.data or "", body_md=form.body_md.data or "",
                                                authoritative=bool(form.authoritative.data),
                                                questions=form.questions.data or "",
                                                change_note=form.change_note.data or "", actor=current_user)
            except operations.PolicyError as exc:
                session.rollback()
                form.body_md.errors = [str(exc)]
                status = 400
            else:
                session.commit()
                flash(_("Draft translation saved (revision %(revision)s).", revision=saved.revision), "success")
                return redirect(url_for(".translations", version_id=version.id))
        else:
            status = 400
    rows = tr_ops.translations_of(version)
    return render_template("portal/policies/translations.html", version=version, form=form, rows=rows,
                           publish_form=PublishTranslationForm(), languages=dict(tr_ops.translation_languages()),
                           rendered={t.id: render_markdown(t.body_md, placeholder_values()) for t in rows
                                     if t.status != VersionStatus.SUPERSEDED.value}), status


@bp.post("/manage/translations/<portal_id:translation_id>/publish")
@access(capabilities=["policies.manage"])
def publish_translation(translation_id: int):
    from portal.policies import translations as tr_ops
    from portal.policies.models import PolicyTranslation

    row = session.get(PolicyTranslation, translation_id)
    if row is None:
        abort(404)
    form = PublishTranslationForm()
    if not form.validate_on_submit():
        flash(_("Choose what kind of change this is."), "danger")
        return redirect(url_for(".translations", version_id=row.version_id))
    try:
        tr_ops.publish_translation(row, requires_resign=form.change.data == "resign",
                                   change_note=form.change_note.data or "", actor=current_user)
    except operations.PolicyError as exc:
        session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".translations", version_id=row.version_id))
    session.commit()
    flash(_("The translation is published: people who read in that language see it beside the English."), "success")
    return redirect(url_for(".translations", version_id=row.version_id))


@bp.post("/manage/versions/<portal_id:version_id>/consent-items")
@access(capabilities=["policies.manage"])
def add_consent_item(version_id: int):
    version = _version_or_404(version_id)
    form, draft = ConsentItemForm(), _typed_draft()
    ok = form.validate_on_submit()
    ok = (draft.validate() if draft is not None else True) and ok
    if ok:
        try:
            if draft is not None:
                _save_typed(version, draft)  # the text typed above is kept too
            operations.add_consent_item(version, key=cast(str, form.key.data),  # validated: DataRequired
                                        question=cast(str, form.question.data),
                                        actor=current_user)
        except operations.PolicyError as exc:
            return _refused(version, draft, str(exc), form.key, item_form=form)
        session.commit()
        flash(_("Question added."), "success")
    elif draft is not None:
        return _version_page(version, draft, 400, item_form=form)
    else:
        flash(_("Give both a key and a question (at most 300 characters)."), "danger")
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
    #: Of the signed: paper or verbal agreements recorded by the office.
    offline: int = 0

    @property
    def total(self) -> int:
        return self.signed + self.declined + self.outstanding

    def pct(self, n: int) -> int:
        return compliance_counts.percent(n, self.total)

    def add(self, status: str, offline: bool = False) -> None:
        setattr(self, status, getattr(self, status) + 1)
        if offline:
            self.offline += 1

    def add_counts(self, counts) -> None:
        self.signed += counts.signed
        self.declined += counts.declined
        self.outstanding += counts.outstanding
        self.offline += counts.offline


def _tallies(reqs, keyfunc, labelfunc) -> list[Tally]:
    out: dict[object, Tally] = {}
    for r in reqs:
        k = keyfunc(r)
        if k is None:
            continue
        if k not in out:
            out[k] = Tally(label=labelfunc(r), key=k)
        out[k].add(r.status, r.status == queries.SIGNED and r.signature.is_offline)
    return list(out.values())


@bp.get("/compliance/")
@access(capabilities=["compliance.view"])
def compliance() -> ResponseReturnValue:
    """Signed / declined / outstanding per policy, audience and class: counted by the database
    (:mod:`portal.policies.compliance`) in a fixed number of statements, not requirement by
    requirement, and stored until something that changes them happens in the school."""
    counts = compliance_counts.cached_tallies(("policy", "class"))
    published = session.execute(
        select(PolicyVersion.policy_id, PolicyVersion.title, Policy.audience)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .where(PolicyVersion.status == VersionStatus.PUBLISHED.value)).all()
    audience_of = {row.policy_id: row.audience for row in published}
    by_policy = {row.policy_id: Tally(label=row.title, key=row.policy_id) for row in published}
    by_audience: dict[str, Tally] = {}
    by_class: dict[int, Tally] = {}
    classes = {c.id: c for c in session.scalars(select(SchoolClass))}
    for (policy_id, class_id), c in counts.items():
        if policy_id not in by_policy:
            continue
        by_policy[policy_id].add_counts(c)
        audience = audience_of[policy_id]
        by_audience.setdefault(audience, Tally(label=_(Audience(audience).label), key=audience)).add_counts(c)
        if audience.startswith("pupil_") and class_id in classes:
            by_class.setdefault(class_id, Tally(label=classes[class_id].name, key=class_id)).add_counts(c)
    policies = list(by_policy.values())
    for t in policies:
        t.url = url_for(".compliance_policy", policy_id=t.key)
    order = [a.value for a in Audience]
    policies.sort(key=lambda t: (order.index(audience_of[t.key]), t.label))
    # Sorted by the dictionaries' keys (a Tally's own key is any object).
    audiences = [t for _a, t in sorted(by_audience.items(), key=lambda kv: order.index(kv[0]))]
    class_rows = [t for _c, t in sorted(by_class.items(),
                                        key=lambda kv: (classes[kv[0]].year_group, classes[kv[0]].code))]
    for t in class_rows:  # walk finding: a class's row led nowhere; its page lists each pupil and what is due
        t.url = url_for("portal.staff.school_class", class_id=t.key)
    session.commit()  # the counts, if they had to be made again
    year = queries.current_academic_year()
    school = School.get()
    # Walk finding: a Head looked for a way to start the new year's signing. It starts by itself: say when.
    next_year = (dt.date(year + 1, school.academic_year_start_month, school.academic_year_start_day)
                 if school is not None else None)
    # Walk finding: reminders could only be sent one policy page at a time. One button for every policy.
    outstanding = sum(t.outstanding for t in policies)
    return render_template("portal/policies/compliance.html", by_policy=policies, by_audience=audiences,
                           by_class=class_rows, year=year, next_year=next_year, outstanding=outstanding,
                           remind_form=RemindForm(policy_id="", class_id=""))


@bp.get("/compliance/policies/<portal_id:policy_id>")
@access(capabilities=["compliance.view"])
def compliance_policy(policy_id: int):
    p = _policy_or_404(policy_id)
    class_id = request.args.get("class_id", type=row_id)
    reqs = _filtered(policy_id, class_id)
    school_class = session.get(SchoolClass, class_id) if class_id else None
    outstanding = [r for r in reqs if r.status == queries.OUTSTANDING]
    declined = [r for r in reqs if r.status == queries.DECLINED]
    tally = Tally(label=p.title)
    for r in reqs:
        tally.add(r.status, r.status == queries.SIGNED and r.signature.is_offline)
    offline = [r for r in reqs if r.status == queries.SIGNED and r.signature.is_offline]
    # Last reminder per person (the subject or, for young pupils, their parents).
    ids = {r.subject.id for r in outstanding}
    parents: dict[int, list[Person]] = defaultdict(list)
    if outstanding:
        for link in session.scalars(select(GuardianLink).where(GuardianLink.pupil_id.in_(ids))
                                    .options(selectinload(GuardianLink.parent))):
            parents[link.pupil_id].append(link.parent)
    recipient_ids = ids | {pp.id for lst in parents.values() for pp in lst}
    last: dict[int, object] = {}
    if recipient_ids:
        for recipient_id, sent_at in session.execute(
                select(PolicyReminder.recipient_id, func.max(PolicyReminder.sent_at))
                .where(PolicyReminder.recipient_id.in_(recipient_ids)).group_by(PolicyReminder.recipient_id)):
            last[recipient_id] = sent_at
    form = RemindForm(policy_id=str(policy_id), class_id=str(class_id or ""))
    classes = session.scalars(select(SchoolClass).order_by(SchoolClass.year_group, SchoolClass.code)).all()
    return render_template("portal/policies/compliance_policy.html", policy=p, outstanding=outstanding,
                           declined=declined, tally=tally, parents=parents, last=last, form=form, offline=offline,
                           school_class=school_class, classes=classes,
                           is_pupil=p.audience.startswith("pupil_"))


def _filtered(policy_id: int | None, class_id: int | None):
    """The requirements of one policy (and class) from set-based SQL, or every requirement."""
    if policy_id:
        return compliance_counts.policy_requirements(policy_id, class_id=class_id)
    reqs = queries.school_requirements()
    if class_id:
        reqs = [r for r in reqs if r.school_class is not None and r.school_class.id == class_id]
    return reqs


@bp.post("/compliance/remind")
@access(capabilities=["compliance.view"])
def remind():
    form = RemindForm()
    if not form.validate_on_submit():
        abort(400)
    # Empty: every policy (every class). Anything else names one, and a value no row can have finds nothing (0),
    # never "every".
    policy_id = (row_id(form.policy_id.data) or 0) if form.policy_id.data else None
    class_id = (row_id(form.class_id.data) or 0) if form.class_id.data else None
    if policy_id is not None:
        _policy_or_404(policy_id)
    result = operations.send_reminders(_filtered(policy_id, class_id), actor=current_user)
    session.commit()
    parts = [ngettext("Reminders sent to %(num)s person.", "Reminders sent to %(num)s people.", len(result.sent))]
    if result.recent:
        parts.append(ngettext("%(num)s was reminded in the last 7 days and was not sent another.",
                              "%(num)s were reminded in the last 7 days and were not sent another.",
                              len(result.recent)))
    if result.unreachable:
        parts.append(ngettext("%(num)s has no email address (nor a parent with one).",
                              "%(num)s have no email address (nor a parent with one).", len(result.unreachable)))
    if result.failed:
        parts.append(ngettext("%(num)s could not be sent; try again later.",
                              "%(num)s could not be sent; try again later.", len(result.failed)))
    flash(" ".join(parts), "warning" if result.failed else "success")
    if policy_id:
        return redirect(url_for(".compliance_policy", policy_id=policy_id, **({"class_id": class_id} if class_id
                                                                               else {})))
    return redirect(url_for(".compliance"))



# ---------------------------------------------------------------- paper and verbal agreements (the office)

OFFLINE_VIEWERS = ["signatures.record_offline", "compliance.view", "records.view"]


def _parent_or_404(person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None or not person.active or not person.has_role(Role.PARENT):
        abort(404)
    return person


@bp.get("/offline/")
@access(capabilities=["signatures.record_offline"])
def offline_home() -> ResponseReturnValue:
    """Find a parent to record a paper or verbal agreement for; the latest ones recorded."""
    from portal.people.search import folded_length, search_words, words_match

    form = OfflineSearchForm(request.args)
    parents: list[tuple[Person, list[Person]]] = []
    query = (form.q.data or "").strip() if form.validate() else ""
    words = search_words(query, 4)
    if folded_length(words) >= 2:
        stmt = select(Person).join(PersonRole).where(PersonRole.role == Role.PARENT.value, Person.active,
                                                     words_match(words))
        for p in session.scalars(stmt.order_by(Person.family_name, Person.given_name).limit(25)):
            parents.append((p, queries.children_of(p)))
    recent = session.scalars(
        select(OfflineAgreement).order_by(OfflineAgreement.recorded_at.desc(), OfflineAgreement.id.desc()).limit(20)
    ).all()
    return render_template("portal/policies/offline_home.html", form=form, parents=parents, searched=bool(query),
                           short=bool(query) and len("".join(words)) < 2, recent=recent)


@bp.get("/offline/parents/<portal_id:person_id>")
@access(capabilities=["signatures.record_offline"])
def offline_parent(person_id: int):
    """One parent: what they still have to sign, each with a link to record it."""
    from sqlalchemy.orm import joinedload

    parent = _parent_or_404(person_id)
    # Walk finding: after recording one, this page listed only what was still to sign; what the office recorded
    # for this parent is listed too (with its slip).
    recorded = session.scalars(
        select(OfflineAgreement).join(Signature, Signature.id == OfflineAgreement.signature_id)
        .where(Signature.signer_id == parent.id)
        .options(joinedload(OfflineAgreement.signature).joinedload(Signature.version),
                 joinedload(OfflineAgreement.signature).joinedload(Signature.on_behalf_of),
                 joinedload(OfflineAgreement.recorded_by))
        .order_by(OfflineAgreement.recorded_at.desc(), OfflineAgreement.id.desc()).limit(50)).unique().all()
    return render_template("portal/policies/offline_parent.html", parent=parent,
                           open_reqs=operations.offline_requirements(parent),
                           children=queries.children_of(parent), recorded=recorded)


@bp.route("/offline/parents/<portal_id:person_id>/record", methods=["GET", "POST"])
@access(capabilities=["signatures.record_offline"])
def offline_record(person_id: int):
    """Record that *parent* agreed to one policy on paper or verbally (with the slip's scan)."""
    from portal.concerns.schooldays import uk_today
    from portal.concerns.storage import AttachmentError, UploadBatch, check_uploads

    parent = _parent_or_404(person_id)
    version_id = request.args.get("version_id", type=row_id)
    pupil_arg = request.args.get("pupil_id")  # given but naming no row: 0, which matches no child
    pupil_id = None if not pupil_arg else (row_id(pupil_arg) or 0)
    req = next((r for r in operations.offline_requirements(parent)
                if r.version.id == version_id and (r.subject.id == pupil_id if r.countersign else pupil_id is None)),
               None)
    if req is None:
        abort(404)
    form = offline_form_for(req.version.consent_items)
    if request.method == "GET":
        form.agreed_on.data = uk_today()
    error = None
    status = 200
    if request.method == "POST":
        # Every problem at once (walk finding: the consent answers first, then on the next try the missing scan).
        valid = form.validate_on_submit()
        scan = None
        try:
            checked = check_uploads([request.files.get(form.scan.name)])
            scan = checked[0] if checked else None
        except AttachmentError as exc:
            form.scan.errors = [str(exc)]
        if not form.scan.errors and scan is None and form.how.data == Method.PAPER.value:
            form.scan.errors = [_("Attach the scan (or a photo) of the signed slip.")]
        if valid and not form.scan.errors:
            try:
                with UploadBatch("agreements") as batch:
                    sig = operations.record_offline(
                        req, parent, recorded_by=current_user, method=Method(form.how.data),
                        agreed_on=form.agreed_on.data, note=form.note.data or "",
                        answers={i.id: form[f"consent_{i.id}"].data == "yes" for i in req.version.consent_items},
                        scan=scan, batch=batch, ip=client_ip(), user_agent=request.user_agent.string or "")
                    session.commit()
                    batch.keep()
            except operations.SigningError as exc:
                session.rollback()
                if exc.field and exc.field in form:
                    form[exc.field].errors = [str(exc)]
                else:
                    error = str(exc)
            else:
                signals.announce_signature(sig)
                what = (_("%(title)s for %(name)s", title=req.version.title, name=req.subject.given_name)
                        if req.countersign else req.version.title)
                if sig.method == "paper":
                    message = _("Recorded: %(parent)s agreed to %(what)s on paper. It is shown as recorded by "
                                "you, not as an electronic signature.", parent=parent.full_name, what=what)
                else:
                    message = _("Recorded: %(parent)s agreed to %(what)s verbally. It is shown as recorded by "
                                "you, not as an electronic signature.", parent=parent.full_name, what=what)
                flash(message, "success")
                return redirect(url_for(".offline_parent", person_id=parent.id))
        status = 400
    return render_template("portal/policies/offline_record.html", parent=parent, req=req, form=form, error=error,
                           rendered=render_version(req.version),
                           consent_fields=[form[f"consent_{i.id}"] for i in req.version.consent_items]), status


@bp.get("/offline/agreements/<portal_id:agreement_id>/scan")
@access(capabilities=OFFLINE_VIEWERS)
def offline_scan(agreement_id: int):
    """The scan of a signed slip, to the office, the compliance dashboard and auditors."""
    import io

    from flask import send_file

    from portal import audit
    from portal.concerns.storage import path_of

    agreement = session.get(OfflineAgreement, agreement_id)
    if agreement is None or not agreement.scan_stored_name:
        abort(404)
    path = path_of(agreement.scan_stored_name, "agreements")
    if not path.is_file():
        abort(404)
    audit.record("signature.scan_downloaded", actor=current_user, target=agreement.signature,
                 agreement_id=agreement.id)
    session.commit()
    resp = send_file(io.BytesIO(path.read_bytes()), mimetype=agreement.scan_content_type, as_attachment=True,
                     download_name=agreement.scan_original_name or "slip", max_age=0, etag=False, conditional=False)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp
