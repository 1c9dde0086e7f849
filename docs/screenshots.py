"""Take the screenshots in docs/screenshots/ from the demo school a month into term.

    .venv/bin/python docs/screenshots.py

Builds a throwaway SQLite installation with ``load_demo(lived_in=True)`` (what ``flask portal
demo`` makes), serves it on 127.0.0.1 and drives Debian's Chromium with Playwright (never
``playwright install``). Nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "screenshots"
PASSWORD = "countersign-demo"


def main() -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from portal.app import create_app
    from portal.demo import load_demo
    from portal.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="countersign-shots-"))
    url = f"sqlite:///{tmp}/portal.db"
    upgrade(url)
    app = create_app({"SECRET_KEY": "screenshots-only", "PORTAL_DATABASE_URI": url,
                      "PORTAL_ARCHIVE_DIR": str(tmp / "archive"), "PORTAL_UPLOAD_DIR": str(tmp / "uploads"),
                      "PORTAL_KEYS_DIR": str(tmp / "keys"), "PORTAL_MAIL_BACKEND": "log",
                      "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False})
    with app.app_context():
        load_demo(lived_in=True)
        app.extensions["portal"].session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])

        def page_for(email: str | None, *, mobile: bool = False):
            opts = {"base_url": base, "locale": "en-GB"}
            if mobile:
                opts.update(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                            has_touch=True)
            else:
                opts.update(viewport={"width": 1280, "height": 900})
            ctx = browser.new_context(**opts)
            ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
            page = ctx.new_page()
            if email:
                page.goto("/portal/auth/login")
                page.get_by_label("Email address").fill(email)
                page.get_by_label("Password").fill(PASSWORD)
                with page.expect_navigation():
                    page.get_by_role("button", name="Sign in").click()
            return page

        parent = page_for("parent@larkspur.example")
        parent.goto("/portal/parent/")
        parent.screenshot(path=OUT / "parent-home.png", full_page=True)
        phone = page_for("parent@larkspur.example", mobile=True)
        phone.goto("/portal/parent/")
        phone.screenshot(path=OUT / "parent-home-phone.png", full_page=True)

        head = page_for("head@larkspur.example")
        head.goto("/portal/staff/")
        head.screenshot(path=OUT / "head-dashboard.png", full_page=True)
        head.goto("/portal/staff/charts")
        head.screenshot(path=OUT / "charts.png", full_page=False)

        teacher = page_for("teacher2@larkspur.example")
        teacher.goto("/portal/classroom/")
        teacher.get_by_label("Class").select_option(label="Year 4 Kestrels")
        with teacher.expect_navigation():
            teacher.get_by_role("button", name="Start a session").click()
        qr = teacher.inner_text("main").split("It opens ")[1].split()[0]
        device = page_for(None)
        device.goto(qr)
        names = device.get_by_role("list").get_by_role("link")
        for _ in range(2):
            with device.expect_navigation():
                names.first.click()
            while device.get_by_role("link", name="Next").count():
                with device.expect_navigation():
                    device.get_by_role("link", name="Next").click()
            with device.expect_navigation():
                device.get_by_role("button", name="I agree").click()
        teacher.get_by_text("Agreed in this session").wait_for()
        teacher.wait_for_timeout(6000)  # the page updates itself every few seconds
        teacher.screenshot(path=OUT / "classroom-session.png", full_page=True)
        browser.close()
    server.shutdown()
    for png in sorted(OUT.glob("*.png")):
        print(png.relative_to(ROOT), png.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
