from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.blueprints.staff import bp
from portal.blueprints.staff.forms import GrantForm, RevokeForm
from portal.db import session
from portal.people import delegation as delegating
from portal.people.models import (
    ADULT_ROLES,
    POLICY_ADULT_ROLES,
    STAFF_ROLES,
    CapabilityGrant,
    ClassTeacher,
    Person,
    PersonRole,
    PupilProfile,
    SchoolClass,
)
from portal.security import CAPABILITIES, NOT_DELEGABLE, access, capabilities_of, capability_label, designations
from portal.tasks import tasks_for


def _class_pupils(cls: SchoolClass) -> list[Person]:
    return sorted((p.person for p in cls.pupils if p.person.active), key=lambda p: (p.given_name, p.family_name))


@dataclass
class ClassRow:
    """A class on a teacher's home: who is still to sign, and for young pupils who signs."""

    cls: SchoolClass
    total: int
    waiting: list
    #: The pupils' parents countersign (EYFS to KS2); the pupils agree in class besides.
    young: bool
    #: Young pupils who have agreed in class this school year.
    agreed: int


@bp.get("/")
@access(roles=POLICY_ADULT_ROLES)
def home():
    """A dashboard: what needs attention (each with a count and a link), signing rates with
    their trend, the person's own to-dos and their classes' outstanding signatures."""
    from urllib.parse import urlsplit

    from portal.dashboard import charts
    from portal.dashboard.queries import attention, audience_rates
    from portal.policies.queries import OUTSTANDING, SIGNED, pupils_status

    caps = capabilities_of(current_user)
    classes = session.scalars(
        select(SchoolClass).join(ClassTeacher).where(ClassTeacher.teacher_id == current_user.id)
        # Each class's pupils with their people, in two statements (the class rows below need them).
        .options(selectinload(SchoolClass.pupils).joinedload(PupilProfile.person))
        .order_by(SchoolClass.year_group, SchoolClass.code)
    ).all()
    tiles = attention(current_user)
    rates = audience_rates() if "compliance.view" in caps else []
    sparks = {r.label: charts.sparkline([v for _d, v in r.weekly],
                                        label=_("%(label)s: %(pct)s%% signed, week by week", label=r.label, pct=r.pct))
              for r in rates}
    # Every class's pupils at once (one catalogue, one signature query), then split by class.
    members = {cls.id: _class_pupils(cls) for cls in classes}
    status_of = {st.pupil.id: st for st in pupils_status([p for kids in members.values() for p in kids])}
    class_rows = []
    for cls in classes:
        statuses = [status_of[p.id] for p in members[cls.id]]
        waiting = [st for st in statuses if any(r.status == OUTSTANDING for r in st.requirements)]
        # Walk finding: "2 of 7 still to sign" here and "7 of 7 agreed" on the classroom page, unnamed. For young
        # pupils the first counts parents' countersignatures and the second the pupils' own agreement in class.
        young = any(st.requirements and not st.signs_own for st in statuses)
        agreed = sum(1 for st in statuses if st.own_acknowledgements
                     and all(r.status == SIGNED for r in st.own_acknowledgements))
        class_rows.append(ClassRow(cls, len(statuses), waiting, young, agreed))
    # The tiles already count what some tasks say (concerns, link decisions): list each thing once.
    tile_paths = {urlsplit(t.url).path for t in tiles}
    tasks = [t for t in tasks_for(current_user) if urlsplit(t.url).path not in tile_paths]
    session.commit()  # the compliance counts, if they had to be made again
    return render_template(
        "portal/staff/home.html",
        classes=classes,
        class_rows=class_rows,
        tasks=tasks,
        tiles=tiles,
        rates=rates,
        sparks=sparks,
        caps=caps,
        designations=designations(current_user),
        declares_links=bool(current_user.role_set & ADULT_ROLES),
    )


@bp.get("/classes/<portal_id:class_id>")
@access(staff=True)
def school_class(class_id: int):
    """A class: its pupils, and what is signed or still outstanding for each (and by whom)."""
    from portal.policies.queries import pupils_status

    cls = session.get(SchoolClass, class_id)
    if cls is None:
        abort(404)
    caps = capabilities_of(current_user)
    if current_user.id not in {t.teacher_id for t in cls.teachers} and not caps & {"compliance.view", "roster.manage"}:
        abort(404)
    pupils = _class_pupils(cls)
    return render_template("portal/staff/class.html", cls=cls, statuses=pupils_status(pupils))


