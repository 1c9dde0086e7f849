"""The retention schedule in force for a school, and changes to it (operations flush and audit).

A school's rule for a record type is, in order: the school's own :class:`RetentionRule`, else its
trust's :class:`TrustRetentionDefault`, else the shipped :data:`~portal.dataprotection.schedule.DEFAULTS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext, ngettext
from sqlalchemy import select

from portal import audit
from portal.dataprotection.dates import UNITS
from portal.dataprotection.models import RetentionRule, TrustRetentionDefault
from portal.dataprotection.schedule import BY_KEY, DEFAULTS, REVIEW_ROLES, Action, Default, default_for
from portal.db import session, utcnow
from portal.schools.models import School, Trust
from portal.templating import N_

#: The longest period accepted, per unit (a typing slip of 250 years is refused).
MAX_PERIOD = {"years": 100, "months": 1200, "days": 36500}


class RuleError(ValueError):
    """A rule cannot be set as asked (the message says why; nothing was written)."""


@dataclass(frozen=True)
class Rule:
    """The rule in force for one record type in one school."""

    default: Default
    period: int
    unit: str
    action: str
    review_role: str | None
    #: ``school``, ``trust`` or ``default``.
    origin: str
    #: Whether the school has confirmed it (always true for the confirmed periods).
    confirmed: bool

    @property
    def key(self) -> str:
        return self.default.key

    @property
    def differs_from_default(self) -> bool:
        d = self.default
        return (self.period, self.unit, self.action, self.review_role) != (d.period, d.unit, d.action.value,
                                                                           d.review_role)

    def describe(self) -> dict[str, Any]:
        """Small JSON for tombstones and the audit log."""
        return {"record_type": self.key, "trigger": self.default.trigger.value, "period": self.period,
                "unit": self.unit, "action": self.action, "review_role": self.review_role, "origin": self.origin}

    @property
    def period_label(self) -> str:
        """"6 years", "1 month" in the page's language (English outside a request)."""
        return period_text(self.period, self.unit)

    @property
    def action_label(self) -> str:
        """The action's English name (``Delete``); pages translate it (``_(rule.action_label)``)."""
        return Action(self.action).label


def period_text(period: int, unit: str) -> str:
    """A period with its unit, as a whole phrase in the page's language ("1 year", "30 days")."""
    if unit == "years":
        return ngettext("%(num)s year", "%(num)s years", period)
    if unit == "months":
        return ngettext("%(num)s month", "%(num)s months", period)
    if unit == "days":
        return ngettext("%(num)s day", "%(num)s days", period)
    return f"{period} {unit}"


def _actions_text(actions: list[str]) -> str:
    return ", ".join(gettext(Action(a).label).lower() for a in actions)


def check(key: str, period: Any, unit: str, action: str, review_role: str | None) -> tuple[int, str, str, str | None]:
    """Validate a rule; returns the cleaned values.

    :raises RuleError: for an unknown record type, unit, action or role, or a period that is not a
        whole number above zero.
    """
    try:
        default = default_for(key)
    except KeyError:
        raise RuleError(gettext("There is no record type %(key)s.", key=repr(key))) from None
    try:
        period = int(str(period).strip())
    except (TypeError, ValueError):
        raise RuleError(N_("The period must be a whole number, such as 6.")) from None
    if period <= 0:
        raise RuleError(gettext("The period must be at least 1: a record cannot be kept for zero or less time. "
                                "To keep something longer instead, choose a longer period."))
    if unit not in UNITS:
        raise RuleError(N_("The unit must be years, months or days."))
    if period > MAX_PERIOD[unit]:
        raise RuleError(gettext("The period can be at most %(period)s.", period=period_text(MAX_PERIOD[unit], unit)))
    allowed = [a.value for a in default.actions]
    if action not in allowed:
        raise RuleError(gettext("For %(record)s the action must be one of: %(actions)s.",
                                record=gettext(default.label).lower(), actions=_actions_text(allowed)))
    if action == Action.REVIEW.value:
        if review_role not in REVIEW_ROLES:
            raise RuleError(N_("Choose who reviews: the Head Teacher or the DSL."))
    else:
        review_role = review_role if review_role in REVIEW_ROLES else default.review_role
    if default.installation:
        raise RuleError(gettext("%(record)s belong to the whole installation; a school cannot change their rule.",
                                record=gettext(default.label)))
    return period, unit, action, review_role


def _trust_defaults(school: School | None) -> dict[str, TrustRetentionDefault]:
    if school is None or school.trust_id is None:
        return {}
    rows = session.scalars(select(TrustRetentionDefault).where(TrustRetentionDefault.trust_id == school.trust_id))
    return {r.record_type: r for r in rows}


