"""Languages: catalogues in step with the code, no unmarked text in translated templates, the
choice of language, right-to-left pages, the English fallback, and emails in the reader's language."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from portal.i18n import LANGUAGES, TRANSLATIONS_DIR
from portal.paths import TEMPLATES_DIR
from portal.people.models import Role

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [code for code in LANGUAGES if code != "en_GB"]

#: Templates whose every word goes through gettext; the scan below fails on unmarked text in them.
#: Parent and pupil pages first (they need every shipped language).
PARENT_PUPIL_TEMPLATES = [
    "portal/layout.html", "portal/_forms.html", "portal/_tasks.html", "portal/home.html", "portal/error.html",
    "portal/parent/home.html", "portal/parent/child.html", "portal/parent/_child_status.html",
    "portal/pupil/home.html", "portal/policies/sign.html", "portal/policies/signature.html",
    "portal/auth/login.html", "portal/concerns/_parent_home.html", "portal/policies/history.html",
    "portal/policies/consents.html", "portal/auth/from_lms.html",
    # Sign-in and concerns (people).
    "portal/auth/_set_password.html",
    "portal/auth/forgot.html",
    "portal/auth/invite.html",
    "portal/auth/link_problem.html",
    "portal/auth/recovery_codes.html",
    "portal/auth/reset.html",
    "portal/auth/schools.html",
    "portal/auth/security.html",
    "portal/auth/totp_setup.html",
    "portal/auth/verify.html",
    "portal/concerns/_status.html",
    "portal/concerns/mine.html",
    "portal/concerns/new.html",
    "portal/concerns/view.html",
    "portal/classroom/_device.html",
    "portal/classroom/device_full.html",
    "portal/classroom/device_message.html",
    "portal/classroom/device_names.html",
    "portal/classroom/device_screen.html",
    "portal/classroom/join.html",
    "portal/classroom/kiosk_exit.html",
    "portal/classroom/my_rules.html",
    "portal/verify/_verdict.html",
    "portal/verify/home.html",
    "portal/verify/record.html",
    "portal/dataprotection/privacy.html",
    # A parent telling the school about a relative (walk finding: the page was English in Arabic).
    "portal/links/relative.html",
    "portal/links/_names.html",
]
#: Translated too (staff pages and the sealed record): complete in English and Welsh.
OTHER_MARKED_TEMPLATES = [
    "portal/pdf/record.html", "portal/policies/translations.html", "portal/policies/_bar.html",
    # Policies, staff side (compliance and offline agreements).
    "portal/policies/compliance.html",
    "portal/policies/compliance_policy.html",
    "portal/policies/version.html",
    "portal/policies/offline_home.html",
    "portal/policies/offline_record.html",
    "portal/policies/offline_parent.html",
    # Concerns, staff side (people).
    "portal/concerns/calendar.html",
    "portal/concerns/handle.html",
    "portal/concerns/inbox.html",
    # staff, admin, auditor, trust, links, LMS and LTI pages
    "portal/staff/home.html", "portal/staff/class.html", "portal/staff/delegation.html", "portal/staff/charts.html",
    "portal/links/mine.html", "portal/links/register.html", "portal/links/review.html",
    "portal/admin/home.html", "portal/admin/jobs.html", "portal/admin/people.html", "portal/admin/roster.html",
    "portal/admin/settings.html",
    "portal/trust/compliance.html", "portal/trust/home.html", "portal/trust/index.html", "portal/trust/new_school.html",
    "portal/trust/records.html", "portal/trust/roster.html", "portal/trust/safeguarding.html",
    "portal/trust/shared_concern.html",
    "portal/auditor/home.html", "portal/auditor/verify.html",
    "portal/lms/course.html", "portal/lms/courses.html", "portal/lms/oneroster.html", "portal/lms/parent_links.html",
    "portal/lms/registration_settings.html", "portal/lms/registrations.html", "portal/lti/deep_link_return.html",
    "portal/lti/error.html", "portal/lti/pick.html",
    "portal/policies/policy.html",
    "portal/policies/manage.html",
    "portal/policies/new_policy.html",
    "portal/_import_errors.html",
    "portal/_roster_columns.html",
    "portal/dataprotection/privacy_choose.html",
    "portal/dataprotection/privacy_edit.html",
    # Classroom sessions, teacher side.
    "portal/classroom/home.html",
    "portal/classroom/session.html",
    "portal/classroom/_entries.html",
    "portal/incidents/_timeline.html",
    "portal/incidents/contact.html",
    "portal/incidents/home.html",
    "portal/incidents/new_contact.html",
    "portal/incidents/new_social.html",
    "portal/incidents/social.html",
    "portal/dataprotection/home.html",
    "portal/dataprotection/holds.html",
    "portal/dataprotection/sars.html",
    "portal/dataprotection/schedule.html",
    "portal/dataprotection/transfers.html",
    "portal/dataprotection/transfer.html",
    "portal/dataprotection/reviews.html",
    "portal/dataprotection/leavers.html",
    "portal/dataprotection/rule.html",
    "portal/dataprotection/_source.html",
    "portal/dataprotection/trust_holds.html",
    "portal/dataprotection/allegations.html",
    "portal/dataprotection/allegation.html",
    "portal/dataprotection/mark.html",
    "portal/dataprotection/sar.html",
    "portal/dataprotection/transfer_pack_pdf.html",
    "portal/dataprotection/sar_index.html",
]

#: Words that stay as they are in every language (names of things, units).
ALLOWED_WORDS = {"SHA", "UTC", "KB", "PDF", "evidence", "json", "Markdown"}


def unmarked_text(source: str) -> list[str]:
    """Literal words of a template outside gettext: text between tags, and the values of
    aria-label, title, placeholder and alt attributes."""
    s = re.sub(r"{#.*?#}", " ", source, flags=re.S)
    s = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", s, flags=re.S)
    s = re.sub(r"{{.*?}}", " ", s, flags=re.S)
    s = re.sub(r"{%.*?%}", " ", s, flags=re.S)
    s = re.sub(r"<(script|style)\b.*?</\1>", " ", s, flags=re.S | re.I)
    found = [v for _attr, v in re.findall(r'\b(aria-label|title|placeholder|alt)="([^"]*)"', s)
             if re.search(r"[A-Za-z]{2}", v)]
    text = re.sub(r"<[^>]*>", " ", s)
    found += [w for w in (m.strip("-'’") for m in re.findall(r"[A-Za-z][A-Za-z'’-]+", text)) if w not in ALLOWED_WORDS]
    return found


@pytest.mark.parametrize("name", PARENT_PUPIL_TEMPLATES + OTHER_MARKED_TEMPLATES)
def test_translated_templates_have_no_unmarked_text(name):
    words = unmarked_text((TEMPLATES_DIR / name).read_text())
    assert words == [], f"{name}: mark these with _() or {{% trans %}}: {words[:20]}"


def test_the_scan_finds_unmarked_text():
    assert unmarked_text('<p>Hello {{ name }}</p><a aria-label="Open it">{{ _("x") }}</a>') == ["Open it", "Hello"]
    assert unmarked_text('<p>{{ _("Hello") }}</p>{% trans %}Fine{% endtrans %}<style>p { color: red }</style>') == []


# ---------------------------------------------------------------- catalogues


def _extracted() -> set:
    method_map = [("portal/**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.do,jinja2.ext.loopcontrols"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "lazy_gettext": None,
                "_l": None, "N_": None}
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(str(ROOT), method_map, options, keywords):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


def _tuple(value):
    """A message id or string as a hashable value (plural forms come as lists or tuples)."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _done(string) -> bool:
    """Translated: a non-empty string, or every plural form filled in."""
    return all(string) if isinstance(string, (list, tuple)) else bool(string)


