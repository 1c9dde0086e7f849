"""Languages in the "people" area: the concern form, the sign-in help pages, and the concern and
security emails, each in the reader's language (a missing translation falls back to English, as
tests/test_i18n.py checks in general)."""
from __future__ import annotations

import html

import pytest

from tests import concerns_helpers
from tests.concerns_helpers import SECRET_SUBJECT, SECRET_TEXT, newest, raise_concern

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend

cast = concerns_helpers.cast  # the fixture


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def test_a_welsh_parent_sees_the_concern_form_in_welsh(cast, db, login_as):
    cast.parent.account.language = "cy"
    db.commit()
    client = login_as(cast.parent)
    page = _text(client.get("/portal/concerns/new"))
    assert 'lang="cy"' in page
    assert "Pam dweud wrthym yma ac nid ar y cyfryngau cymdeithasol?" in page
    assert "Am beth mae'n sôn?" in page and "Ymddygiad neu fwlio" in page  # a label and a choice (Python)
    assert "Anfon yn breifat i'r ysgol" in page
    assert "Why tell us here" not in page and "Behaviour or bullying" not in page
    # A refused form answers in Welsh too (a validator message from the form class).
    resp = raise_concern(client, subject="")
    assert resp.status_code == 400 and "Llenwch hwn." in _text(resp)
    # After sending: the thank-you message and the parent's own pages.
    resp = raise_concern(client)
    c = newest(db)
    assert resp.status_code == 302
    view = _text(client.get(resp.headers["Location"]))
    assert f"Diolch. Mae eich pryder {c.reference} wedi'i anfon yn breifat i'r ysgol." in view
    assert "Beth ddywedoch chi wrthym" in view and "Pryder anffurfiol" in view
    assert "Pryderon rydych chi wedi'u codi, y diweddaraf yn gyntaf" in _text(client.get("/portal/concerns/"))


def test_a_polish_visitor_gets_the_sign_in_help_pages_in_polish(app, db, school):
    client = app.test_client()
    polish = {"Accept-Language": "pl-PL,pl;q=0.9"}
    page = _text(client.get("/portal/auth/forgot", headers=polish))
    assert "Zresetuj hasło" in page and "Wpisz adres e-mail, którego używasz w kontaktach ze szkołą." in page
    assert "Type the email address" not in page
    page = _text(client.get("/portal/auth/reset/not-a-real-token", headers=polish))
    assert "Ten link nie działa" in page and "Poproś o nowy link" in page and "Ten link jest nieprawidłowy." in page


def test_an_arabic_parent_sees_the_security_page_right_to_left_in_arabic(cast, db, login_as):
    cast.parent.account.language = "ar"
    db.commit()
    page = _text(login_as(cast.parent).get("/portal/auth/security"))
    assert 'dir="rtl"' in page and 'lang="ar"' in page
    assert "تسجيل الدخول بخطوتين" in page and "أين أنت مسجّل الدخول" in page
    assert "Where you are signed in" not in page


def test_a_concern_email_reaches_a_welsh_speaking_handler_in_welsh(cast, db, login_as, mailbox):
    cast.reviewer.account.language = "cy"
    db.commit()
    raise_concern(login_as(cast.parent))
    c = newest(db)
    welsh = mailbox.to("rhea@test.example")
    assert len(welsh) == 1
    assert welsh[0]["Subject"] == f"Mae rhiant wedi codi pryder ({c.reference})"
    body = welsh[0].get_content()
    assert "Mae rhiant wedi codi pryder newydd drwy'r porth." in body
    assert "Er preifatrwydd nid yw'r e-bost hwn yn cynnwys yr hyn a ysgrifennwyd." in body
    assert f"/portal/concerns/inbox/{c.id}" in body
    # The English-speaking Head gets their own email, in English; the parent too.
    head = mailbox.to("head@test.example")
    assert len(head) == 1 and head[0]["Subject"] == f"A parent has raised a concern ({c.reference})"
    assert mailbox.to("paula@test.example")[0]["Subject"] == f"We have received your concern ({c.reference})"
    for m in mailbox.messages:  # never the concern's words, in any language
        assert SECRET_SUBJECT not in m.as_string() and SECRET_TEXT not in m.as_string()


def test_a_welsh_parent_hears_about_news_in_welsh(cast, db, login_as, mailbox):
    cast.parent.account.language = "cy"
    db.commit()
    raise_concern(login_as(cast.parent))
    c = newest(db)
    received = mailbox.to("paula@test.example")
    assert received[0]["Subject"] == f"Rydym wedi derbyn eich pryder ({c.reference})"
    assert "Ein nod yw ei gydnabod erbyn Dydd" in received[0].get_content()  # the weekday in Welsh
    mailbox.clear()
    login_as(cast.head).post(f"/portal/concerns/inbox/{c.id}/status", data={"status": "acknowledged"})
    news = mailbox.to("paula@test.example")
    assert len(news) == 1 and news[0]["Subject"] == f"Mae newyddion am eich pryder ({c.reference})"


def test_the_failed_sign_in_warning_is_written_in_the_holders_language(app, db, school, make_person, mailbox):
    from portal.auth.links import tell_holder_of_failures as _tell_holder_of_failures
    from portal.people.models import Role

    person = make_person(Role.PARENT, given="Zofia", email="zofia@parents.example")
    person.account.language = "pl"
    db.commit()
    with app.test_request_context("/"):
        _tell_holder_of_failures(person.account)
    sent = mailbox.to("zofia@parents.example")
    assert len(sent) == 1
    assert sent[0]["Subject"] == "Nieudane logowania na Twoje konto w portalu szkoły"
    body = sent[0].get_content()
    assert body.startswith("Dzień dobry Zofia,") or body.startswith("Dzień dobry,") or "Zofia" in body.split("\n")[0]
    assert "„Nie pamiętasz hasła?”" in body


def test_a_polish_parent_reads_the_concern_pages_and_their_errors_in_polish(cast, db, login_as):
    cast.parent.account.language = "pl"
    db.commit()
    client = login_as(cast.parent)
    page = _text(client.get("/portal/concerns/new"))
    assert "Wyślij poufnie do szkoły" in page and "Opisz, co się stało" in page  # template and form label
    resp = raise_concern(client, files=[("notes.txt", b"plain text, not a photo")])
    assert resp.status_code == 400
    assert "nie jest zdjęciem (PNG, JPEG, GIF, WebP, HEIC) ani plikiem PDF" in _text(resp)


def test_a_welsh_speaking_head_handles_concerns_in_welsh(cast, db, login_as):
    raise_concern(login_as(cast.parent))
    c = newest(db)
    cast.head.account.language = "cy"
    db.commit()
    head = login_as(cast.head)
    inbox = _text(head.get("/portal/concerns/inbox"))
    assert "Pryderon rhieni" in inbox and "1 pryder" in inbox and "Cydnabod erbyn" in inbox
    head.post(f"/portal/concerns/inbox/{c.id}/status", data={"status": "acknowledged"})
    page = _text(head.get(f"/portal/concerns/inbox/{c.id}"))
    assert "Beth ysgrifennodd y rhiant" in page and "Newidiwyd y statws i wedi'i gydnabod." in page
    assert "statws newydd → wedi'i gydnabod" in page  # the history line, with the statuses in Welsh
