"""A roster import never moves an existing sign-in account to another address (a security probe signed in as the
Head Teacher this way); ``flask portal accounts change-email`` changes the address of an account."""
from __future__ import annotations

import io

from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.auth.passwords import hash_password
from portal.people.models import Account, Person
from portal.schools.isolation import all_schools
from tests.test_roster import GOOD, _run

PASSWORD = "a long test password"


def _account(db, email):
    with all_schools(db):
        return db.scalar(select(Account).where(Account.email == email))


def _set_password(db, email):
    account = _account(db, email)
    account.password_hash = hash_password(PASSWORD)
    db.commit()
    return account


def _upload(client, text):
    return client.post("/portal/admin/roster", data={"file": (io.BytesIO(text.encode()), "roster.csv")},
                       content_type="multipart/form-data", follow_redirects=True)


def test_an_account_in_use_keeps_its_address_and_the_rest_is_imported(app, db, tmp_path, mailbox):
    assert _run(app, tmp_path, GOOD).exit_code == 0
    tilly = _set_password(db, "tilly@test.example")
    moved = GOOD.replace("tilly@test.example", "someone.else@evil.example").replace("Gil,Governson",
                                                                                     "Gil,Governsen")
    result = _run(app, tmp_path, moved)
    assert result.exit_code == 0, result.output
    assert "updated 1 staff" in result.output  # Gil's name: the rest of the file is imported
    assert "Sign-in address NOT changed" in result.output and "Tilly Teachwell (row 2)" in result.output
    assert "4 row(s) already up to date" in result.output  # Tilly's is neither updated nor up to date
    db.expire_all()
    person = db.scalar(select(Person).where(Person.external_id == "S1"))
    assert person.account_id == tilly.id and person.email == "tilly@test.example"
    assert _account(db, "someone.else@evil.example") is None  # no account waits at the new address
    # So a reset asked for at the new address reaches nobody.
    app.test_client().post("/portal/auth/forgot", data={"email": "someone.else@evil.example"})
    assert mailbox.messages == []
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "roster.imported")
                       .order_by(AuditEntry.id.desc())).first()
    assert entry.data["addresses_kept"] == 1


def test_an_account_nobody_has_used_yet_keeps_its_address_too(app, db, tmp_path):
    """Review: an invitation not yet accepted, or an account used only from the LMS, has no password, and moved
    the same way: the new address then asked for a reset and took the account. No existing account moves."""
    assert _run(app, tmp_path, GOOD).exit_code == 0
    result = _run(app, tmp_path, GOOD.replace("gail@test.example", "gail.new@test.example"))
    assert result.exit_code == 0 and "Gail Brook (row 7)" in result.output
    db.expire_all()
    gail = db.scalar(select(Person).where(Person.external_id == "G1"))
    assert gail.email == "gail@test.example" and gail.account.email == "gail@test.example"
    assert _account(db, "gail.new@test.example") is None


def test_the_upload_page_says_which_addresses_were_kept(app, db, tmp_path, school, login_as):
    assert _run(app, tmp_path, GOOD).exit_code == 0
    _set_password(db, "gail@test.example")
    page = _upload(login_as(school.head), GOOD.replace("gail@test.example", "gail@evil.example"))
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ('<div class="alert alert-warning' in text
            and "The email address of Gail Brook (row 7) was not changed: they already have an account" in text)


def test_the_administrator_changes_the_address_of_an_account_in_use(app, db, tmp_path):
    assert _run(app, tmp_path, GOOD).exit_code == 0
    tilly = _set_password(db, "tilly@test.example")
    signed_in = app.test_client()
    assert signed_in.post("/portal/auth/login", data={"email": "tilly@test.example",
                                                       "password": PASSWORD}).status_code == 302
    assert signed_in.get("/portal/staff/").status_code == 200
    with app.test_request_context("/"):
        from portal.auth.tokens import RESET, make_token

        old_link = make_token(db.get(Account, tilly.id), RESET)  # as if mailed to the old address
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "accounts", "change-email", "tilly@test.example", "Tilly@New.Example"])
    assert result.exit_code == 0, result.output
    assert "now signs in with tilly@new.example" in result.output
    db.expire_all()
    account = db.get(Account, tilly.id)
    assert account.email == "tilly@new.example" and account.password_hash is not None
    assert db.scalar(select(Person).where(Person.external_id == "S1")).email == "tilly@new.example"
    # Its sessions have ended, and a reset link sent to the old address no longer works.
    assert signed_in.get("/portal/staff/").status_code == 302
    assert app.test_client().get(f"/portal/auth/reset/{old_link}").status_code == 400
    with all_schools(db):
        assert db.scalar(select(AuditEntry).where(AuditEntry.action == "account.address_changed")) is not None
    # The roster's new address now matches: nothing is kept or moved.
    again = _run(app, tmp_path, GOOD.replace("tilly@test.example", "tilly@new.example"))
    assert again.exit_code == 0 and "NOT changed" not in again.output
    # Refused: an address in use, not an address, no such account.
    for args, words in ((["tilly@new.example", "gail@test.example"], "Another account already signs in"),
                        (["tilly@new.example", "not an address"], "is not an email address"),
                        (["tilly@new.example", "gil@test.example"], "already"),
                        (["nobody@test.example", "x@test.example"], "No account with the address")):
        refused = runner.invoke(args=["portal", "accounts", "change-email", *args])
        assert refused.exit_code != 0 and words in refused.output
