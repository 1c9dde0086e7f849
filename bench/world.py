"""A fictional school or trust of any size, for the benchmarks (not used by the tests).

Built with bulk Core inserts that name ``school_id`` explicitly (the session's school hooks do not
see Core statements, see ``portal.schools.isolation``), with ids given by the builder so rows can
refer to each other without a round trip. Every name is invented; every address is on the
reserved ``.example`` domain. Schools get the default policy pack through the portal's own
operation (``create_school``), so policies and versions are exactly what a real school has.

Sizes follow a typical English school: for every 1,000 pupils about 1,430 parents and carers
(families of one or two children, most with two carers), 100 staff, 12 governors and 10
volunteers, so 50 schools of 1,000 pupils are about 130,000 people. A "year of signatures":
most parents, staff and older pupils have signed this year and last year, most young pupils are
countersigned, a few parents declined. Concerns: 400 per school by default, nine in ten closed,
each with a short thread and history.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, text

GIVEN = ["Ada", "Bram", "Cleo", "Dev", "Edie", "Finn", "Gita", "Hal", "Isla", "Jude", "Kit", "Lena", "Milo", "Nia",
         "Otto", "Pia", "Quin", "Rosa", "Sami", "Tess", "Umar", "Vera", "Wren", "Xan", "Yara", "Zeb"]
FAMILY = ["Abbott", "Birch", "Carrow", "Dunmore", "Ellery", "Fairweather", "Gannet", "Holloway", "Ingleby",
          "Jessop", "Kettering", "Lindqvist", "Marlow", "Northcott", "Oakes", "Pennant", "Quarry", "Ravel",
          "Stannard", "Thorne", "Upton", "Vance", "Winslow", "Yardley", "Zeller"]
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
PASSWORD_HASH = None  # filled lazily: one real hash shared by every bench account


@dataclass
class SchoolInfo:
    id: int
    slug: str
    pupils: int = 0
    classes: list[tuple[int, int]] = field(default_factory=list)   # (class id, year group)
    staff: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    pupil_ids: list[tuple[int, int]] = field(default_factory=list)  # (person id, year group)
    head: int | None = None
    versions: dict[str, int] = field(default_factory=dict)          # audience -> published version id
    logins: dict[str, str] = field(default_factory=dict)            # role -> email
    confirmed: set[tuple[int, int]] = field(default_factory=set)     # (person id, academic year)


class Ids:
    """Next free id per table (read once from the database)."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.next: dict[str, int] = {}

    def take(self, table: str, n: int = 1) -> int:
        if table not in self.next:
            col = "person_id" if table == "portal_pupils" else "id"
            self.next[table] = (self.conn.execute(text(f"SELECT max({col}) FROM {table}")).scalar() or 0) + 1
        first = self.next[table]
        self.next[table] += n
        return first


