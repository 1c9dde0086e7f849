"""Real Chromium: a teacher sets up an authenticator app (codes from pyotp) and a passkey (a
virtual authenticator through Chromium's DevTools WebAuthn domain), then signs in with each.
axe-core must find nothing on every page visited; no Content-Security-Policy violations."""
from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from playwright.sync_api import expect

from portal.auth.passwords import hash_password
from portal.db import session
from portal.people.models import Person, Role
from tests.browser import assert_accessible, note_requests_elsewhere
from tests.schools import in_school

pytestmark = pytest.mark.browser

EMAIL = "tamsin@test.example"
PASSWORD = "a teacher's long password"


@pytest.fixture
def teacher(live_app):
    with in_school(live_app):
        person = Person(given_name="Tamsin", family_name="Rowe", email=EMAIL, external_id="T-TAMSIN",
                        password_hash=hash_password(PASSWORD))
        person.add_role(Role.TEACHER)
        session.add(person)
        session.commit()
        return person.id


def _submit(page, locator) -> None:
    with page.expect_navigation():
        locator.click()
    page.wait_for_load_state("load")


def _sign_in(page) -> None:
    page.goto("/portal/auth/login")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    _submit(page, page.get_by_role("button", name="Sign in"))


def _sign_out(page) -> None:
    _submit(page, page.get_by_role("button", name="Sign out").first)


def test_authenticator_app_set_up_and_used_to_sign_in(teacher, new_page):
    page = new_page()
    _sign_in(page)
    assert "needs two-step sign-in" in page.locator("main").inner_text()
    page.goto("/portal/auth/security")
    assert_accessible(page)
    assert "Two-step sign-in is off" in page.get_by_test_id("mfa-status").inner_text()
    _submit(page, page.get_by_role("link", name="Set up an authenticator app"))
    assert page.locator(".qr-setup svg").count() == 1
    assert_accessible(page)
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("The 6-digit code your app shows now").fill("123")
    _submit(page, page.get_by_role("button", name="Turn on"))
    assert "The code has 6 digits." in page.get_by_role("alert").first.inner_text()
    assert_accessible(page)
    page.get_by_label("The 6-digit code your app shows now").fill(pyotp.TOTP(secret).now())
    _submit(page, page.get_by_role("button", name="Turn on"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your recovery codes"
    assert page.get_by_test_id("recovery-codes").locator("li").count() == 10
    assert_accessible(page)
    _submit(page, page.get_by_role("link", name="I have saved them"))
    assert "Two-step sign-in is on" in page.get_by_test_id("mfa-status").inner_text()
    _sign_out(page)

    _sign_in(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Two-step sign-in"
    assert_accessible(page)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)  # a code not used before
    page.get_by_role("textbox", name="Code").fill(pyotp.TOTP(secret).at(later))
    _submit(page, page.get_by_role("button", name="Continue"))
    assert page.url.endswith("/portal/staff/") or "/portal/" in page.url
    assert page.get_by_role("button", name="Sign out").count() >= 1
    page.goto("/portal/auth/security")
    assert "authenticator app" in page.locator("table").last.inner_text()


def _localhost_page(chromium, server):
    """A page on http://localhost:<port>: WebAuthn needs a domain (an IP address is no RP id)."""
    base = server.url.replace("127.0.0.1", "localhost")
    ctx = chromium.new_context(base_url=base, locale="en-GB")
    ctx.set_default_timeout(10_000)
    violations: list[str] = []  # Content-Security-Policy refusals and requests off the test server
    note_requests_elsewhere(ctx, base, violations)
    page = ctx.new_page()
    page.on("console", lambda msg: "Content Security Policy" in (msg.text or "") and violations.append(msg.text))
    return ctx, page, violations


def test_passkey_added_and_used_to_sign_in_with_a_virtual_authenticator(teacher, chromium, server, live_app):
    ctx, page, violations = _localhost_page(chromium, server)
    # The passkeys' site and origin come from the portal's own address (not the request's Host header).
    live_app.config["PORTAL_PUBLIC_URL"] = server.url.replace("127.0.0.1", "localhost")
    try:
        cdp = ctx.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
            "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]

        _sign_in(page)
        page.goto("/portal/auth/security")
        add = page.get_by_role("button", name="Add a passkey")
        expect(add).to_be_visible()  # shown by passkeys.js once it knows the browser can
        add.click()
        expect(page.locator("#passkey-add [data-passkey-message]")).to_contain_text("name first")
        page.get_by_label("A name for a new passkey").fill("Work laptop")
        _submit(page, add)
        assert page.get_by_role("heading", level=1).inner_text() == "Your recovery codes"
        creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        assert len(creds) == 1 and creds[0]["signCount"] >= 0
        page.goto("/portal/auth/security")
        assert "Work laptop" in page.locator("main").inner_text()
        assert_accessible(page)
        _sign_out(page)

        _sign_in(page)
        assert page.get_by_role("heading", level=1).inner_text() == "Two-step sign-in"
        use = page.get_by_role("button", name="Use a passkey")
        expect(use).to_be_visible()
        assert_accessible(page)
        posted: list[str] = []
        page.route("**/portal/auth/verify/passkey", lambda route: (posted.append(route.request.post_data or ""),
                                                                  route.continue_()))
        _submit(page, use)
        assert "/auth/" not in page.url
        page.goto("/portal/auth/security")
        recent = page.locator("table").last.inner_text()
        assert "passkey" in recent
        after = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        assert after[0]["signCount"] > creds[0]["signCount"]
        _sign_out(page)

        # A captured passkey answer cannot be replayed: its challenge was used up.
        _sign_in(page)
        replay = page.request.post("/portal/auth/verify/passkey", data=posted[0],
                                   headers={"Content-Type": "application/x-www-form-urlencoded"}, max_redirects=0)
        assert replay.status == 303 and replay.headers["location"].endswith("/portal/auth/verify")
        page.goto("/portal/staff/")
        assert page.url.endswith("/portal/auth/login?next=%2Fportal%2Fstaff%2F")
    finally:
        ctx.close()
    assert not violations, violations


def test_the_passkey_words_are_in_the_readers_language(teacher, live_app, chromium, server):
    """Walk finding: passkeys.js wrote its own words in English over the page's Welsh or Polish."""
    ctx, page, violations = _localhost_page(chromium, server)
    try:
        _sign_in(page)
        with in_school(live_app):
            session.get(Person, teacher).account.language = "cy"
            session.commit()
        page.goto("/portal/auth/security")
        message = page.locator("#passkey-add [data-passkey-message]")
        expect(message).to_have_text("Mae allwedd mynediad yn defnyddio clo sgrin y ddyfais hon neu allwedd "
                                     "ddiogelwch.")
        page.get_by_role("button", name="Ychwanegu allwedd mynediad").click()
        expect(message).to_have_text("Rhowch enw i'r allwedd mynediad yn gyntaf, fel “Gliniadur gwaith”.")
        assert_accessible(page)
    finally:
        ctx.close()
    assert not violations, violations