def _ids(catalog) -> set:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}


def _filled(m) -> bool:
    """A message with its translation written (every plural form, for ngettext)."""
    return bool(m.string) and (isinstance(m.string, str) or all(m.string)) and not m.fuzzy


def _strings(catalog) -> dict:
    """(context, singular id) -> translation (a tuple of the plural forms for ngettext)."""
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]):
            m.string if isinstance(m.string, str) else tuple(m.string) for m in catalog if m.id and _filled(m)}


def test_catalogues_are_in_step_with_the_code():
    """`make translations` was run: the template has every marked string (and no stale one), every
    language has every string, and each .mo is the compiled .po."""
    with open(TRANSLATIONS_DIR / "messages.pot", "rb") as f:
        pot = read_po(f)
    assert _ids(pot) == _extracted(), "run `make translations`"
    for code in SHIPPED:
        folder = TRANSLATIONS_DIR / code / "LC_MESSAGES"
        with open(folder / "messages.po", "rb") as f:
            po = read_po(f)
        with open(folder / "messages.mo", "rb") as f:
            mo = read_mo(f)
        assert _ids(po) == _ids(pot), f"{code}: run `make translations`"
        written = {(m.context, _tuple(m.id)): _tuple(m.string) for m in po if m.id and _done(m.string) and not m.fuzzy}
        # An untranslated plural entry is compiled with the English forms in it: not a translation.
        compiled = {(m.context, _tuple(m.id)): _tuple(m.string) for m in mo
                    if m.id and (isinstance(m.id, str) or (m.context, _tuple(m.id)) in written)}
        assert compiled == written, f"{code}: the .mo is older than the .po; run `make translations`"
        assert not list(po.check()), f"{code}: placeholders differ from the English"