class World:
    """Adds schools, people and their history to the portal database of *app*."""

    def __init__(self, app, seed: int = 13, concerns_per_1000: int = 400) -> None:
        self.app = app
        self.rng = random.Random(seed)
        self.concerns_per_1000 = concerns_per_1000
        self.schools: list[SchoolInfo] = []
        self.trust_id: int | None = None
        self.trust_logins: dict[str, str] = {}
        self._n = 0

    # ------------------------------------------------------------ schools and the trust

    def add_trust(self) -> None:
        from portal.db import session
        from portal.people.models import Account
        from portal.schools.models import TrustRole
        from portal.schools.operations import get_or_create_trust, grant_trust_role

        with self.app.app_context():
            trust = get_or_create_trust("bench-trust", "Bench Learning Trust (fictional)")
            for role in TrustRole:
                email = f"{role.value.replace('_', '-')}@bench-trust.example"
                account = Account(email=email, password_hash=_password_hash(), display_name=role.label)
                session.add(account)
                session.flush()
                grant_trust_role(account, trust, role)
                self.trust_logins[role.value] = email
            session.commit()
            self.trust_id = trust.id

    def add_school(self, pupils: int, *, in_trust: bool = True) -> SchoolInfo:
        """A new school with the default policies, its staff and *pupils* pupils with families."""
        from portal.db import session
        from portal.policies.models import Policy, PolicyVersion
        from portal.schools.isolation import school_scope
        from portal.schools.models import School, Trust
        from portal.schools.operations import create_school

        n = len(self.schools) + 1
        slug = f"bench-school-{n:02d}"
        with self.app.app_context():
            trust = session.get(Trust, self.trust_id) if (in_trust and self.trust_id) else None
            school = create_school(slug=slug, name=f"Bench School {n:02d} (fictional)", phases=["primary", "secondary"],
                                   trust=trust, with_policies=True)
            session.commit()
            info = SchoolInfo(school.id, slug)
            with school_scope(session, school.id):
                for version_id, audience, send in session.execute(
                        select(PolicyVersion.id, Policy.audience, Policy.send_variant).join(Policy)
                        .where(PolicyVersion.status == "published")):
                    info.versions[audience + ("/send" if send else "")] = version_id
        self.schools.append(info)
        self._staff(info)
        self.add_pupils(info, pupils)
        with self.app.app_context():
            from portal.db import session as s2

            school = s2.get(School, info.id)
            school.head_teacher_id, school.dsl_id, school.chair_of_governors_id = info.staff[0], info.staff[1], \
                info.staff[-1]
            s2.commit()
        info.head = info.staff[0]
        return info

    def _engine(self):
        return self.app.extensions["portal"].engine

    def _staff(self, info: SchoolInfo) -> None:
        """100 staff, 10 volunteers, 12 governors (the last one chairs), an auditor and an admin."""
        rows = [("teacher", 70), ("support_staff", 30), ("volunteer", 10), ("auditor", 1), ("admin", 1),
                ("governor", 12)]
        with self._engine().begin() as conn:
            ids = Ids(conn)
            people, roles, accounts = [], [], []
            for role, count in rows:
                for i in range(count):
                    pid = ids.take("portal_people")
                    email = f"{role.replace('_', '-')}{i + 1}@{info.slug}.example"
                    aid = ids.take("portal_accounts")
                    accounts.append(_account(aid, email, f"{role} {i + 1}"))
                    people.append(_person(pid, info.id, f"{info.slug}-{role}-{i}", self._given(), self._family(),
                                          email, aid))
                    roles.append(_role(ids, pid, info.id, role))
                    if role in ("teacher", "support_staff"):
                        info.staff.append(pid)
                    if role == "governor":
                        chair = pid
                    if i == 0 and role not in info.logins:
                        info.logins[role] = email
                    if role == "teacher" and i == 5:  # teaches a class, holds no designation
                        info.logins["class_teacher"] = email
            info.staff.append(chair)
            _bulk(conn, "portal_accounts", accounts)
            _bulk(conn, "portal_people", people)
            _bulk(conn, "portal_person_roles", roles)
        self.sync_sequences()
        info.logins["head"] = info.logins["teacher"]

    def _given(self) -> str:
        return self.rng.choice(GIVEN)

    def _family(self) -> str:
        return self.rng.choice(FAMILY)

    # ------------------------------------------------------------ pupils, families, history

    def add_pupils(self, info: SchoolInfo, pupils: int) -> None:
        """*pupils* more pupils in new classes of 28, their parents, this year's and last year's
        signatures, concerns with threads, family links, incidents and audit entries."""
        year = _academic_year()
        rng = self.rng
        with self._engine().begin() as conn:
            ids = Ids(conn)
            classes, class_teachers = [], []
            new_classes = []
            for c in range(max(1, -(-pupils // 28))):
                cid = ids.take("portal_classes")
                yg = (len(info.classes) + c) % 15 - 1  # Nursery .. Year 13, round and round
                code = f"C{cid}"
                classes.append({"id": cid, "code": code, "name": f"Class {code}", "year_group": yg,
                                "school_id": info.id})
                teacher = info.staff[(len(info.classes) + c) % 70]
                class_teachers.append({"id": ids.take("portal_class_teachers"), "class_id": cid,
                                       "teacher_id": teacher, "school_id": info.id})
                new_classes.append((cid, yg))
            people, roles, profiles, accounts, links = [], [], [], [], []
            new_pupils: list[tuple[int, int]] = []
            for k in range(pupils):
                cid, yg = new_classes[k // 28]
                pid = ids.take("portal_people")
                self._n += 1
                email = aid = None
                if yg >= 7:
                    email = f"pupil{self._n}@{info.slug}.example"
                    aid = ids.take("portal_accounts")
                    accounts.append(_account(aid, email, "pupil"))
                    info.logins.setdefault("pupil", email)
                people.append(_person(pid, info.id, f"{info.slug}-P{self._n}", self._given(), self._family(),
                                      email, aid))
                roles.append(_role(ids, pid, info.id, "pupil"))
                profiles.append({"person_id": pid, "year_group": yg, "school_id": info.id, "class_id": cid,
                                 "date_of_birth": dt.date(NOW.year - 5 - max(yg, 0), 3, 1), "send": k % 17 == 0})
                new_pupils.append((pid, yg))
            # Families of one or two children (siblings next to each other), nearly all with two carers.
            family_parents: list[tuple[list[int], list[int]]] = []
            k = 0
            while k < len(new_pupils):
                size = 2 if rng.random() < 0.4 and k + 1 < len(new_pupils) else 1
                kids = [p for p, _ in new_pupils[k:k + size]]
                k += size
                carers = []
                for c in range(2 if rng.random() < 0.75 else 1):
                    pid = ids.take("portal_people")
                    aid = ids.take("portal_accounts")
                    self._n += 1
                    email = f"parent{self._n}@{info.slug}.example"
                    accounts.append(_account(aid, email, "parent"))
                    people.append(_person(pid, info.id, f"{info.slug}-G{self._n}", self._given(), self._family(),
                                          email, aid))
                    roles.append(_role(ids, pid, info.id, "parent"))
                    carers.append(pid)
                    info.logins.setdefault("parent", email)
                    for kid in kids:
                        links.append({"id": ids.take("portal_guardian_links"), "parent_id": pid, "pupil_id": kid,
                                      "relationship_label": "parent" if c == 0 else "carer", "school_id": info.id})
                family_parents.append((kids, carers))
            _bulk(conn, "portal_classes", classes)
            _bulk(conn, "portal_class_teachers", class_teachers)
            _bulk(conn, "portal_accounts", accounts)
            _bulk(conn, "portal_people", people)
            _bulk(conn, "portal_person_roles", roles)
            _bulk(conn, "portal_pupils", profiles)
            _bulk(conn, "portal_guardian_links", links)
            info.classes += new_classes
            info.pupil_ids += new_pupils
            info.parents += [p for _, carers in family_parents for p in carers]
            info.pupils += pupils
            self._signatures(conn, ids, info, new_pupils, family_parents, year, new_staff=not info.pupils - pupils)
            self._concerns(conn, ids, info, family_parents, pupils)
            self._links_and_incidents(conn, ids, info, new_pupils, pupils)
            _changed(conn, info.id)
        self.sync_sequences()

    def _signatures(self, conn, ids, info, new_pupils, family_parents, year, *, new_staff: bool) -> None:
        rng = self.rng
        v = info.versions
        sigs, records, audit = [], [], []
        yg_of = dict(new_pupils)

        def add(version_key, signer, role, *, pupil=None, decision="signed", y=year, method="online"):
            if version_key not in v:
                return
            sid = ids.take("portal_signatures")
            at = NOW - dt.timedelta(days=rng.randint(1, 60) + (365 if y != year else 0))
            sigs.append({"id": sid, "version_id": v[version_key], "signer_id": signer, "signer_role": role,
                         "on_behalf_of_id": pupil, "decision": decision,
                         "decline_reason": "We would rather talk to the school first." if decision == "declined"
                         else None, "signed_name": "Bench Signer", "text_sha256": "5" * 64, "signed_at": at,
                         "ip": "192.0.2.10", "user_agent": "bench", "method": method, "witness_id": None,
                         "academic_year": y, "school_id": info.id})
            records.append({"id": ids.take("portal_signed_records"), "signature_id": sid, "status": "sealed",
                            "pdf_sha256": f"{sid:064x}", "size": 48000, "seal_mode": "B-B", "created_at": at,
                            "sealed_at": at, "attempts": 1, "last_error": None, "school_id": info.id})
            audit.append(sid)

        for y in (year - 1, year):
            for kids, carers in family_parents:
                for carer in carers:
                    r = rng.random()
                    if r < 0.7:
                        add("parent", carer, "parent", y=y)
                    elif r < 0.73:
                        add("parent", carer, "parent", decision="declined", y=y)
                for kid in kids:
                    band = _band(yg_of[kid])
                    if band in ("pupil_eyfs_ks1", "pupil_ks2"):
                        r = rng.random()
                        if r < 0.75:
                            add(band, carers[0], "parent", pupil=kid, y=y, method="countersign")
                        elif r < 0.78:
                            add(band, carers[-1], "parent", pupil=kid, decision="declined", y=y,
                                method="countersign")
                    elif rng.random() < 0.65:
                        add(band, kid, "pupil", y=y, method="in_class")
            if new_staff:
                for staff in info.staff[:-1]:
                    if rng.random() < 0.9:
                        add("staff", staff, "teacher", y=y)
        _bulk(conn, "portal_signatures", sigs)
        _bulk(conn, "portal_signed_records", records)
        self._audit(conn, ids, info, [("signature.created", "Signature", sid) for sid in audit])

    def _audit(self, conn, ids, info, entries) -> None:
        """Audit entries at the end of the school's chain (hashes are placeholders: the benchmark
        never verifies the chain)."""
        seq = (conn.execute(text("SELECT max(seq) FROM portal_audit_log WHERE chain = :c"), {"c": info.id}).scalar()
               or 0)
        rows = []
        for action, kind, target in entries:
            seq += 1
            rows.append({"id": ids.take("portal_audit_log"), "chain": info.id, "seq": seq, "school_id": info.id,
                         "created_at": NOW, "actor_id": None, "action": action, "target_type": kind,
                         "target_id": str(target), "data": {}, "prev_hash": f"{info.id:08x}{seq:056x}",
                         "hash": f"{info.id:08x}{seq + 1:056x}", "import_id": None})
        _bulk(conn, "portal_audit_log", rows)

    def _concerns(self, conn, ids, info, family_parents, pupils) -> None:
        rng = self.rng
        concerns, messages, events = [], [], []
        count = pupils * self.concerns_per_1000 // 1000
        for i in range(count):
            kids, carers = family_parents[rng.randrange(len(family_parents))]
            cid = ids.take("portal_concerns")
            closed = i % 10 != 0
            at_risk = i % 25 == 0
            created = NOW - dt.timedelta(days=rng.randint(1, 700))
            status = "closed" if closed else rng.choice(["new", "acknowledged", "in_progress", "resolved"])
            concerns.append({
                "id": cid, "raised_by_id": carers[0], "child_id": kids[0], "category": "teaching", "about": "nobody",
                "about_person_id": None, "at_risk": at_risk, "route": "safeguarding" if at_risk else "general",
                "subject": "A question about homework", "description": "Fictional words for the benchmark.",
                "status": status, "stage": "informal",
                "assignee_id": info.staff[1 + i % 5] if status != "new" else None,
                "created_at": created, "stage_started_at": created,
                "ack_due": (created + dt.timedelta(days=7)).date(),
                "response_due": (created + dt.timedelta(days=21)).date(),
                "acknowledged_at": None, "resolved_at": None,
                "closed_at": created + dt.timedelta(days=20) if closed else None,
                "parent_seen_at": created, "shared_with_trust_at": NOW if at_risk and i % 50 == 0 else None,
                "shared_with_trust_by_id": None, "school_id": info.id})
            for j, author in enumerate((carers[0], info.staff[0])):
                messages.append({"id": ids.take("portal_concern_messages"), "concern_id": cid, "author_id": author,
                                 "from_parent": j == 0, "internal": False, "body": "Fictional message.",
                                 "created_at": created + dt.timedelta(hours=j + 1), "school_id": info.id})
            events.append({"id": ids.take("portal_concern_events"), "concern_id": cid, "actor_id": info.staff[0],
                           "kind": "status", "old_value": "new", "new_value": status, "reason": None,
                           "created_at": created + dt.timedelta(days=1), "school_id": info.id})
        _bulk(conn, "portal_concerns", concerns)
        _bulk(conn, "portal_concern_messages", messages)
        _bulk(conn, "portal_concern_events", events)

    def _links_and_incidents(self, conn, ids, info, new_pupils, pupils) -> None:
        year = _academic_year()
        links, confirmations, contact, social, actions = [], [], [], [], []
        for i in range(max(4, pupils // 50)):
            staff = info.staff[2 + i % 60]
            pupil = new_pupils[i % len(new_pupils)][0]
            links.append({"id": ids.take("portal_family_links"), "source": "adult", "declared_by_id": staff,
                          "adult_id": staff, "pupil_id": pupil, "typed_pupil_name": None, "typed_pupil_class": None,
                          "typed_adult_name": None, "relationship_kind": "aunt_uncle", "note": "",
                          "academic_year": year, "status": "approved" if i % 4 else "pending", "created_at": NOW,
                          "decided_by_id": info.staff[0] if i % 4 else None, "decided_at": NOW if i % 4 else None,
                          "decision_reason": "", "school_id": info.id})
            if (staff, year - (i % 2)) not in info.confirmed:
                info.confirmed.add((staff, year - (i % 2)))
                confirmations.append({"id": ids.take("portal_family_link_confirmations"), "person_id": staff,
                                      "context": "adult", "academic_year": year - (i % 2), "has_links": True,
                                      "confirmed_at": NOW, "school_id": info.id})
            iid = ids.take("portal_contact_incidents")
            contact.append({"id": iid, "kind": "message", "direction": "from_pupil", "pupil_id": pupil,
                            "adult_id": staff, "platform": "Chatter", "occurred_on": NOW.date(),
                            "summary": "Fictional.", "routed_to": "dsl", "covered_by_link": False,
                            "covering_link_id": None, "recorded_by_id": info.staff[3], "created_at": NOW,
                            "closed_at": None, "school_id": info.id})
            actions.append({"id": ids.take("portal_incident_actions"), "contact_incident_id": iid,
                            "social_incident_id": None, "at": NOW, "actor_id": info.staff[3], "text": "Recorded.",
                            "school_id": info.id})
            sid = ids.take("portal_social_media_incidents")
            social.append({"id": sid, "author_type": "community", "author_description": "A parent",
                           "platform": "Chatter", "posted_on": None, "seen_on": NOW.date(), "summary": "Fictional.",
                           "prevent_flag": False, "routed_to": "head", "deletion_requested_on": None,
                           "deletion_outcome": "not_requested", "deletion_outcome_on": None,
                           "reported_to_platform_on": None, "helpline_contacted_on": None, "police_involved": False,
                           "police_reference": "", "recorded_by_id": info.staff[3], "created_at": NOW,
                           "closed_at": None, "school_id": info.id})
            actions.append({"id": ids.take("portal_incident_actions"), "contact_incident_id": None,
                            "social_incident_id": sid, "at": NOW, "actor_id": info.staff[3], "text": "Recorded.",
                            "school_id": info.id})
        # Insertion order matters for the foreign keys: links, then incidents, then their actions.
        _bulk(conn, "portal_family_links", links)
        _bulk(conn, "portal_family_link_confirmations", confirmations)
        _bulk(conn, "portal_contact_incidents", contact)
        _bulk(conn, "portal_social_media_incidents", social)
        _bulk(conn, "portal_incident_actions", actions)

    def sync_sequences(self) -> None:
        """Move PostgreSQL's id sequences past the ids given here (the portal's own inserts, such
        as the next school's, come from the sequences)."""
        engine = self._engine()
        if engine.dialect.name != "postgresql":
            return
        with engine.begin() as conn:
            tables = conn.execute(text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE column_default LIKE 'nextval%' AND table_name LIKE 'portal_%'")).all()
            for table, column in tables:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                                  f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"))

    def finish(self) -> None:
        """Sequences past the given ids, and fresh planner statistics."""
        engine = self._engine()
        self.sync_sequences()
        if engine.dialect.name != "postgresql":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
            return
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))

    def people_count(self) -> int:
        from portal.people.models import Person

        with self._engine().connect() as conn:
            return conn.execute(select(func.count()).select_from(Person.__table__)).scalar()


def _changed(conn, school_id: int) -> None:
    """Tell the portal the school's data changed behind the session's back (as bulk imports do)."""
    try:
        from portal.signals import bulk_data_changed
    except ImportError:  # an older checkout, measured with --code, has no stored counts
        return
    bulk_data_changed.send(None, school_ids=[school_id], conn=conn)


def _academic_year() -> int:
    today = NOW.date()
    return today.year if today >= dt.date(today.year, 9, 1) else today.year - 1


def _band(year_group: int) -> str:
    if year_group <= 2:
        return "pupil_eyfs_ks1"
    if year_group <= 6:
        return "pupil_ks2"
    if year_group <= 11:
        return "pupil_ks3_4"
    return "pupil_ks5"


def _password_hash() -> str:
    """One argon2id hash (cheapest parameters: sign-in is not what is measured) for every account."""
    global PASSWORD_HASH
    if PASSWORD_HASH is None:
        import argon2

        PASSWORD_HASH = argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST).hash(BENCH_PASSWORD)
    return PASSWORD_HASH


BENCH_PASSWORD = "bench-password-fictional"


def _account(aid: int, email: str, name: str) -> dict:
    return {"id": aid, "email": email, "password_hash": _password_hash(), "display_name": name, "active": True,
            "last_school_id": None, "created_at": NOW}


def _person(pid: int, school_id: int, external_id: str, given: str, family: str, email, account_id) -> dict:
    from portal.people.folding import name_key

    return {"id": pid, "external_id": external_id, "given_name": given, "family_name": family,
            "name_key": name_key(given, family), "email": email, "account_id": account_id, "active": True,
            "created_at": NOW, "school_id": school_id}


def _role(ids: Ids, person_id: int, school_id: int, role: str) -> dict:
    return {"id": ids.take("portal_person_roles"), "person_id": person_id, "role": role, "school_id": school_id}


def _bulk(conn, table: str, rows: list[dict], chunk: int = 5000) -> None:
    """Insert *rows* into *table* with Core (school ids given explicitly), a chunk at a time."""
    if not rows:
        return
    from portal.db import Base

    t = Base.metadata.tables[table]
    for start in range(0, len(rows), chunk):
        conn.execute(insert(t), rows[start:start + chunk])
