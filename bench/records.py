"""Signed-records benchmarks. Prints ratios; asserts nothing (timings vary by machine).

1. Sign-to-sealed-PDF: ``make_record`` (database read, template, WeasyPrint with the
   static-only fetcher, pyHanko seal, archive write with fsync, record update, audit entry,
   commits) against the floor: a bare WeasyPrint render of the *same* HTML (same tagged PDF/A-3b
   options and evidence attachment, default fetcher) plus a plain pyHanko seal (B-B) with the
   same key, in the same process. Three levels, each interleaved with the floor:
   B-LT (chain and CRL in the DSS; target <= 1.2), and B-LTA with a local RFC 3161 TSA running in
   a separate process on 127.0.0.1 (signature time stamp, DSS, document time stamp; target <= 1.5).
2. Export throughput: the streamed ZIP of every record (``stream_export`` to a file) against
   ``zip -0`` over the same PDF files. Target: ratio >= 0.8.
3. Peak memory of the export for 1,000 and 10,000 records, each in a fresh process
   (peak RSS, and Python's own peak allocations by tracemalloc during the export).

Uses a temporary SQLite database and folders. Only a modest number of distinct real sealed
PDFs are made; the 10,000 archive records point at copies of them (said in the output).

    .venv/bin/python bench/records.py [--runs 15] [--distinct 20]

The load average is printed before and after: on a shared machine, compare ratios only.
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
        "PORTAL_PUBLIC_URL": "https://portal.bench.example", "PORTAL_RECEIPTS": False,
    })


def seed(app, root: Path):
    from portal.db import Base, session
    from portal.people.models import Person, PupilProfile, Role, SchoolClass
    from portal.policies.models import ConsentItem, Policy, PolicyVersion
    from portal.records.keys import issue_school_certificate
    from portal.schools.isolation import set_school
    from portal.schools.operations import create_school

    Base.metadata.create_all(app.extensions["portal"].engine)
    body = "\n\n".join(f"## Part {i}\n\n" + "We agree to use the school's devices and accounts with care. " * 12
                       for i in range(1, 9))
    settings = create_school(slug="bench", name="Bench Fictional School", with_policies=False)
    session.commit()
    set_school(session, settings.id)
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
    issue_school_certificate(settings)
    return version.id, parent.id, pupil.id, hashlib.sha256(body.encode()).hexdigest()


def new_signatures(n: int, version_id: int, parent_id: int, pupil_id: int, text_sha: str, year: int = 2026):
    """Insert *n* signature rows in bulk; returns their ids."""
    from sqlalchemy import insert, select

    from portal.db import session
    from portal.schools.isolation import current_school_id
    from portal.signatures.models import Signature

    first = (session.scalar(select(Signature.id).order_by(Signature.id.desc()).limit(1)) or 0) + 1
    at = dt.datetime(2026, 9, 15, 8, 0, tzinfo=dt.UTC)
    school_id = current_school_id(session)
    rows = [dict(id=first + i, school_id=school_id, version_id=version_id, signer_id=parent_id, signer_role="parent",
                 on_behalf_of_id=pupil_id, decision="signed", signed_name="Bea Benchley", text_sha256=text_sha,
                 signed_at=at, ip="192.0.2.7", user_agent="bench", method="online", academic_year=year)
            for i in range(n)]
    for start in range(0, n, 2000):
        session.execute(insert(Signature), rows[start:start + 2000])
    session.commit()
    return [r["id"] for r in rows]


def bench_sign(app, ids: list[int], tsa_url: str) -> None:
    """Interleave floor / B-LT / B-LTA, one of each per round, on fresh signatures."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from weasyprint import HTML, Attachment

    from portal.db import session
    from portal.records import aio
    from portal.records.keys import seal_identity
    from portal.records.operations import make_record
    from portal.records.pdf import CheckBlock, evidence_json, evidence_of, record_html
    from portal.signatures.models import Signature

    sig = session.get(Signature, ids[0])
    evidence = evidence_of(sig)
    identity = seal_identity()
    check = CheckBlock(cert_sha256=identity.fingerprint, public_id="0" * 32, record_number=1,
                       url="https://portal.bench.example/portal/verify/r/" + "0" * 32)
    html, attach = record_html(sig, evidence, check), evidence_json(evidence)

    def floor() -> float:
        t = time.perf_counter()
        pdf = HTML(string=html).write_pdf(pdf_variant="pdf/a-3b", pdf_tags=True, attachments=[
            Attachment(string=attach, name="evidence.json", relationship="Data")])
        meta = signers.PdfSignatureMetadata(field_name="SchoolSeal", subfilter=fields.SigSeedSubFilter.PADES,
                                            md_algorithm="sha256")
        pdf_signer = signers.PdfSigner(meta, signer=identity.signer)
        aio.run(lambda: pdf_signer.async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf))))
        return time.perf_counter() - t

    def ours(sid: int, tsa: str | None, level: str) -> float:
        app.config["PORTAL_TSA_URL"] = tsa
        t = time.perf_counter()
        record = make_record(sid)
        elapsed = time.perf_counter() - t
        assert record is not None and record.is_sealed and record.seal_mode == level, record and record.last_error
        return elapsed

    rounds = (len(ids) - 2) // 2
    floor(), ours(ids[0], None, "B-LT"), ours(ids[1], tsa_url, "B-LTA")  # warm-up (fonts, templates, key, TSA)
    f_times, lt_times, lta_times = [], [], []
    for i in range(rounds):
        f_times.append(floor())
        lt_times.append(ours(ids[2 + 2 * i], None, "B-LT"))
        lta_times.append(ours(ids[3 + 2 * i], tsa_url, "B-LTA"))
    f, lt, lta = statistics.median(f_times), statistics.median(lt_times), statistics.median(lta_times)
    print(f"1. Sign-to-sealed PDF (n={rounds} interleaved rounds, medians)")
    print(f"   floor (bare WeasyPrint render + plain pyHanko seal, same HTML):     {f * 1000:7.1f} ms")
    print(f"   make_record B-LT  (render, seal, chain+CRL in DSS, archive, DB):   {lt * 1000:7.1f} ms"
          f"   ratio {lt / f:.2f} (target <= 1.2)")
    print(f"   make_record B-LTA (+ signature and document time stamps, local TSA): {lta * 1000:7.1f} ms"
          f"   ratio {lta / f:.2f} (target <= 1.5)")