@bp.get("/charts")
@access(capabilities=["compliance.view", "concerns.review", "concerns.safeguarding"])
def charts() -> ResponseReturnValue:
    """Signing over the school year (per audience, per class) and concerns in numbers, as
    server-drawn SVG charts, each followed by its numbers in a table."""
    from portal.concerns.access import may_use_inbox
    from portal.dashboard import charts as draw
    from portal.dashboard.queries import audience_rates, class_rates, concern_numbers, year_span

    caps = capabilities_of(current_user)
    start, end = year_span()
    ctx: dict[str, Any] = {"start": start, "end": end, "style": draw.style}
    if "compliance.view" in caps:
        aud = audience_rates()
        cls = class_rates()
        ctx["audience_rates"] = aud
        ctx["audience_chart"] = draw.line_chart([draw.Series(r.label, r.weekly) for r in aud], start=start, end=end,
                                                label=_("Percent signed over the school year, one line per audience"))
        ctx["class_rates"] = cls
        ctx["class_charts"] = [
            (r, draw.line_chart([draw.Series(r.label, r.weekly)], start=start, end=end,
                                label=_("%(label)s: percent signed over the school year", label=r.label),
                                width=320, height=150)) for r in cls]
        ctx["weeks"] = [d for d, _v in aud[0].weekly] if aud else []
    if may_use_inbox(current_user):
        n = concern_numbers(current_user)
        ctx["concerns"] = n
        ctx["category_chart"] = draw.bar_chart(n.by_category, label=_("Concerns raised this school year, by category"))
        ctx["month_chart"] = draw.column_chart(n.by_month, label=_("Concerns raised each month this school year"))
        ctx["ack_chart"] = draw.column_chart(
            n.ack_days,
            label=_("School days taken to acknowledge a concern; the target is %(target)s school days",
                    target=n.target),
            limit_after=n.target, limit_label=_("Target: %(target)s school days", target=n.target))
    session.commit()  # the compliance counts, if they had to be made again
    return render_template("portal/staff/charts.html", **ctx)


def _staff_choices() -> list[tuple[int, str]]:
    people = session.scalars(
        select(Person).join(PersonRole).where(PersonRole.role.in_([r.value for r in STAFF_ROLES]), Person.active)
        .order_by(Person.family_name, Person.given_name).distinct()
    ).all()
    return [(p.id, p.full_name) for p in people if p.id != current_user.id]


@bp.route("/delegation", methods=["GET", "POST"])
@access(capabilities=["capabilities.delegate"])
def delegation():
    form = GrantForm()
    form.person_id.choices = _staff_choices()
    # Only what the delegator holds: the Head Teacher does not hold lti.manage (LMS registrations are the
    # administrators'), so cannot hand it on.
    held = capabilities_of(current_user)
    form.capability.choices = [(k, capability_label(k)) for k in CAPABILITIES if k in held and k not in NOT_DELEGABLE]
    if form.validate_on_submit():
        if delegating.grant(form.person_id.data, form.capability.data, by=current_user) is None:
            flash(_("That person already holds that capability."), "warning")
        else:
            session.commit()
            flash(_("Capability delegated."), "success")
        return redirect(url_for(".delegation"))
    grants = session.scalars(
        select(CapabilityGrant).where(CapabilityGrant.revoked_at.is_(None)).order_by(CapabilityGrant.granted_at)
    ).all()
    return render_template("portal/staff/delegation.html", form=form, grants=grants, revoke=RevokeForm(),
                           labels={k: capability_label(k) for k in CAPABILITIES})


@bp.post("/delegation/<portal_id:grant_id>/revoke")
@access(capabilities=["capabilities.delegate"])
def revoke_grant(grant_id: int):
    form = RevokeForm()
    grant = session.get(CapabilityGrant, grant_id)
    if grant is None or grant.revoked_at is not None:
        abort(404)
    if form.validate_on_submit():
        delegating.revoke(grant, by=current_user)
        session.commit()
        flash(_("Capability withdrawn."), "success")
    return redirect(url_for(".delegation"))