def test_catalogue_headers_ask_for_review_by_a_fluent_speaker():
    for code in SHIPPED:
        head = (TRANSLATIONS_DIR / code / "LC_MESSAGES" / "messages.po").read_text().split("msgid", 1)[0]
        assert "NEEDS REVIEW" in head and "fluent speaker" in head, code


def _template_ids(names) -> set:
    from babel.messages.extract import extract

    found = set()
    for name in names:
        with open(TEMPLATES_DIR / name, "rb") as f:
            for _line, message, _comments, context in extract(
                    "jinja2", f, keywords={"_": None, "gettext": None, "pgettext": ((1, "c"), 2)},
                    options={"extensions": "jinja2.ext.do,jinja2.ext.loopcontrols"}):
                found.add((context, message if isinstance(message, str) else message[0]))
    return found


def test_welsh_is_complete_and_every_language_covers_the_parent_and_pupil_pages():
    parent_ids = _template_ids(PARENT_PUPIL_TEMPLATES)
    assert len(parent_ids) > 60
    for code in SHIPPED:
        with open(TRANSLATIONS_DIR / code / "LC_MESSAGES" / "messages.po", "rb") as f:
            po = read_po(f)
        done = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in po
                if m.id and _done(m.string) and not m.fuzzy}
        needed = _ids(po) if code == "cy" else parent_ids
        assert needed - done == set(), f"{code}: untranslated {sorted(map(str, needed - done))[:5]}"


# ---------------------------------------------------------------- choosing a language


def _lang(page: str) -> tuple[str, str]:
    m = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page)
    assert m, page[:200]
    return m.group(1), m.group(2)


def test_the_browser_language_is_used_when_nobody_chose_one(app, db, school):
    client = app.test_client()
    page = client.get("/portal/auth/login", headers={"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"})
    text = page.get_data(as_text=True)
    assert _lang(text) == ("pl", "ltr") and "Zaloguj się" in text and "Nie pamiętasz hasła?" in text
    # A language we do not ship: English.
    page = client.get("/portal/auth/login", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)
    assert _lang(page) == ("en-GB", "ltr") and "Forgotten your password?" in page