def tsa_child(cfg: dict) -> None:
    """(In a separate process) serve RFC 3161 time stamps on 127.0.0.1 until stdin closes."""
    import logging
    import threading

    from asn1crypto import tsp
    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    responder = DummyTimeStamper(tsa_cert=load_cert_from_pemder(cfg["cert"]),
                                 tsa_key=load_private_key_from_pemder(cfg["key"], passphrase=None))

    @Request.application
    def endpoint(request):
        req = tsp.TimeStampReq.load(request.get_data())
        return Response(responder.request_tsa_response(req).dump(), content_type="application/timestamp-reply")

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, endpoint, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_port, flush=True)
    sys.stdin.read()
    server.shutdown()


def start_tsa(root: Path):
    """A TSA certificate issued by the bench's root CA, served by a child process; returns (url, process)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.records_support import make_tsa_cert

    ca = root / "keys" / "ca" / "installation"
    cert_pem, key_pem, _ = make_tsa_cert((ca / "root.cert.pem").read_bytes(), (ca / "root.key.pem").read_bytes())
    (root / "tsa.pem").write_bytes(cert_pem)
    (root / "tsa.key").write_bytes(key_pem)
    proc = subprocess.Popen([sys.executable, __file__, "--tsa-child",
                             json.dumps({"cert": str(root / "tsa.pem"), "key": str(root / "tsa.key")})],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return f"http://127.0.0.1:{port}/tsa", proc


def attach_records(sample: list[tuple[str, int]], ids: list[int]) -> None:
    """Sealed records for *ids*, pointing round-robin at the *sample* of real archived PDFs."""
    from sqlalchemy import insert

    from portal.db import session, utcnow
    from portal.records.models import SignedRecord, new_public_id
    from portal.schools.isolation import current_school_id

    now = utcnow()
    school_id = current_school_id(session)
    rows = [dict(signature_id=sid, school_id=school_id, public_id=new_public_id(), status="sealed",
                 pdf_sha256=sample[i % len(sample)][0], size=sample[i % len(sample)][1], seal_mode="B-LT",
                 created_at=now, sealed_at=now, attempts=1, timestamp_pending=False)
            for i, sid in enumerate(ids)]
    for start in range(0, len(rows), 2000):
        session.execute(insert(SignedRecord), rows[start:start + 2000])
    session.commit()


def export_child(cfg: dict) -> None:
    """(In a fresh process) export one year's records; print JSON with memory figures."""
    import tracemalloc

    app = make_app(Path(cfg["root"]))
    with app.app_context():
        from sqlalchemy import select

        from portal.db import session
        from portal.records.archive import archive_store
        from portal.records.export import start_export, stream_export
        from portal.records.queries import RecordFilter
        from portal.schools.isolation import set_school
        from portal.schools.models import School

        set_school(session, session.scalar(select(School.id).where(School.slug == "bench")))

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
    parser.add_argument("--tsa-child")
    args = parser.parse_args()
    if args.export_child:
        export_child(json.loads(args.export_child))
        return
    if args.tsa_child:
        tsa_child(json.loads(args.tsa_child))
        return
    if not shutil.which("zip"):
        sys.exit("bench/records.py needs `zip` (apt-get install zip)")
    import logging

    # pyHanko warns on every B-LT seal that fetching is off: it is off on purpose (the CRL is given locally).
    logging.getLogger("pyhanko.sign.signers.pdf_signer").setLevel(logging.ERROR)
    root = Path(tempfile.mkdtemp(prefix="records-bench-"))
    tsa = None
    print(f"Load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    try:
        app = make_app(root)
        with app.app_context():
            seeds = seed(app, root)
            tsa_url, tsa = start_tsa(root)
            n = max(2 * args.runs, args.distinct) + 2
            ids = new_signatures(n, *seeds)
            bench_sign(app, ids, tsa_url)
            app.config["PORTAL_TSA_URL"] = None
            from sqlalchemy import select

            from portal.db import session
            from portal.records.models import SignedRecord

            records = session.scalars(select(SignedRecord))
            sample = list({r.pdf_sha256: (r.pdf_sha256, r.size) for r in records}.values())
            sample = sample[:args.distinct]
            bench_export(app, root, sample, seeds)
        app.extensions["portal"].engine.dispose()
    finally:
        if tsa is not None:
            tsa.stdin.close()
            tsa.wait(10)
        shutil.rmtree(root, ignore_errors=True)
        print(f"Load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
