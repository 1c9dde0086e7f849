"""A school leaves the trust: ``flask portal schools export / import / remove``, through the real CLI.

Two schools share one installation: the default test school ("A", the installation's first
school, keys and archive at the top of their folders) and Brambleford ("B", made with
``make_school``). Each has staff, a class, pupils, a parent, a signed policy with a real sealed
PDF, a concern with an attachment and audit entries; one teacher works at both (one account).

The second installation is a separate app from :func:`portal.app.create_app` on its own freshly
migrated database (a copy of an empty database migrated once per test worker: a new SQLite file,
or a new database on the throwaway PostgreSQL server) with its own archive, keys and upload
folders. Imported accounts carry no password, so the tests set one through the ORM before signing
in (as the "forgot password" link would).

All names and addresses are invented (``.example``).
"""
from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import itertools
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select, text

from portal.app import create_app
from portal.auth.passwords import hash_password
from portal.db import Base, session
from portal.people.models import Account, GuardianLink, Person, PupilProfile, Role
from portal.policies.models import ConsentItem, Policy, PolicyVersion, VersionStatus
from portal.records.keys import CERT_FILE, KEY_FILE, init_keys, school_keys_dir
from portal.records.models import SignedRecord
from portal.schools.isolation import all_schools, school_scope
from portal.schools.models import DeputyDsl, School
from portal.schools.transfer import school_tables
from portal.signatures.models import ConsentAnswer, Signature
from tests.concerns_helpers import PNG, raise_concern
from tests.factories import PASSWORD
from tests.schools import DEFAULT_SCHOOL_SLUG, as_school

B_SLUG = "brambleford-academy"
B_NAME = "Brambleford Academy (fictional)"
NEW_PASSWORD = "a fresh start in a new home"
PNG_A = PNG + b"alpha-only attachment bytes 5521"
PNG_B = PNG + b"bravo attachment bytes 8830"

_n = itertools.count(1)


# ---------------------------------------------------------------- helpers


