"""WeasyPrint reaches nothing but the portal's static files, whatever the policy text says."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from werkzeug.wrappers import Request, Response

from portal.paths import STATIC_DIR
from portal.records.archive import archive_store
from portal.records.fetcher import BlockedURL, StaticOnlyFetcher
from portal.records.models import SignedRecord
from portal.records.pdf import render_pdf
from portal.records.rendering import policy_html
from portal.signals import signature_committed
from tests.http_server import ThreadedServer
from tests.records_support import make_signature, make_version, seal_keys  # noqa: F401  (fixtures)

# These tests check what WeasyPrint may fetch while it makes a PDF, which does not depend on the database:
# they run on SQLite only.
pytestmark = pytest.mark.one_backend

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture
def trap():
    """An HTTP server on 127.0.0.1 that counts every request it gets."""
    hits = []

    @Request.application
    def app(request):
        hits.append(request.path)
        if request.path.endswith(".css"):
            return Response("body { color: red }", content_type="text/css")
        return Response(PNG, content_type="image/png")

    server = ThreadedServer(app)
    server.start()
    yield server.url, hits
    server.stop()


def _hostile(base: str) -> str:
    return f"""
<img src="file:///etc/passwd">
<link rel="attachment" href="file:///etc/passwd">
<a rel="attachment" href="file:///etc/os-release">os</a>
<link rel="stylesheet" href="{base}/sheet.css">
<style>@import url({base}/import.css); body {{ background: url({base}/bg.png) }}</style>
<img src="{base}/img.png"> <img src="https://127.0.0.1:1/tls.png"> <img src="ftp://127.0.0.1/x.png">
<img src="../../../../../../etc/passwd"> <img src="file://localhost/etc/passwd">
<a rel="attachment" href="{base}/attached.bin">remote</a>
"""


def _embedded(pdf: bytes, tmp_path) -> list[str]:
    from tests.deps import unavailable

    tool = shutil.which("pdfdetach") or unavailable("pdfdetach is not installed")
    path = tmp_path / "check.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([tool, "-list", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split(": ", 1)[1] for line in out.splitlines()[1:]]


def test_raw_hostile_html_reaches_no_server_and_embeds_no_file(app, trap, tmp_path, caplog):
    base, hits = trap
    fetcher = StaticOnlyFetcher(STATIC_DIR)
    pdf = render_pdf(f"<html><body><p>Hello</p>{_hostile(base)}</body></html>", attachment=b"{}", fetcher=fetcher)
    assert hits == []
    assert _embedded(pdf, tmp_path) == ["evidence.json"]
    assert b"root:x:0:0" not in pdf
    blocked = " ".join(fetcher.blocked)
    for url in ("file:///etc/passwd", "file:///etc/os-release", f"{base}/sheet.css", f"{base}/import.css",
                f"{base}/img.png", "https://127.0.0.1:1/tls.png", "ftp://127.0.0.1/x.png",
                "file://localhost/etc/passwd", f"{base}/attached.bin"):
        assert url in blocked, url
    assert "etc/passwd" in blocked  # the ../ traversal resolves outside static and is refused too


def test_hostile_policy_text_in_a_signed_record(app, db, make_version, make_signature, seal_keys, trap, tmp_path):
    base, hits = trap
    body = ("# Rules\n\n" + _hostile(base) + f"\n\n![logo]({base}/md.png) [site]({base}/page)"
            "\n\n![x](file:///etc/passwd) [y](javascript:alert(1))\n")
    sig = make_signature(version=make_version(body_md=body))
    signature_committed.send(app, signature=sig)
    db.expire_all()
    record = db.query(SignedRecord).filter_by(signature_id=sig.id).one()
    assert record.is_sealed, record.last_error
    pdf = archive_store().get(record.pdf_sha256)
    assert hits == []
    assert _embedded(pdf, tmp_path) == ["evidence.json"]
    assert b"root:x:0:0" not in pdf


def test_policy_html_drops_raw_html_and_unsafe_links():
    html = policy_html('<script>x()</script>\n\n<img src="file:///etc/passwd">\n\n[a](javascript:alert(1)) '
                       '![i](http://example.invalid/i.png) [ok](https://example.invalid/)')
    assert "<script" not in html and "<img" not in html and "href=\"javascript" not in html
    assert '<a href="https://example.invalid/" rel="noopener noreferrer">ok</a>' in html
    assert "&lt;script&gt;" in html  # shown as text, not run


def test_fetcher_serves_static_files_but_not_symlinks_out_of_static(tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "logo.png").write_bytes(PNG)
    (static / "leak.png").symlink_to("/etc/passwd")
    fetcher = StaticOnlyFetcher(static)
    response = fetcher.fetch((static / "logo.png").as_uri())
    assert response is not None
    for url in ((static / "leak.png").as_uri(), (static / ".." / "static" / ".." / "x").as_uri(),
                "file:///etc/passwd", "http://127.0.0.1/", "https://127.0.0.1/"):
        with pytest.raises(BlockedURL):
            fetcher.fetch(url)