def effective_rules(school: School | None = None) -> dict[str, Rule]:
    """Every record type's rule in force for *school* (default: the current school)."""
    school = school or School.get()
    own = {r.record_type: r for r in session.scalars(select(RetentionRule))}
    trust = _trust_defaults(school)
    out: dict[str, Rule] = {}
    for d in DEFAULTS:
        row: Any = own.get(d.key)
        if row is not None:
            origin = "school"
            confirmed = d.confirmed or row.confirmed_at is not None
        elif (row := trust.get(d.key)) is not None:
            origin, confirmed = "trust", d.confirmed
        else:
            origin, confirmed = "default", d.confirmed or d.installation
        if row is None or d.installation:
            out[d.key] = Rule(d, d.period, d.unit, d.action.value, d.review_role, "default", confirmed)
        else:
            out[d.key] = Rule(d, row.period, row.unit, row.action, row.review_role, origin, confirmed)
    return out


def set_rule(key: str, *, period: Any, unit: str, action: str, review_role: str | None, actor: Any,
             confirm: bool = False) -> Rule:
    """Change the school's rule for *key* (audited with the old and new values).

    Saving a rule also confirms it (the school has looked at the period and chosen it).
    """
    period, unit, action, review_role = check(key, period, unit, action, review_role)
    before = effective_rules()[key]
    row = session.scalar(select(RetentionRule).where(RetentionRule.record_type == key))
    if row is None:
        row = RetentionRule(record_type=key)
        session.add(row)
    row.period, row.unit, row.action, row.review_role = period, unit, action, review_role
    row.changed_at, row.changed_by_id = utcnow(), getattr(actor, "id", None)
    row.confirmed_at, row.confirmed_by_id = utcnow(), getattr(actor, "id", None)
    session.flush()
    after = effective_rules()[key]
    audit.record("retention.rule_changed", actor=actor, target=row, record_type=key,
                 old={k: v for k, v in before.describe().items() if k != "record_type"},
                 new={k: v for k, v in after.describe().items() if k != "record_type"})
    return after


def confirm_rule(key: str, *, actor: Any) -> Rule:
    """The school confirms the rule in force for *key* as it is (audited)."""
    current = effective_rules()[key]
    if current.default.installation:
        raise RuleError(gettext("%(record)s belong to the whole installation; there is nothing to confirm.",
                                record=gettext(current.default.label)))
    row = session.scalar(select(RetentionRule).where(RetentionRule.record_type == key))
    if row is None:
        row = RetentionRule(record_type=key, period=current.period, unit=current.unit, action=current.action,
                            review_role=current.review_role, changed_by_id=getattr(actor, "id", None))
        session.add(row)
    row.confirmed_at, row.confirmed_by_id = utcnow(), getattr(actor, "id", None)
    session.flush()
    audit.record("retention.rule_confirmed", actor=actor, target=row, record_type=key, rule=current.describe())
    return effective_rules()[key]


def reset_rule(key: str, *, actor: Any) -> Rule:
    """Drop the school's own rule: the trust's default (or the shipped one) applies again."""
    default_for(key)
    row = session.scalar(select(RetentionRule).where(RetentionRule.record_type == key))
    if row is None:
        return effective_rules()[key]
    before = effective_rules()[key]
    session.delete(row)
    session.flush()
    after = effective_rules()[key]
    audit.record("retention.rule_reset", actor=actor, record_type=key,
                 old={k: v for k, v in before.describe().items() if k != "record_type"},
                 new={k: v for k, v in after.describe().items() if k != "record_type"})
    return after


def set_trust_default(trust: Trust, key: str, *, period: Any, unit: str, action: str, review_role: str | None,
                      actor: Any = None) -> TrustRetentionDefault:
    """Set a trust's default for *key*; audited in each of the trust's schools' chains (the rule
    those schools apply changes) and in the installation's chain."""
    from portal.schools.isolation import school_scope

    period, unit, action, review_role = check(key, period, unit, action, review_role)
    row = session.scalar(select(TrustRetentionDefault).where(TrustRetentionDefault.trust_id == trust.id,
                                                             TrustRetentionDefault.record_type == key))
    old = None if row is None else {"period": row.period, "unit": row.unit, "action": row.action,
                                    "review_role": row.review_role}
    if row is None:
        row = TrustRetentionDefault(trust_id=trust.id, record_type=key)
        session.add(row)
    row.period, row.unit, row.action, row.review_role = period, unit, action, review_role
    row.changed_at = utcnow()
    account = getattr(actor, "account", actor)
    row.changed_by_account_id = getattr(account, "id", None)
    session.flush()
    new = {"period": period, "unit": unit, "action": action, "review_role": review_role}
    audit.record("retention.trust_default_changed", actor=actor, target=row, school=None, trust=trust.slug,
                 record_type=key, old=old, new=new)
    for school_id in session.scalars(select(School.id).where(School.trust_id == trust.id)):
        with school_scope(session, school_id):
            audit.record("retention.trust_default_changed", actor=actor, target=row, trust=trust.slug,
                         record_type=key, old=old, new=new)
    return row


def unconfirmed(rules: dict[str, Rule]) -> list[Rule]:
    """Rules whose period the school still has to confirm."""
    return [r for r in rules.values() if not r.confirmed]


__all__ = ["BY_KEY", "MAX_PERIOD", "Rule", "RuleError", "check", "confirm_rule", "effective_rules", "reset_rule",
           "period_text", "set_rule", "set_trust_default", "unconfirmed"]
