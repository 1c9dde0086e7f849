"""Real Chromium through Playwright (Debian's /usr/bin/chromium; never ``playwright install``),
a live server on 127.0.0.1, and axe-core from the axe-playwright-python package (offline)."""
from __future__ import annotations

import os
import shutil

import pytest

from tests.deps import IN_CI
from tests.deps import unavailable as _unavailable
from tests.http_server import ThreadedServer

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
# Nothing may leave 127.0.0.1 (no CDN, no fonts, no trackers): every other host name fails to resolve,
# and new_page fails the test for any request to another address. (Blocking by name rather than by
# intercepting every request keeps Chromium's cache on, as in a real browser, and spares each request a
# round trip through the test process.)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]


@pytest.fixture(scope="session")
def _playwright():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover
        _unavailable(f"playwright not installed: {exc}")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(_playwright):
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def live_app(app_config, template_code):
    """A separate app instance served over HTTP (its own sessions, like production)."""
    from portal.app import create_app

    cfg = dict(app_config)
    cfg.pop("SERVER_NAME", None)
    live = create_app(cfg)
    live.jinja_env.bytecode_cache = template_code
    return live


@pytest.fixture
def server(live_app):
    srv = ThreadedServer(live_app)
    # As `make run` does: jobs seal records outside any request, so they need the public address.
    if not live_app.config.get("PORTAL_PUBLIC_URL"):
        live_app.config["PORTAL_PUBLIC_URL"] = srv.url
    srv.start()
    yield srv
    srv.stop()
    live_app.extensions["portal"].engine.dispose()


@pytest.fixture
def new_page(chromium, server):
    """``new_page(mobile=False)`` -> a page in a fresh browser context on the live server."""
    contexts = []

    def _new(mobile: bool = False):
        opts = {"base_url": server.url, "locale": "en-GB"}
        if mobile:
            opts.update(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
        ctx = chromium.new_context(**opts)
        ctx.set_default_timeout(10_000)
        note_requests_elsewhere(ctx, server.url, elsewhere)
        contexts.append(ctx)
        page = ctx.new_page()
        # The Content-Security-Policy forbids inline script and style: Chromium reports each
        # refusal on the console, and any refusal fails the test (the page would be broken).
        page.on("console", lambda msg: msg.text and "Content Security Policy" in msg.text
                and violations.append(f"{page.url}: {msg.text}"))
        return page

    violations: list[str] = []
    elsewhere: list[str] = []
    yield _new
    for ctx in contexts:
        ctx.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)
    assert not elsewhere, "Requests that would leave the test server:\n" + "\n".join(elsewhere)


def note_requests_elsewhere(ctx, base: str, into: list[str]) -> None:
    """Add to *into* the address of every request of the browser context *ctx* that is not for *base*
    (an event, not an interception: the request is not held up)."""
    ctx.on("request", lambda request: request.url.startswith((base + "/", "data:", "blob:"))
           or into.append(request.url))


def sign_in(page, email: str, password: str) -> None:
    page.goto("/portal/auth/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")


def wait_until(page, expression: str, what: str, tries: int = 200) -> None:
    """Wait until *expression* is true in the page, polled from the test: Playwright's own ``wait_for_function``
    runs ``eval()`` in the page when its first check fails (a busy machine), which the portal's CSP refuses."""
    for _ in range(tries):
        try:
            if page.evaluate(expression):
                return
        except Exception:  # noqa: BLE001 - the page is navigating: its context was destroyed; try again
            pass
        page.wait_for_timeout(50)
    raise AssertionError(f"still not true after {tries * 50} ms: {what}")


def assert_accessible(page) -> None:
    """axe-core (WCAG 2.0/2.1/2.2 A and AA rules) finds no violations on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("load")  # styles must be applied before contrast is checked
    # ...and settled: a button just clicked is still fading to its hover colours (Bootstrap's 0.15 s
    # transition), and axe would measure the contrast of a colour halfway there.
    page.evaluate("""() => Promise.all(document.getAnimations()
        .filter(a => a.effect && isFinite(a.effect.getComputedTiming().endTime))
        .map(a => a.finished.catch(() => null)))""")
    # resultTypes: axe still runs every rule, but sends back the nodes of violations only (not of every
    # passing check: a large answer to carry from the browser on each page).
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    detail = "\n".join(f"{v['id']}: {v['help']} -> {[n['target'] for n in v['nodes']][:3]}" for v in violations)
    assert not violations, f"axe violations on {page.url}:\n{detail}"
    # axe 4.7+ no longer checks that ids are unique (WCAG 2.2 dropped "Parsing"), but a label, hint or error
    # tied to a repeated id still names the wrong control: a concern's escalation box was labelled by the
    # reply box's label this way.
    repeated = page.evaluate("""() => { const seen = new Set(), twice = new Set();
        document.querySelectorAll('[id]').forEach(e => { if (seen.has(e.id)) twice.add(e.id); seen.add(e.id); });
        return [...twice]; }""")
    assert not repeated, f"ids used twice on {page.url}: {repeated}"
    # Tick boxes and radio buttons at least 24 px square (WCAG 2.5.8 without counting on the label; the walk
    # found Bootstrap's 17 px ones hard to hit on a phone).
    small = page.evaluate("""() => [...document.querySelectorAll('input[type=checkbox], input[type=radio]')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.id || e.name, e.getBoundingClientRect()])
        .filter(([, r]) => r.width < 23.5 || r.height < 23.5)
        .map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)""")
    assert not small, f"tick boxes or radio buttons under 24 px on {page.url}: {small}"


__all__ = ["IN_CI", "assert_accessible", "chromium", "live_app", "new_page", "note_requests_elsewhere", "server",
           "sign_in", "wait_until"]