def run(app, *args):
    """``flask portal ARGS`` against *app*, as a fresh process would run it: in its own
    application context (so its own database session, with no school chosen)."""
    result = contextvars.Context().run(app.test_cli_runner().invoke, args=["portal", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is not a "clear error"
    return result


def counts(sess, school_id):
    """Rows per school-owned table for one school (Core statements naming the school: no scope needed)."""
    return {t.name: sess.scalar(select(func.count()).select_from(t).where(t.c.school_id == school_id)
                                .execution_options(portal_unscoped_ok=True))
            for t in school_tables()}


def all_counts(sess):
    """Rows in every table of the installation."""
    return {t.name: sess.scalar(select(func.count()).select_from(t).execution_options(portal_unscoped_ok=True))
            for t in Base.metadata.sorted_tables}


def files_under(*folders):
    """{relative path: SHA-256} of every file under the folders (what the installation holds on disk)."""
    out = {}
    for folder in folders:
        folder = Path(folder)
        if folder.exists():
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    name = f"{folder.name}/{p.relative_to(folder).as_posix()}"
                    out[name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def disk_of(app):
    c = app.config
    return files_under(c["PORTAL_ARCHIVE_DIR"], c["PORTAL_KEYS_DIR"], c["PORTAL_UPLOAD_DIR"])


def state_of(app):
    """Everything an installation holds: row counts of every table and every file."""
    with app.app_context(), all_schools(session):
        return all_counts(session), disk_of(app)


def school_pdfs(app, school):
    """{sha256: bytes} of the sealed PDFs in *school*'s part of the archive."""
    root = Path(app.config["PORTAL_ARCHIVE_DIR"])
    root = root / school.archive_prefix if school.archive_prefix else root
    out = {}
    for p in root.rglob("*.pdf"):
        if school.archive_prefix == "" and "schools" in p.relative_to(root).parts:
            continue  # the first school's archive is the top level; other schools live below it
        out[p.stem] = p.read_bytes()
    return out


def jsonl(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def sha256_file(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fix_manifest(folder, *names):
    """Make the manifest's checksums agree with the files (a forger who knows the format)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in names:
        manifest["files"][name] = sha256_file(folder / name)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def login(client, email, password):
    return client.post("/portal/auth/login", data={"email": email, "password": password, "next": ""})


# ---------------------------------------------------------------- the two schools


def _person(db, *roles, given, family, email=None, account=None):
    person = Person(given_name=given, family_name=family, email=email, active=True,
                    external_id=f"MIS-{next(_n)}")
    if account is not None:
        person.account = account
    elif email:
        person.account = db.scalar(select(Account).where(Account.email == email)) or Account(
            email=email, password_hash=hash_password(PASSWORD), display_name=f"{given} {family}")
    for r in roles:
        person.add_role(r)
    db.add(person)
    db.commit()
    return person


def _pupil(db, cls, given, family, year=4):
    pupil = _person(db, Role.PUPIL, given=given, family=family)
    db.add(PupilProfile(person_id=pupil.id, year_group=year, date_of_birth=dt.date(2017, 3, 14), class_id=cls.id))
    db.commit()
    return pupil


def _seal(db, *, title, publisher, parent, child, slug):
    """A published parent policy, the parent's signature for their child, and its sealed PDF."""
    from portal.records.operations import make_record

    policy = Policy(slug=slug, title=title, audience="parent")
    version = PolicyVersion(policy=policy, number=1, status=VersionStatus.PUBLISHED.value, title=title,
                            body_md=f"# {title}\n\nWe use the school's computers kindly and safely.\n",
                            published_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC), published_by_id=publisher.id)
    version.consent_items.append(ConsentItem(key="photos_website", question="Photos on the website?", position=0))
    db.add(policy)
    db.commit()
    sig = Signature(version_id=version.id, signer_id=parent.id, signer_role="parent", on_behalf_of_id=child.id,
                    decision="signed", signed_name=parent.full_name,
                    text_sha256=hashlib.sha256(version.body_md.encode()).hexdigest(),
                    signed_at=dt.datetime(2026, 9, 14, 8, 30, 5, tzinfo=dt.UTC), ip="192.0.2.10",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0", method="online", academic_year=2026)
    db.add(sig)
    db.flush()
    db.add(ConsentAnswer(consent_item_id=version.consent_items[0].id, signature_id=sig.id, person_id=parent.id,
                         pupil_id=child.id, answer=True))
    db.commit()
    record = make_record(sig.id)
    assert record is not None and record.is_sealed, record and record.last_error
    return sig


def _concern(login_as, db, parent, subject, png):
    resp = raise_concern(login_as(parent), subject=subject, files=[("note.png", png)])
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    db.expire_all()


@pytest.fixture
def world(app, db, school, make_school, login_as):
    """School A (the default school, made first: its audit chain holds the installation's first
    entries) and school B, each with people, a class, pupils, a parent, sealed records, a concern
    with an attachment and audit entries; Morgan teaches at both with one account."""
    w = SimpleNamespace(app=app)
    # --- A: the default test school (keys and archive at the top of their folders)
    a = school
    init_keys(school_keys_dir(a), a.name)
    from portal.people.models import SchoolClass

    a_teacher = _person(db, Role.TEACHER, given="Albertine", family="Quillfeather",
                        email="albertine.quillfeather@alpha.example")
    a_cls = SchoolClass(code="AL4", name="Alder Class", year_group=4)
    db.add(a_cls)
    db.commit()
    a_child = _pupil(db, a_cls, "Aurelio", "Thistlewood")
    a_parent = _person(db, Role.PARENT, given="Araminta", family="Thistlewood",
                       email="araminta.thistlewood@alpha.example")
    db.add(GuardianLink(parent_id=a_parent.id, pupil_id=a_child.id))
    morgan = _person(db, Role.TEACHER, given="Morgan", family="Twofold", email="morgan.twofold@trust.example")
    db.commit()
    _seal(db, title="Alpha computer rules", publisher=a_teacher, parent=a_parent, child=a_child, slug="alpha-aup")
    _concern(login_as, db, a_parent, "Alpha lunchtime worry", PNG_A)
    w.a = SimpleNamespace(id=a.id, slug=a.slug, uid=a.uid, name=a.name, parent=a_parent, child=a_child,
                          morgan=morgan,
                          people=[(p.full_name, p.email) for p in db.scalars(select(Person))])

    # --- B: a second school of the trust, with its own key folder and archive prefix
    b = make_school(B_SLUG, B_NAME)
    with as_school(b.id):
        b = db.get(School, b.id)
        init_keys(school_keys_dir(b), b.name)
        head = _person(db, Role.TEACHER, given="Beatrix", family="Hollowmere", email="beatrix.hollowmere@bravo.example")
        dsl = _person(db, Role.TEACHER, given="Benedict", family="Larkspire", email="benedict.larkspire@bravo.example")
        chair = _person(db, Role.GOVERNOR, given="Bathsheba", family="Cornwallis",
                        email="bathsheba.cornwallis@bravo.example")
        deputy = _person(db, Role.TEACHER, given="Bertram", family="Oakenshaw", email="bertram.oakenshaw@bravo.example")
        b.head_teacher_id, b.dsl_id, b.chair_of_governors_id = head.id, dsl.id, chair.id
        db.add(DeputyDsl(person_id=deputy.id))
        db.commit()
        teacher = _person(db, Role.TEACHER, given="Bryony", family="Fenwick", email="bryony.fenwick@bravo.example")
        cls = SchoolClass(code="BI4", name="Birch Class", year_group=4)
        db.add(cls)
        db.flush()
        from portal.people.models import ClassTeacher

        db.add(ClassTeacher(class_id=cls.id, teacher_id=teacher.id))
        db.commit()
        basil = _pupil(db, cls, "Basil", "Underhay")
        blossom = _pupil(db, cls, "Blossom", "Underhay", year=2)
        parent = _person(db, Role.PARENT, given="Bronwen", family="Underhay", email="bronwen.underhay@bravo.example")
        db.add_all([GuardianLink(parent_id=parent.id, pupil_id=basil.id),
                    GuardianLink(parent_id=parent.id, pupil_id=blossom.id)])
        b_morgan = _person(db, Role.TEACHER, given="Morgan", family="Twofold", email="morgan.twofold@trust.example")
        db.commit()
        assert b_morgan.account_id == morgan.account_id  # one sign-in, two schools
        _seal(db, title="Bravo computer rules", publisher=teacher, parent=parent, child=basil, slug="bravo-aup")
        _seal(db, title="Bravo tablet rules", publisher=teacher, parent=parent, child=blossom, slug="bravo-tablets")
    _concern(login_as, db, parent, "Bravo playground worry", PNG_B)
    db.expire_all()
    b = db.get(School, b.id)
    w.b = SimpleNamespace(id=b.id, slug=b.slug, uid=b.uid, name=b.name, keys_path=b.keys_path,
                          archive_prefix=b.archive_prefix, parent=parent, basil=basil, blossom=blossom,
                          head=head, dsl=dsl, chair=chair, deputy=deputy, morgan=b_morgan)
    with as_school(b.id):
        w.b.people = [(p.full_name, p.email) for p in db.scalars(select(Person))]
    with all_schools(db):
        assert {r.school_id for r in db.scalars(select(SignedRecord))} == {a.id, b.id}
    w.a_pdfs = school_pdfs(app, db.get(School, a.id))
    w.b_pdfs = school_pdfs(app, db.get(School, b.id))
    assert len(w.a_pdfs) == 1 and len(w.b_pdfs) == 2
    return w


# ---------------------------------------------------------------- another installation


@pytest.fixture
def new_installation(db_backend, request, tmp_path, app_config):
    """``new_installation()`` -> another app on its own freshly migrated database and folders."""
    made = []

    def _make():
        n = next(_n)
        if db_backend == "sqlite":
            path = tmp_path / f"installation-{n}.sqlite"
            shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), path)
            url = f"sqlite:///{path}"
        else:
            server = request.getfixturevalue("pg_server")
            if isinstance(server, str):
                from tests.deps import unavailable

                unavailable(f"PostgreSQL: {server}")
            name = f"portal_second_{os.getpid()}_{n}"
            template = request.getfixturevalue("_migrated_postgresql")
            admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            admin.dispose()
            made.append((server, name))
            url = server.url(name)
        home = tmp_path / f"installation-{n}"
        cfg = {**app_config, "PORTAL_DATABASE_URI": url, "PORTAL_ARCHIVE_DIR": str(home / "archive"),
               "PORTAL_KEYS_DIR": str(home / "keys"), "PORTAL_UPLOAD_DIR": str(home / "uploads")}
        other = create_app(cfg)
        other.test_client_class = request.getfixturevalue("app").test_client_class
        made.append(other)
        return other

    yield _make
    for item in made:
        if isinstance(item, tuple):
            server, name = item
            admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        else:
            item.extensions["portal"].engine.dispose()


@pytest.fixture
def receiving(new_installation):
    """A second installation that already has a school of its own, with people and audit
    entries, so every imported id has to move (nothing lines up by accident)."""
    other = new_installation()
    result = run(other, "schools", "add", "--slug", "ashdown-vale", "--name", "Ashdown Vale School (fictional)")
    assert result.exit_code == 0, result.output
    with other.app_context():
        own = session.scalar(select(School).where(School.slug == "ashdown-vale"))
        with school_scope(session, own.id):
            for i in range(7):
                session.add(Person(given_name="Astrid", family_name=f"Vale{i}", email=f"astrid{i}@ashdown.example",
                                   external_id=f"AV-{i}"))
            session.commit()
    return other


# ---------------------------------------------------------------- 1 + 2: export and import


def test_export_holds_only_that_school_and_import_round_trips_it(app, db, world, receiving, tmp_path):
    out = tmp_path / "brambleford-export"
    result = run(app, "schools", "export", B_SLUG, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"Exported {B_SLUG} to {out}" in result.output
    db.expire_all()
    b_counts = counts(db, world.b.id)

    # --- the manifest: the documented format, every file with its SHA-256
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "countersign-school-export" and manifest["version"] == 1
    assert manifest["school"] == {"uid": world.b.uid, "slug": B_SLUG, "name": B_NAME}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, sha in manifest["files"].items():
        assert sha256_file(out / name) == sha, name
    assert {f"tables/{t}.jsonl" for t in manifest["tables"]} <= on_disk
    assert {t: v["rows"] for t, v in manifest["tables"].items()} == b_counts

    # --- every row is B's
    for path in sorted((out / "tables").glob("*.jsonl")):
        rows = jsonl(path)
        assert len(rows) == manifest["tables"][path.stem]["rows"]
        assert all(r["school_id"] == world.b.id for r in rows), path.name
        if path.stem == "portal_audit_log":
            assert rows and all(r["chain"] == world.b.id for r in rows)
            assert rows[-1]["action"] == "school.exported"
            chain = manifest["audit_chain"]
            assert (chain["entries"], chain["head"]) == (len(rows), rows[-1]["hash"])
    assert jsonl(out / "tables" / "portal_people.jsonl") and jsonl(out / "tables" / "portal_signed_records.jsonl")

    # --- nothing of A in any file: names, addresses, slug, uid, name, PDFs, attachment, key
    shared = {world.a.morgan.email}
    a_only = [(n, e) for n, e in world.a.people if e not in shared]
    assert len(a_only) >= 6
    needles = [world.a.slug, world.a.uid, world.a.name]
    for full_name, email in a_only:
        needles.append(full_name)
        if email:
            needles.append(email)
    needles += ["Alpha computer rules", "Alpha lunchtime worry", "Alder Class", "alpha-aup"]
    a_cert = (Path(app.config["PORTAL_KEYS_DIR"]) / CERT_FILE).read_bytes()
    exported = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for name, data in exported.items():
        body = data.decode("utf-8", "replace")
        for needle in needles:
            assert needle not in body, f"{needle!r} (school A) is in {name}"
        assert b"alpha-only attachment" not in data, name
        assert data != a_cert, name
    assert not any(sha in name for sha in world.a_pdfs for name in exported)
    # accounts: exactly B's people's sign-ins, never a password
    accounts = jsonl(out / "accounts.jsonl")
    assert {a["email"] for a in accounts} == {e for _, e in world.b.people if e}
    assert all(set(a) == {"id", "email", "display_name", "active"} for a in accounts)
    # the sealed PDFs and the attachment, byte for byte
    assert {p.stem: p.read_bytes() for p in (out / "files" / "records").glob("*.pdf")} == world.b_pdfs
    assert [p.read_bytes() for p in (out / "files" / "attachments").iterdir()] == [PNG_B]
    b_cert = (Path(app.config["PORTAL_KEYS_DIR"]) / world.b.keys_path / CERT_FILE).read_bytes()
    b_root = (Path(app.config["PORTAL_KEYS_DIR"]) / world.b.keys_path / "school-seal.chain.pem").read_bytes()
    # B's sealing certificate and the root that issued it (so its records verify where it goes)
    assert sorted(p.read_bytes() for p in (out / "files" / "keys").iterdir()) == sorted([b_cert, b_root])
    assert not any(KEY_FILE in name or b"PRIVATE KEY" in data for name, data in exported.items())

    # the export is audited in B's chain (inside the export) and in the installation's chain
    with all_schools(db):
        from portal.audit.models import AuditEntry

        last = db.scalars(select(AuditEntry).where(AuditEntry.chain == 0).order_by(AuditEntry.seq.desc())).first()
    assert last.action == "school.exported" and last.data["uid"] == world.b.uid
    assert last.data["manifest_sha256"] == sha256_file(out / "manifest.json")

    # --- import into the other installation
    result = run(receiving, "schools", "import", str(out))
    assert result.exit_code == 0, result.output
    assert f"Imported {B_SLUG}: {B_NAME}." in result.output

    with receiving.app_context():
        moved = session.scalar(select(School).where(School.slug == B_SLUG))
        assert moved is not None and moved.uid == world.b.uid and moved.name == B_NAME
        got = counts(session, moved.id)
        # every table as exported; the audit chain has one more entry: "school.imported"
        assert got == {**b_counts, "portal_audit_log": b_counts["portal_audit_log"] + 1}

        # sealed PDFs: the same set of bytes, in the imported school's part of the archive
        pdfs = school_pdfs(receiving, moved)
        assert {hashlib.sha256(v).hexdigest() for v in pdfs.values()} == set(world.b_pdfs)
        assert pdfs == world.b_pdfs
        with school_scope(session, moved.id):
            assert set(session.scalars(select(SignedRecord.pdf_sha256))) == set(world.b_pdfs)

            # people and designations point at the right (renumbered) people
            by_email = {p.email: p for p in session.scalars(select(Person)) if p.email}
            assert {(p.full_name, p.email) for p in session.scalars(select(Person))} == set(world.b.people)
            assert moved.head_teacher_id == by_email[world.b.head.email].id
            assert moved.dsl_id == by_email[world.b.dsl.email].id
            assert moved.chair_of_governors_id == by_email[world.b.chair.email].id
            assert [d.person.email for d in session.scalars(select(DeputyDsl))] == [world.b.deputy.email]
            assert by_email[world.b.head.email].id != world.b.head.id  # ids really moved
            parent = by_email[world.b.parent.email]
            children = {link.pupil_id for link in session.scalars(
                select(GuardianLink).where(GuardianLink.parent_id == parent.id))}
            names = {session.get(Person, c).full_name for c in children}
            assert names == {"Basil Underhay", "Blossom Underhay"}
            sigs = list(session.scalars(select(Signature)))
            assert {s.signer_id for s in sigs} == {parent.id}
            assert {session.get(Person, s.on_behalf_of_id).given_name for s in sigs} == {"Basil", "Blossom"}
            records = list(session.scalars(select(SignedRecord)))
            assert {r.signature_id for r in records} == {s.id for s in sigs}
        # imported accounts have no password
        account = session.scalar(select(Account).where(Account.email == world.b.parent.email))
        assert account is not None and account.password_hash is None
        assert session.scalar(select(Account).where(Account.email == world.a.parent.email)) is None

    # the audit chain verifies: the imported school's, and every chain of the installation
    result = run(receiving, "audit", "verify", "--school", B_SLUG)
    assert result.exit_code == 0, result.output
    assert "Audit chain intact" in result.output
    result = run(receiving, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "BROKEN" not in result.output

    # the sealed PDFs still verify as the school's own (its old certificate came along)
    result = run(receiving, "keys", "init", "--school", B_SLUG)
    assert result.exit_code == 0, result.output
    for sha in world.b_pdfs:
        pdf = tmp_path / f"{sha}.pdf"
        pdf.write_bytes(world.b_pdfs[sha])
        result = run(receiving, "records", "verify", str(pdf), "--school", B_SLUG)
        assert result.exit_code == 0, result.output
        assert "Identical to archived record" in result.output

    # --- the parent signs in to the new installation and sees their own children and concern.
    # Accounts are imported without passwords: set one through the ORM, as a reset link would.
    with receiving.app_context():
        account = session.scalar(select(Account).where(Account.email == world.b.parent.email))
        account.password_hash = hash_password(NEW_PASSWORD)
        session.commit()
    client = receiving.test_client()
    resp = login(client, world.b.parent.email, NEW_PASSWORD)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    page = client.get("/portal/parent/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Basil" in body and "Blossom" in body and "Aurelio" not in body
    page = client.get("/portal/concerns/")
    assert page.status_code == 200 and "Bravo playground worry" in page.get_data(as_text=True)
    with receiving.app_context():
        from portal.concerns.models import ConcernAttachment

        with school_scope(session, session.scalar(select(School.id).where(School.slug == B_SLUG))):
            att = session.scalar(select(ConcernAttachment))
    download = client.get(f"/portal/concerns/{att.concern_id}/attachments/{att.id}")
    assert download.status_code == 200 and download.data == PNG_B
    # the old password of the first installation does not open the new one
    assert login(receiving.test_client(), world.b.parent.email, PASSWORD).status_code == 200


def test_the_first_school_can_leave_too(app, db, world, new_installation, tmp_path):
    """The installation's first school keeps its key and PDFs at the top of the folders, and its
    chain holds the installation's first audit entry: it moves to an empty installation, and
    removing it leaves the other school's key folder and archive alone."""
    out = tmp_path / "test-school-export"
    result = run(app, "schools", "export", DEFAULT_SCHOOL_SLUG, "--out", str(out))
    assert result.exit_code == 0, result.output
    db.expire_all()
    a_counts = counts(db, world.a.id)
    rows = jsonl(out / "tables" / "portal_audit_log.jsonl")
    assert rows[0]["id"] == 1  # the installation's very first audit entry is A's
    assert {p.stem for p in (out / "files" / "records").glob("*.pdf")} == set(world.a_pdfs)
    assert not any(sha in p.name for sha in world.b_pdfs for p in out.rglob("*"))

    empty = new_installation()
    result = run(empty, "schools", "import", str(out))
    assert result.exit_code == 0, result.output
    with empty.app_context():
        moved = session.scalar(select(School).where(School.slug == DEFAULT_SCHOOL_SLUG))
        assert counts(session, moved.id) == {**a_counts, "portal_audit_log": a_counts["portal_audit_log"] + 1}
        assert school_pdfs(empty, moved) == world.a_pdfs
    result = run(empty, "audit", "verify")
    assert result.exit_code == 0 and "BROKEN" not in result.output, result.output

    b_before = counts(db, world.b.id)
    b_keys = files_under(Path(app.config["PORTAL_KEYS_DIR"]) / world.b.keys_path)
    result = run(app, "schools", "remove", DEFAULT_SCHOOL_SLUG, "--exported-to", str(out), "--yes")
    assert result.exit_code == 0, result.output
    db.expire_all()
    keys = Path(app.config["PORTAL_KEYS_DIR"])
    assert not (keys / KEY_FILE).exists() and not (keys / CERT_FILE).exists()
    assert files_under(keys / world.b.keys_path) == b_keys
    with all_schools(db):
        assert school_pdfs(app, db.get(School, world.b.id)) == world.b_pdfs
    assert not any(sha in p.name for sha in world.a_pdfs for p in Path(app.config["PORTAL_ARCHIVE_DIR"]).rglob("*"))
    assert counts(db, world.b.id) == b_before
    assert counts(db, world.a.id) == {t: 0 for t in a_counts}
    result = run(app, "audit", "verify")
    assert result.exit_code == 0 and "BROKEN" not in result.output, result.output


# ---------------------------------------------------------------- 3: bad input writes nothing


def test_unknown_slugs_are_refused_with_the_list_of_schools(app, db, world, tmp_path):
    before = state_of(app)
    result = run(app, "schools", "export", "no-such-school", "--out", str(tmp_path / "x"))
    assert result.exit_code != 0
    assert "No school with the slug 'no-such-school'" in result.output
    assert f"Schools: {B_SLUG}, {DEFAULT_SCHOOL_SLUG}." in result.output
    assert not (tmp_path / "x").exists()
    some_folder = tmp_path / "some-folder"
    some_folder.mkdir()
    result = run(app, "schools", "remove", "no-such-school", "--exported-to", str(some_folder), "--yes")
    assert result.exit_code != 0
    assert "No school with the slug 'no-such-school'" in result.output and B_SLUG in result.output
    assert state_of(app) == before


def test_export_into_a_folder_that_is_not_empty_is_refused(app, db, world, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("keep me")
    before = state_of(app)
    result = run(app, "schools", "export", B_SLUG, "--out", str(full))
    assert result.exit_code != 0 and "is not an empty folder" in result.output
    assert [p.name for p in full.iterdir()] == ["notes.txt"]
    assert state_of(app) == before


def test_import_of_a_school_that_is_already_here_is_refused(app, db, world, tmp_path):
    out = tmp_path / "export"
    assert run(app, "schools", "export", B_SLUG, "--out", str(out)).exit_code == 0
    before = state_of(app)
    result = run(app, "schools", "import", str(out))
    assert result.exit_code != 0
    assert f"already has a school with the slug '{B_SLUG}'" in result.output
    assert state_of(app) == before

    # the same school under another slug: still refused (its uid is here)
    renamed = tmp_path / "renamed"
    shutil.copytree(out, renamed)
    data = json.loads((renamed / "school.json").read_text())
    data["slug"] = "brambleford-again"
    (renamed / "school.json").write_text(json.dumps(data, indent=2, sort_keys=True))
    fix_manifest(renamed, "school.json")
    result = run(app, "schools", "import", str(renamed))
    assert result.exit_code != 0
    assert f"already holds this school ({B_NAME})" in result.output
    assert state_of(app) == before


def _flip_a_byte(folder):
    path = folder / "tables" / "portal_people.jsonl"
    data = bytearray(path.read_bytes())
    i = data.index(b"Underhay")
    data[i] ^= 0x01  # "Underhay" -> "Tnderhay": still valid JSON, different bytes
    path.write_bytes(bytes(data))
    return "tables/portal_people.jsonl does not match its checksum"


def _delete_a_pdf(folder):
    pdf = min((folder / "files" / "records").glob("*.pdf"))
    pdf.unlink()
    return f"files/records/{pdf.name} is missing"


def _add_a_stray_file(folder):
    (folder / "tables" / "portal_extra.jsonl").write_text('{"school_id": 1}\n')
    return "tables/portal_extra.jsonl is not in the manifest"


def _break_the_manifest(folder):
    path = folder / "manifest.json"
    path.write_text(path.read_text()[:-40])
    return "has no readable manifest.json"


def _remove_the_manifest(folder):
    (folder / "manifest.json").unlink()
    return "has no readable manifest.json"


def _another_format(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format"] = "some-other-tool"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return "is not a Countersign school export"


def _tamper_with_an_audit_entry(folder):
    """Edit one entry's action and fix the file's checksum: only the chain can tell."""
    path = folder / "tables" / "portal_audit_log.jsonl"
    rows = jsonl(path)
    victim = next(r for r in rows if r["action"] == "record.sealed")
    victim["action"] = "record.viewed"
    path.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows))
    fix_manifest(folder, "tables/portal_audit_log.jsonl")
    return f"audit log does not verify at entry {victim['seq']}"


def _drop_the_last_audit_entry(folder):
    """Cut the newest entry (and fix the checksum and row count): the manifest says where the chain ends."""
    path = folder / "tables" / "portal_audit_log.jsonl"
    rows = jsonl(path)[:-1]
    path.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tables"]["portal_audit_log"]["rows"] = len(rows)
    manifest["files"]["tables/portal_audit_log.jsonl"] = sha256_file(path)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return "does not end where its manifest says"


def _empty_the_audit_log(folder):
    path = folder / "tables" / "portal_audit_log.jsonl"
    path.write_text("")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tables"]["portal_audit_log"]["rows"] = 0
    manifest["files"]["tables/portal_audit_log.jsonl"] = sha256_file(path)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return "does not end where its manifest says"


def _unreadable_rows_with_a_matching_checksum(folder):
    path = folder / "tables" / "portal_people.jsonl"
    path.write_text(path.read_text()[:-30] + "\n")
    fix_manifest(folder, "tables/portal_people.jsonl")
    return "tables/portal_people.jsonl is not readable at line"


def _a_row_fewer_than_the_manifest_counts(folder):
    path = folder / "tables" / "portal_guardian_links.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    fix_manifest(folder, "tables/portal_guardian_links.jsonl")
    return f"tables/portal_guardian_links.jsonl holds {len(lines) - 1} rows, not {len(lines)}"


def _a_pdf_and_its_manifest_line_gone(folder):
    pdf = min((folder / "files" / "records").glob("*.pdf"))
    pdf.unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"][f"files/records/{pdf.name}"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return f"the sealed PDF {pdf.stem[:12]}"


def _a_listed_file_outside_the_format(folder):
    (folder / "notes.txt").write_text("hello")
    fix_manifest(folder, "notes.txt")
    return "notes.txt is not part of a school export"


def _a_pdf_under_another_name(folder):
    pdfs = sorted((folder / "files" / "records").glob("*.pdf"))
    a, b = pdfs[0], pdfs[1]
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    fix_manifest(folder, f"files/records/{a.name}", f"files/records/{b.name}")
    return f"files/records/{a.name} does not match its name"


def _another_version(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return "This export is version 99; this installation reads 1."


def _another_schema(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["schema_revision"] = "0000aaaa1111"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    # removal does not compare schemas: the export is of this installation's current school
    return "The export was made at schema 0000aaaa1111", None


def _a_row_the_database_refuses(folder):
    """Valid JSON and checksums, but a person without a name: the database says no, nothing is kept."""
    path = folder / "tables" / "portal_people.jsonl"
    rows = jsonl(path)
    rows[-1]["given_name"] = None
    path.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows))
    fix_manifest(folder, "tables/portal_people.jsonl")
    return "Nothing was imported: the database refused the export's data", "has changed since that export was made"


DAMAGES = [
    _flip_a_byte, _delete_a_pdf, _add_a_stray_file, _break_the_manifest, _remove_the_manifest, _another_format,
    _tamper_with_an_audit_entry, _drop_the_last_audit_entry, _empty_the_audit_log,
    _unreadable_rows_with_a_matching_checksum, _a_row_fewer_than_the_manifest_counts, _a_pdf_and_its_manifest_line_gone,
    _a_listed_file_outside_the_format, _a_pdf_under_another_name, _another_version, _another_schema,
    _a_row_the_database_refuses,
]


def test_a_damaged_export_is_refused_and_nothing_is_written(app, db, world, new_installation, tmp_path):
    """Each damage, on its own fresh copy of one good export: the import is refused with the damage
    named and writes nothing, and removal will not trust it either. (One world, export and target
    for all seventeen: an import that wrote anything would show in the next damage's "before" too.)"""
    good = tmp_path / "export"
    assert run(app, "schools", "export", B_SLUG, "--out", str(good)).exit_code == 0
    target = new_installation()
    assert run(target, "schools", "add", "--slug", "ashdown-vale", "--name", "Ashdown Vale School").exit_code == 0
    before, app_before = state_of(target), state_of(app)
    failures = []
    for damage in DAMAGES:
        out = tmp_path / f"export-{damage.__name__}"
        shutil.copytree(good, out)
        expected = damage(out)
        on_import, on_remove = expected if isinstance(expected, tuple) else (expected, expected)
        result = run(target, "schools", "import", str(out))
        if result.exit_code == 0 or on_import not in result.output:
            failures.append(f"{damage.__name__}: import said {result.output!r}")
        if state_of(target) != before:
            failures.append(f"{damage.__name__}: the refused import wrote something")
        if on_remove is None:
            continue
        result = run(app, "schools", "remove", B_SLUG, "--exported-to", str(out), "--yes")
        if result.exit_code == 0 or on_remove not in result.output:
            failures.append(f"{damage.__name__}: removal said {result.output!r}")
        if state_of(app) != app_before:
            failures.append(f"{damage.__name__}: the refused removal changed the school")
    assert not failures, "\n".join(failures)
    # the good export still imports into the same target: the damages left nothing in the way
    result = run(target, "schools", "import", str(good))
    assert result.exit_code == 0, result.output


def test_import_into_a_trust(app, db, world, receiving, tmp_path):
    out = tmp_path / "export"
    assert run(app, "schools", "export", B_SLUG, "--out", str(out)).exit_code == 0
    before = state_of(receiving)
    result = run(receiving, "schools", "import", str(out), "--trust", "no-such-trust")
    assert result.exit_code != 0 and "There is no trust 'no-such-trust' here." in result.output
    assert state_of(receiving) == before
    result = run(receiving, "schools", "add", "--slug", "chalk-hill", "--name", "Chalk Hill School (fictional)",
                 "--trust", "downland-trust", "--trust-name", "Downland Learning Trust (fictional)", "--no-policies")
    assert result.exit_code == 0, result.output
    result = run(receiving, "schools", "import", str(out), "--trust", "downland-trust")
    assert result.exit_code == 0, result.output
    listing = run(receiving, "schools", "list").output
    assert f"{B_SLUG}\t{B_NAME}\tDownland Learning Trust (fictional)" in listing


# ---------------------------------------------------------------- 4: remove


def test_remove_after_export_deletes_only_that_school_and_is_audited(app, db, world, tmp_path):
    from portal.audit.models import AuditEntry
    from portal.concerns.models import ConcernAttachment
    from portal.concerns.storage import path_of

    keys = Path(app.config["PORTAL_KEYS_DIR"])
    b_keys = keys / world.b.keys_path
    assert (b_keys / KEY_FILE).is_file()
    with as_school(world.b.id):
        b_attachments = [path_of(n) for n in db.scalars(select(ConcernAttachment.stored_name))]
    a_attachments = [path_of(n) for n in db.scalars(select(ConcernAttachment.stored_name))]
    assert b_attachments and a_attachments and all(p.is_file() for p in b_attachments + a_attachments)

    # another school's export is refused
    a_out = tmp_path / "a-export"
    assert run(app, "schools", "export", DEFAULT_SCHOOL_SLUG, "--out", str(a_out)).exit_code == 0
    before = state_of(app)
    result = run(app, "schools", "remove", B_SLUG, "--exported-to", str(a_out), "--yes")
    assert result.exit_code != 0 and "is the export of another school" in result.output
    assert state_of(app) == before

    # a stale export: the school changed after it was made
    stale = tmp_path / "stale"
    assert run(app, "schools", "export", B_SLUG, "--out", str(stale)).exit_code == 0
    with as_school(world.b.id):
        latecomer = _person(db, Role.PARENT, given="Bellamy", family="Latecomer",
                            email="bellamy.latecomer@bravo.example")
        _seal(db, title="Bravo late rules", publisher=latecomer, parent=world.b.parent, child=world.b.basil,
              slug="bravo-late")
    before = state_of(app)
    result = run(app, "schools", "remove", B_SLUG, "--exported-to", str(stale), "--yes")
    assert result.exit_code != 0 and "has changed since that export was made" in result.output
    assert state_of(app) == before

    # a change the audit log does not mention still makes the export stale
    fresh = tmp_path / "fresh"
    assert run(app, "schools", "export", B_SLUG, "--out", str(fresh)).exit_code == 0
    with as_school(world.b.id):
        quiet = db.get(Person, world.b.blossom.id)
        quiet.given_name = "Blossom-Rose"
        db.commit()
    before = state_of(app)
    result = run(app, "schools", "remove", B_SLUG, "--exported-to", str(fresh), "--yes")
    assert result.exit_code != 0 and "has changed since that export was made" in result.output
    assert state_of(app) == before

    # a current export: B goes, A stays exactly as it was
    final = tmp_path / "final"
    assert run(app, "schools", "export", B_SLUG, "--out", str(final)).exit_code == 0
    db.expire_all()
    a_before = counts(db, world.a.id)
    b_files = {f"uploads/concerns/{p.name}" for p in b_attachments}
    a_disk = {k: v for k, v in disk_of(app).items() if "schools/" not in k and k not in b_files}
    b_parent_email, b_head_email = world.b.parent.email, world.b.head.email
    result = run(app, "schools", "remove", B_SLUG, "--exported-to", str(final), "--yes")
    assert result.exit_code == 0, result.output
    assert f"Removed {B_SLUG}." in result.output
    db.expire_all()

    assert db.scalar(select(School).where(School.slug == B_SLUG)) is None
    assert counts(db, world.b.id) == {t.name: 0 for t in school_tables()}
    assert counts(db, world.a.id) == a_before
    # B's sealed PDFs, attachments and keys are gone; A's files are untouched
    archive = Path(app.config["PORTAL_ARCHIVE_DIR"])
    assert not list((archive / world.b.archive_prefix).rglob("*.pdf"))
    assert not b_keys.exists()
    assert not any(p.exists() for p in b_attachments)
    assert disk_of(app) == a_disk
    assert school_pdfs(app, db.get(School, world.a.id)) == world.a_pdfs
    # B's own sign-ins went; Morgan (who also teaches at A) keeps the account and their place at A
    emails = set(db.scalars(select(Account.email)))
    assert b_parent_email not in emails and b_head_email not in emails
    assert world.a.morgan.email in emails
    assert db.get(Person, world.a.morgan.id).account_id == world.a.morgan.account_id
    result = run(app, "schools", "list")
    assert B_SLUG not in result.output and DEFAULT_SCHOOL_SLUG in result.output

    # audited in the installation's chain; every remaining chain verifies
    with all_schools(db):
        last = db.scalars(select(AuditEntry).where(AuditEntry.chain == 0).order_by(AuditEntry.seq.desc())).first()
    assert last.action == "school.removed" and last.data["uid"] == world.b.uid and last.data["slug"] == B_SLUG
    assert last.data["manifest_sha256"] == sha256_file(final / "manifest.json")
    result = run(app, "audit", "verify")
    assert result.exit_code == 0 and "BROKEN" not in result.output, result.output
    assert f"{world.a.name}: Audit chain intact" in result.output
    assert "Installation: Audit chain intact" in result.output
