"""Signed-records benchmarks. Prints ratios; asserts nothing (timings vary by machine).

1. Sign-to-sealed-PDF: ``make_record`` (database read, template, WeasyPrint with the
   static-only fetcher, pyHanko seal, archive write with fsync, record update, audit entry,
   commits) against the floor: a bare WeasyPrint render of the *same* HTML (same PDF/A-3b
   options and evidence attachment, default fetcher) plus a pyHanko seal with the same key,
   in the same process. Runs are interleaved. Target: ratio <= 1.2.
2. Export throughput: the streamed ZIP of every record (``stream_export`` to a file) against
   ``zip -0`` over the same PDF files. Target: ratio >= 0.8.
3. Peak memory of the export for 1,000 and 10,000 records, each in a fresh process
   (peak RSS, and Python's own peak allocations by tracemalloc during the export).

Uses a temporary SQLite database and folders. Only a modest number of distinct real sealed
PDFs are made; the 10,000 archive records point at copies of them (said in the output).

    .venv/bin/python bench/records.py [--runs 15] [--distinct 20]
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_app(root: Path):
    from portal.app import create_app

    return create_app({
        "SECRET_KEY": "bench-only", "PORTAL_DATABASE_URI": f"sqlite:///{root / 'bench.sqlite'}",
        "PORTAL_ARCHIVE_DIR": str(root / "archive"), "PORTAL_KEYS_DIR": str(root / "keys"),
        "PORTAL_MAIL_BACKEND": "log", "PORTAL_ARGON2_PROFILE": "cheapest", "SESSION_COOKIE_SECURE": False,
    })


def seed(app, root: Path):
    from portal.db import Base, session
    from portal.people.models import Person, PupilProfile, Role, SchoolClass
    from portal.policies.models import ConsentItem, Policy, PolicyVersion
    from portal.records.keys import init_keys
    from portal.schools.isolation import set_school
    from portal.schools.models import School

    Base.metadata.create_all(app.extensions["portal"].engine)
    school = School(slug="bench", name="Bench Fictional School")
    session.add(school)
    session.commit()
    set_school(session, school.id)  # every row below is the bench school's
    body = "\n\n".join(f"## Part {i}\n\n" + "We agree to use the school's devices and accounts with care. " * 12
                       for i in range(1, 9))
    cls = SchoolClass(code="B1", name="Bench class", year_group=4)
    parent = Person(given_name="Bea", family_name="Benchley", email="bea@bench.example")
    parent.add_role(Role.PARENT)
    pupil = Person(given_name="Bo", family_name="Benchley")
    pupil.add_role(Role.PUPIL)
    policy = Policy(slug="bench-aup", title="Bench acceptable use", audience="parent")
    version = PolicyVersion(policy=policy, number=1, status="published", title=policy.title, body_md=body,
                            published_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
    version.consent_items.append(ConsentItem(key="photos", question="Photos on the website?", position=0))
    session.add_all([cls, parent, pupil, policy])
    session.flush()
    session.add(PupilProfile(person_id=pupil.id, year_group=4, date_of_birth=dt.date(2017, 3, 1), class_id=cls.id))
    session.commit()
    init_keys(app.config["PORTAL_KEYS_DIR"], school.name)
    return version.id, parent.id, pupil.id, hashlib.sha256(body.encode()).hexdigest()


def new_signatures(n: int, version_id: int, parent_id: int, pupil_id: int, text_sha: str, year: int = 2026):
    """Insert *n* signature rows in bulk; returns their ids."""
    from sqlalchemy import insert, select

    from portal.db import session
    from portal.schools.isolation import get_scope
    from portal.signatures.models import Signature

    first = (session.scalar(select(Signature.id).order_by(Signature.id.desc()).limit(1)) or 0) + 1
    at = dt.datetime(2026, 9, 15, 8, 0, tzinfo=dt.UTC)
    school_id = get_scope(session).write
    rows = [dict(id=first + i, school_id=school_id, version_id=version_id, signer_id=parent_id, signer_role="parent",
                 on_behalf_of_id=pupil_id, decision="signed", signed_name="Bea Benchley", text_sha256=text_sha,
                 signed_at=at, ip="192.0.2.7", user_agent="bench", method="online", academic_year=year)
            for i in range(n)]
    for start in range(0, n, 2000):
        session.execute(insert(Signature), rows[start:start + 2000])
    session.commit()
    return [r["id"] for r in rows]


def bench_sign(app, ids: list[int]) -> None:
    from weasyprint import HTML, Attachment

    from portal.db import session
    from portal.records.keys import seal_identity
    from portal.records.operations import make_record
    from portal.records.pdf import evidence_json, evidence_of, record_html
    from portal.records.seal import seal_pdf
    from portal.signatures.models import Signature

    sig = session.get(Signature, ids[0])
    evidence = evidence_of(sig)
    html, attach = record_html(sig, evidence), evidence_json(evidence)
    seal_identity()

    def floor() -> float:
        t = time.perf_counter()
        pdf = HTML(string=html).write_pdf(pdf_variant="pdf/a-3b", attachments=[
            Attachment(string=attach, name="evidence.json", relationship="Data")])
        seal_pdf(pdf, reason="bench")
        return time.perf_counter() - t

    def ours(sid: int) -> float:
        t = time.perf_counter()
        record = make_record(sid)
        elapsed = time.perf_counter() - t
        assert record is not None and record.is_sealed, record and record.last_error
        return elapsed

    floor(), ours(ids[0])  # warm-up (fonts, templates, key)
    f_times, o_times = [], []
    for sid in ids[1:]:
        f_times.append(floor())
        o_times.append(ours(sid))
    f, o = statistics.median(f_times), statistics.median(o_times)
    print(f"1. Sign-to-sealed PDF (n={len(o_times)} interleaved pairs, medians)")
    print(f"   floor (bare WeasyPrint render + pyHanko seal, same HTML): {f * 1000:7.1f} ms")
    print(f"   make_record (render, seal, archive+fsync, DB, audit):      {o * 1000:7.1f} ms")
    print(f"   ratio to floor: {o / f:.2f}  (target <= 1.2)")


def attach_records(sample: list[tuple[str, int]], ids: list[int]) -> None:
    """Sealed records for *ids*, pointing round-robin at the *sample* of real archived PDFs."""
    from sqlalchemy import insert

    from portal.db import session, utcnow
    from portal.records.models import SignedRecord
    from portal.schools.isolation import get_scope

    now = utcnow()
    school_id = get_scope(session).write
    rows = [dict(school_id=school_id, signature_id=sid, status="sealed", pdf_sha256=sample[i % len(sample)][0],
                 size=sample[i % len(sample)][1], seal_mode="B-B", created_at=now, sealed_at=now, attempts=1)
            for i, sid in enumerate(ids)]
    for start in range(0, len(rows), 2000):
        session.execute(insert(SignedRecord), rows[start:start + 2000])
    session.commit()


def export_child(cfg: dict) -> None:
    """(In a fresh process) export one year's records; print JSON with memory figures."""
    import tracemalloc

    app = make_app(Path(cfg["root"]))
    with app.app_context():
        from portal.db import session
        from portal.records.archive import archive_store
        from portal.records.export import start_export, stream_export
        from portal.records.queries import RecordFilter
        from portal.schools.context import only_school_id
        from portal.schools.isolation import set_school

        set_school(session, only_school_id())

        f = RecordFilter(academic_year=cfg["year"])
        head = start_export(f)
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if cfg["trace"]:
            tracemalloc.start()
        t = time.perf_counter()
        size = 0
        with open(cfg["out"], "wb") as fh:
            for chunk in stream_export(f, head, db=session, store=archive_store()):
                fh.write(chunk)
                size += len(chunk)
        elapsed = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] if cfg["trace"] else None
        print(json.dumps({"seconds": elapsed, "bytes": size, "tracemalloc_peak": peak, "rss_before_kib": base_rss,
                          "rss_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def run_child(root: Path, year: int, out: Path, trace: bool) -> dict:
    cfg = {"root": str(root), "year": year, "out": str(out), "trace": trace}
    proc = subprocess.run([sys.executable, __file__, "--export-child", json.dumps(cfg)],
                          capture_output=True, text=True, check=True)
    out.unlink(missing_ok=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_export(app, root: Path, sample: list[tuple[str, int]], seeds) -> None:
    from portal.records.archive import archive_store

    store = archive_store()
    version_id, parent_id, pupil_id, text_sha = seeds
    # Year 2024: 1,000 records; year 2025: 10,000 records (all sealed, copies of the sample PDFs).
    attach_records(sample, new_signatures(1000, version_id, parent_id, pupil_id, text_sha, year=2024))
    attach_records(sample, new_signatures(10000, version_id, parent_id, pupil_id, text_sha, year=2025))

    # zip -0 over the same files: 10,000 names linked to the sample PDFs in the archive.
    files = root / "zipsrc"
    files.mkdir()
    for i in range(10000):
        os.link(store.path(sample[i % len(sample)][0]), files / f"signature-{i}.pdf")
    zip_times, our_times, sizes = [], [], []
    for _ in range(3):
        out = root / "floor.zip"
        t = time.perf_counter()
        subprocess.run(["zip", "-0", "-q", "-r", str(out), "."], cwd=files, check=True)
        zip_times.append(time.perf_counter() - t)
        sizes.append(out.stat().st_size)
        out.unlink()
        result = run_child(root, 2025, root / "ours.zip", trace=False)
        our_times.append(result["seconds"])
        our_bytes = result["bytes"]
    zt, ot = statistics.median(zip_times), statistics.median(our_times)
    z_rate, o_rate = statistics.median(sizes) / zt, our_bytes / ot
    print(f"2. Export throughput, 10,000 records (median of 3; {len(sample)} distinct real sealed PDFs, each"
          f" copied ~{10000 // len(sample)} times)")
    print(f"   zip -0 over the same files:  {zt:6.2f} s  {z_rate / 1e6:7.1f} MB/s")
    print(f"   streamed export (DB + manifest + hash check + ZIP): {ot:6.2f} s  {o_rate / 1e6:7.1f} MB/s")
    print(f"   throughput ratio to zip -0: {o_rate / z_rate:.2f}  (target >= 0.8)")

    print("3. Peak memory of the export (fresh process each; RSS includes the imported app)")
    for year, n in ((2024, 1000), (2025, 10000)):
        r = run_child(root, year, root / "mem.zip", trace=True)
        print(f"   {n:>6,} records: peak RSS {r['rss_peak_kib'] / 1024:6.1f} MiB (before export"
              f" {r['rss_before_kib'] / 1024:6.1f} MiB); Python peak during export"
              f" {r['tracemalloc_peak'] / 1024 / 1024:5.2f} MiB; ZIP {r['bytes'] / 1e6:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--distinct", type=int, default=20)
    parser.add_argument("--export-child")
    args = parser.parse_args()
    if args.export_child:
        export_child(json.loads(args.export_child))
        return
    if not shutil.which("zip"):
        sys.exit("bench/records.py needs `zip` (apt-get install zip)")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    root = Path(tempfile.mkdtemp(prefix="records-bench-"))
    try:
        app = make_app(root)
        with app.app_context():
            seeds = seed(app, root)
            n = max(args.runs, args.distinct) + 1
            ids = new_signatures(n, *seeds)
            bench_sign(app, ids)
            from sqlalchemy import select

            from portal.db import session
            from portal.records.models import SignedRecord

            records = session.scalars(select(SignedRecord))
            sample = list({r.pdf_sha256: (r.pdf_sha256, r.size) for r in records}.values())
            sample = sample[:args.distinct]
            bench_export(app, root, sample, seeds)
        app.extensions["portal"].engine.dispose()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
