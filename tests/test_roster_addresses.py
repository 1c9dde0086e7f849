"""A roster import never moves an account someone signs in with to another address (a security probe signed in as
the Head Teacher this way); ``flask portal accounts change-email`` changes the address of an account in use."""
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
    assert "Sign-in address kept" in result.output and "Tilly Teachwell (row 2)" in result.output
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


def test_an_account_nobody_has_used_yet_moves_with_the_address(app, db, tmp_path):
    assert _run(app, tmp_path, GOOD).exit_code == 0
    result = _run(app, tmp_path, GOOD.replace("gail@test.example", "gail.new@test.example"))
    assert result.exit_code == 0 and "Sign-in address kept" not in result.output
    db.expire_all()
    gail = db.scalar(select(Person).where(Person.external_id == "G1"))
    assert gail.email == "gail.new@test.example" and gail.account.email == "gail.new@test.example"


def test_the_upload_page_says_which_addresses_were_kept(app, db, tmp_path, school, login_as):
    assert _run(app, tmp_path, GOOD).exit_code == 0
    _set_password(db, "gail@test.example")
    page = _upload(login_as(school.head), GOOD.replace("gail@test.example", "gail@evil.example"))
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ("The sign-in address of 1 person was not changed, because they already sign in with it: "
            "Gail Brook (row 7).") in text


def test_the_administrator_changes_the_address_of_an_account_in_use(app, db, tmp_path):
    assert _run(app, tmp_path, GOOD).exit_code == 0
    tilly = _set_password(db, "tilly@test.example")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "accounts", "change-email", "tilly@test.example", "Tilly@New.Example"])
    assert result.exit_code == 0, result.output
    assert "now signs in with tilly@new.example" in result.output
    db.expire_all()
    account = db.get(Account, tilly.id)
    assert account.email == "tilly@new.example" and account.password_hash is not None
    assert db.scalar(select(Person).where(Person.external_id == "S1")).email == "tilly@new.example"
    with all_schools(db):
        assert db.scalar(select(AuditEntry).where(AuditEntry.action == "account.address_changed")) is not None
    # The roster's new address now matches: nothing is kept or moved.
    again = _run(app, tmp_path, GOOD.replace("tilly@test.example", "tilly@new.example"))
    assert again.exit_code == 0 and "Sign-in address kept" not in again.output
    # Refused: an address in use, not an address, no such account.
    for args, words in ((["tilly@new.example", "gail@test.example"], "Another account already signs in"),
                        (["tilly@new.example", "not an address"], "is not an email address"),
                        (["nobody@test.example", "x@test.example"], "No account with the address")):
        refused = runner.invoke(args=["portal", "accounts", "change-email", *args])
        assert refused.exit_code != 0 and words in refused.output