def test_the_schools_default_comes_before_the_browser(app, db, school):
    school.default_language = "cy"
    db.commit()
    page = app.test_client().get("/portal/auth/login", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert _lang(page) == ("cy", "ltr") and "Mewngofnodi" in page


def test_a_visitor_picks_a_language_in_the_footer(app, db, school):
    client = app.test_client()
    page = client.get("/portal/auth/login").get_data(as_text=True)
    from portal.idempotency import FIELD

    assert 'action="/portal/auth/language"' in page and f'name="{FIELD}"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"language": "ro", "next": "/portal/auth/login"}
    if token:
        data["csrf_token"] = token.group(1)
    resp = client.post("/portal/auth/language", data=data)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/portal/auth/login")
    page = client.get("/portal/auth/login").get_data(as_text=True)
    assert _lang(page) == ("ro", "ltr") and "Conectare" in page


def test_a_person_chooses_a_language_for_every_school(app, db, school, make_parent, make_pupil, login_as):
    from portal.people.models import Account

    parent = make_parent(make_pupil(given="Iwan"), given="Eira")
    client = login_as(parent)
    assert _lang(client.get("/portal/parent/").get_data(as_text=True))[0] == "en-GB"
    resp = client.post("/portal/auth/language", data={"language": "cy", "next": "/portal/parent/"})
    assert resp.status_code == 303
    db.expire_all()
    assert db.get(Account, parent.account.id).language == "cy"
    page = client.get("/portal/parent/", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert _lang(page) == ("cy", "ltr") and "Eich plant" in page and "Hafan rhieni" in page
    # Labels the Python code keeps in English (for exports) are shown in the page's language.
    assert "Blwyddyn 1" in page and "Year 1" not in page


def _pick(client, code: str) -> None:
    resp = client.post("/portal/auth/language", data={"language": code, "next": "/portal/auth/login"})
    assert resp.status_code == 303


def _sign_in(client, email: str):
    from tests.factories import PASSWORD

    resp = client.post("/portal/auth/login", data={"email": email, "password": PASSWORD, "next": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return resp


def test_a_language_picked_on_the_sign_in_page_is_kept_after_signing_in(app, db, school, make_parent, make_pupil):
    """The pick is the person's newest choice: it replaces the one saved on their account, once, and is audited.
    Someone signing in later on the same browser, without picking, keeps their own saved language."""
    from portal.audit.models import AuditEntry
    from portal.people.models import Account

    parent = make_parent(make_pupil(given="Iwan"), given="Eira")
    parent.account.language = "cy"
    other = make_parent(make_pupil(given="Nia"), given="Huw")
    other.account.language = "ro"
    db.commit()
    client = app.test_client()
    _pick(client, "pl")
    assert _lang(client.get("/portal/auth/login").get_data(as_text=True))[0] == "pl"
    _sign_in(client, parent.email)
    page = client.get("/portal/parent/").get_data(as_text=True)
    assert _lang(page)[0] == "pl", "the language picked just before signing in was replaced by the saved one"
    db.expire_all()
    assert db.get(Account, parent.account.id).language == "pl"
    entry = db.query(AuditEntry).filter_by(action="account.language_changed").one()
    assert entry.data["before"] == "cy" and entry.data["after"] == "pl"
    # Signed out, the browser stays in Polish; the next person signs in without picking and gets their own.
    assert client.post("/portal/auth/logout").status_code == 302
    assert _lang(client.get("/portal/auth/login").get_data(as_text=True))[0] == "pl"
    _sign_in(client, other.email)
    assert _lang(client.get("/portal/parent/").get_data(as_text=True))[0] == "ro"
    db.expire_all()
    assert db.get(Account, other.account.id).language == "ro"
    assert db.query(AuditEntry).filter_by(action="account.language_changed").count() == 1


def test_a_pick_from_more_than_an_hour_ago_does_not_change_the_account(app, db, school, make_parent, make_pupil):
    import time

    from portal.i18n import PICKED_AT_KEY
    from portal.people.models import Account

    parent = make_parent(make_pupil(given="Iwan"), given="Eira")
    parent.account.language = "cy"
    db.commit()
    client = app.test_client()
    _pick(client, "ar")
    with client.session_transaction() as sess:
        sess[PICKED_AT_KEY] = int(time.time()) - 3601
    _sign_in(client, parent.email)
    assert _lang(client.get("/portal/parent/").get_data(as_text=True)) == ("cy", "ltr")
    db.expire_all()
    assert db.get(Account, parent.account.id).language == "cy"


def test_error_pages_are_in_the_readers_language(app, db, school, make_parent, make_pupil, login_as):
    """A missing page, a page the account may not open, a form sent twice and a NUL character: each
    refusal is written in the reader's language, like the page it replaces."""
    parent = make_parent(make_pupil(given="Iwan"), given="Eira")
    client = login_as(parent)
    assert client.post("/portal/auth/language", data={"language": "cy"}).status_code == 303
    for path, code, words in (("/portal/no-such-page", 404, ("Heb ddod o hyd i'r dudalen",
                                                              "Ni allem ddod o hyd i'r dudalen honno.")),
                              ("/portal/staff/", 403, ("Dim caniatâd", "Ni all eich cyfrif agor y dudalen hon.")),
                              ("/portal/parent/?q=a%00b", 400, ("Gwiriwch yr hyn a anfonoch", "nod NUL"))):
        resp = client.get(path)
        page = resp.get_data(as_text=True)
        assert resp.status_code == code and _lang(page) == ("cy", "ltr"), path
        assert all(w.replace("'", "&#39;") in page for w in words), (path, page[-1500:])
        assert "We could not find" not in page and "cannot open this page" not in page, path
    # A form without its one-time token (a page from before a restart, say): refused in the reader's language.
    assert client.post("/portal/auth/language", data={"language": "ar"}).status_code == 303
    stale = client.post("/portal/auth/language", data={"language": "cy", "_once": ""})
    page = stale.get_data(as_text=True)
    assert stale.status_code == 400 and _lang(page) == ("ar", "rtl")
    assert "هذا النموذج قديم" in page and "out of date" not in page


@pytest.mark.parametrize("bad", ["xx", "", "../../etc"])
def test_an_unknown_language_is_refused_and_nothing_is_saved(app, db, school, make_person, login_as, bad):
    person = make_person(Role.PARENT, given="Nia")
    client = login_as(person)
    resp = client.post("/portal/auth/language", data={"language": bad})
    assert resp.status_code == 303
    db.expire_all()
    assert person.account.language is None
    assert "Choose one of the languages in the list." in client.get("/portal/", follow_redirects=True).get_data(
        as_text=True)


@pytest.mark.parametrize("code", ["ur", "ar"])
def test_right_to_left_pages_use_the_local_rtl_stylesheet(app, db, school, code):
    client = app.test_client()
    page = client.get("/portal/auth/login", headers={"Accept-Language": code}).get_data(as_text=True)
    assert _lang(page) == (code, "rtl")
    href = re.search(r'<link rel="stylesheet" href="([^"]*bootstrap[^"]*)"', page).group(1)
    assert href.endswith("vendor/bootstrap/bootstrap.rtl.min.css") and "//" not in href
    css = client.get(href)
    assert css.status_code == 200 and b"Bootstrap" in css.data[:200] and b"v5.3.8" in css.data[:200]
    css.close()
    ltr = client.get("/portal/auth/login").get_data(as_text=True)
    assert "bootstrap.rtl" not in ltr


def test_a_missing_translation_falls_back_to_english_never_blank(app, db, school):
    """The staff-only strings of the translations page are not translated into Polish: they show in English."""
    from flask_babel import force_locale, gettext

    with open(TRANSLATIONS_DIR / "pl" / "LC_MESSAGES" / "messages.po", "rb") as f:
        po = read_po(f)
    empty = [m.id for m in po if m.id and isinstance(m.id, str) and not m.string and "%" not in m.id]
    assert empty, "pick a string Polish does not translate"
    with app.test_request_context("/"), force_locale("pl"):
        for msgid in empty:
            assert gettext(msgid) == msgid
        assert gettext("Sign out") == "Wyloguj się"


def test_every_other_template_is_on_the_way_to_being_translated():
    """Templates not translated yet are listed in tests/i18n_pending.py with their count of unmarked words,
    which may only go down; any other template (a new one, say) must have none."""
    from tests.i18n_pending import PENDING

    marked = set(PARENT_PUPIL_TEMPLATES + OTHER_MARKED_TEMPLATES)
    problems = []
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        name = str(path.relative_to(TEMPLATES_DIR))
        if name in marked:
            continue
        words = unmarked_text(path.read_text())
        allowed = PENDING.get(name, 0)
        if len(words) > allowed:
            problems.append(f"{name}: {len(words)} unmarked words (at most {allowed}), e.g. {words[:8]}")
    assert not problems, "mark these with _() or {% trans %}:\n" + "\n".join(problems)
    assert set(PENDING) <= {str(p.relative_to(TEMPLATES_DIR)) for p in TEMPLATES_DIR.rglob("*.html")}, \
        "remove templates that no longer exist from tests/i18n_pending.py"


def test_invitations_and_password_resets_are_written_in_the_persons_language(app, db, school, make_person, mailbox):
    from portal.auth.links import send_invitation
    from portal.auth.links import send_link as _send_link
    from portal.auth.tokens import RESET

    school.default_language = "cy"
    newcomer = make_person(Role.PARENT, given="Owain", email="owain@parents.example", password=None)
    chooser = make_person(Role.PARENT, given="Zofia", email="zofia@parents.example")
    chooser.account.language = "pl"
    db.commit()
    with app.test_request_context("/"):
        assert send_invitation(newcomer)
        assert _send_link(chooser, RESET)
    invite = mailbox.to("owain@parents.example")[0]
    assert invite["Subject"] == "Rydych wedi'ch gwahodd i borth yr ysgol"
    assert invite.get_content().startswith("Helo Owain,") and "/portal/auth/invite/" in invite.get_content()
    reset = mailbox.to("zofia@parents.example")[-1]
    assert reset["Subject"] == "Zresetuj hasło do Countersign" and "w ciągu godziny" in reset.get_content()


@pytest.mark.parametrize("code", ["pl", "ro", "ar", "ur"])
def test_a_parent_tells_of_a_relative_in_their_own_language(app, db, school, make_parent, make_pupil, login_as,
                                                           code):
    """Walk finding: the relative page, its form's labels and its relationships were English for a parent reading
    Arabic (the page is linked from every parent's home)."""
    parent = make_parent(make_pupil(given="Iwan"), given="Eira")
    parent.account.language = code
    db.commit()
    page = login_as(parent).get("/portal/links/relative").get_data(as_text=True)
    english = ["Is someone at the school your relative?", "Which child", "The adult", "Relationship to your child",
               "Aunt or uncle", "Grandparent", "Send my answer", "If yes", "Choose…"]
    assert [e for e in english if e in page] == []
