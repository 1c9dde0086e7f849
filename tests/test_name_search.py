"""Names are found folded (portal/people/folding.py): no case, no accents, plain letters, on both databases."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Integer, create_engine, inspect, select, text

from portal.links.operations import search_pupils
from portal.migrate import upgrade
from portal.people.folding import fold, name_key
from portal.people.models import Person, Role
from portal.people.search import search_words, words_match
from tests.test_migrations import fresh_database


def test_fold_spells_names_as_an_english_keyboard_types_them():
    assert fold("Łucja") == fold("łucja") == fold("LUCJA") == fold("Lucja") == "lucja"
    assert fold("Zoë") == "zoe" and fold("Søren") == "soren" and fold("Şerban") == "serban"
    assert fold("Ó Briain") == "o briain" and fold("O’Brien") == fold("O'Brien") == "o'brien"
    assert fold("Straße") == "strasse" and fold("Ægir") == "aegir" and fold("Đorđe") == "dorde"
    assert fold("  Anna \t Maria ") == "anna maria" and fold("ﬁona") == "fiona"  # the ligature decomposes
    assert name_key("Mărie-Zoë", "Ćwik") == "marie-zoe cwik" and name_key(None, "Ng") == "ng"
    # An acute accent or a modifier letter typed for an apostrophe is one; the Unicode hyphens are "-".
    assert fold("O´Brien") == fold("O\u02bbBrien") == fold("O\u02b9Brien") == "o'brien"
    assert fold("Jean‐Luc") == fold("Jean‑Luc") == "jean-luc"
    # Accents alone fold to nothing: no word to search for.
    assert fold("¨") == fold("\u0301\u0308") == "" and search_words("¨ Ann \u0301", 4) == ["Ann"]


def test_an_ascii_name_folds_as_the_unicode_steps_would_fold_it():
    """fold() takes a shorter way for ASCII text: every ASCII character gives what the full way gives
    (a trailing "é" sends the same text the full way)."""
    for code in range(128):
        text = f"a{chr(code)}B"
        assert fold(text) == fold(text + "é")[:-1], code


def test_accents_alone_find_nobody_and_do_not_pass_for_a_long_enough_search(db, make_pupil, make_person):
    """Before, "´´" searched for "" (every pupil) and "q" with a combining accent passed the two-letter minimum."""
    make_pupil(3, given="Renée")
    make_pupil(3, given="Quill")
    make_person(Role.PARENT, given="O’Brien", family="Ash")
    assert search_pupils("¨¨") == [] and search_pupils("q\u0301") == [] and search_pupils("\u0301\u0301 q") == []
    assert db.scalars(select(Person.id).where(words_match(["\u0301"]))).all() == []
    assert db.scalars(select(Person.id).where(words_match(["¨", "ren"]))).all() != []  # the accent is left out
    assert len(db.scalars(select(Person.id).where(words_match(["O´Brien"]))).all()) == 1


def test_a_person_is_stored_with_their_folded_names_and_refolded_when_renamed(db, make_person):
    person = make_person(Role.PARENT, given="Łucja", family="Żak")
    db.expire_all()
    assert db.get(Person, person.id).name_key == "lucja zak"
    person = db.get(Person, person.id)
    person.family_name = "Wiśniewska"
    db.commit()
    db.expire_all()
    assert db.get(Person, person.id).name_key == "lucja wisniewska"
    assert db.scalars(select(Person.id).where(words_match(["zak"]))).all() == []


def test_every_spelling_of_a_name_finds_the_person_and_other_people_are_not_found(db, make_person):
    lucja = make_person(Role.PARENT, given="Łucja", family="Żak")
    zoe = make_person(Role.PARENT, given="Zoë", family="Ó Briain")
    make_person(Role.PARENT, given="Lucy", family="Zakes")
    for typed in (["Łucja"], ["łucja"], ["Lucja"], ["LUCJA"], ["ucja", "żak"], ["lucja", "zak"]):
        assert db.scalars(select(Person.id).where(words_match(typed))).all() == [lucja.id], typed
    for typed in (["zoe"], ["Zoë", "briain"], ["ZOE", "Ó"]):
        assert db.scalars(select(Person.id).where(words_match(typed))).all() == [zoe.id], typed
    assert db.scalars(select(Person.id).where(words_match(["luc%"]))).all() == []  # % is taken literally


def test_a_person_stored_without_a_key_is_still_found_by_their_names(db, make_person, make_pupil):
    """A row an older release wrote during a rolling upgrade has the empty default key: the names are compared
    as before (ilike) until the key is made, and an ORM update of that person makes it."""
    ann = make_person(Role.PARENT, given="Ann", family="Quayle")
    make_person(Role.PARENT, given="Bea", family="Quince")
    pip = make_pupil(3, given="Pip")
    db.execute(text("UPDATE portal_people SET name_key = '' WHERE id IN (:a, :p)"), {"a": ann.id, "p": pip.id})
    db.commit()
    db.expire_all()
    assert db.scalars(select(Person.id).where(words_match(["QUAYLE"]))).all() == [ann.id]
    assert db.scalars(select(Person.id).where(words_match(["ann", "quay"]))).all() == [ann.id]
    assert [p.id for p, _ in search_pupils("pip")] == [pip.id]
    db.get(Person, ann.id).active = False  # any update of the person makes the key
    db.commit()
    assert db.scalar(select(Person.name_key).where(Person.id == ann.id)) == "ann quayle"


def test_the_links_pupil_search_finds_a_pupil_typed_without_accents(db, make_pupil, make_class):
    owls = make_class(year_group=3, name="Year 3 Owls")
    renee = make_pupil(3, owls, given="Renée")
    assert [(p.id, cls) for p, cls in search_pupils("renee owls")] == [(renee.id, "Year 3 Owls")]
    assert [p.id for p, _ in search_pupils("RENÉE")] == [renee.id]


def test_the_roster_import_stores_and_changes_the_folded_names(app, db, tmp_path):
    header = ("type,external_id,given_name,family_name,email,year_group,date_of_birth,class_code,class_name,send,"
              "roles,children,teachers\n")
    roster = header + "parent,G1,Zoë,Ó Briain,zoe@test.example,,,,,,,,\nparent,G2,Ann,Eve,ann@test.example,,,,,,,,\n"
    path = tmp_path / "roster.csv"
    path.write_text(roster, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["portal", "import-roster", str(path)])
    assert result.exit_code == 0, result.output
    db.expire_all()
    keys = dict(db.execute(select(Person.external_id, Person.name_key)).all())
    assert keys == {"G1": "zoe o briain", "G2": "ann eve"}

    path.write_text(roster.replace("Ó Briain", "Ní Bhriain").replace("ann@", "anne@"), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["portal", "import-roster", str(path)])
    assert result.exit_code == 0, result.output
    db.expire_all()
    keys = dict(db.execute(select(Person.external_id, Person.name_key)).all())
    assert keys == {"G1": "zoe ni bhriain", "G2": "ann eve"}  # a changed address leaves the key as it was
    assert "Ann Eve (row 3)" in result.output  # (and is not applied: an existing account never moves)
    path.write_text(roster.replace("Ó Briain", "Ní Bhriain"), encoding="utf-8")

    # A key that was never made (a row written around the portal) is mended by the next import of the same
    # names, which reports nothing changed.
    db.execute(text("UPDATE portal_people SET name_key = '' WHERE external_id = 'G2'"))
    db.commit()
    result = app.test_cli_runner().invoke(args=["portal", "import-roster", str(path)])
    assert result.exit_code == 0 and "2 row(s) already up to date" in result.output, result.output
    db.expire_all()
    assert db.scalar(select(Person.name_key).where(Person.external_id == "G2")) == "ann eve"


def _filler(column, n: int):
    """A value for a NOT NULL column with no server default (to insert a row at an old revision)."""
    kind = column["type"]
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        return dt.datetime(2026, 9, 1)
    if isinstance(kind, Date):
        return dt.date(2026, 9, 1)
    if isinstance(kind, Integer):
        return 1
    return f"x{n}"


def _insert(conn, table: str, values: dict) -> None:
    columns = inspect(conn).get_columns(table)
    row = {c["name"]: _filler(c, i) for i, c in enumerate(columns)
           if not c["nullable"] and c.get("default") is None and c["name"] not in values and c["name"] != "id"}
    row.update(values)
    names = ", ".join(row)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in row)})"), row)


def test_migration_0014_folds_the_names_already_stored(db_backend, request, tmp_path):
    with fresh_database(db_backend, request, tmp_path) as url:
        upgrade(url, "0013")
        engine = create_engine(url)
        with engine.begin() as conn:
            _insert(conn, "portal_schools", {"id": 1, "slug": "oak", "name": "Oak"})
            _insert(conn, "portal_people", {"id": 1, "school_id": 1, "given_name": "Łucja", "family_name": "Żak"})
            _insert(conn, "portal_people", {"id": 2, "school_id": 1, "given_name": "Ann", "family_name": "Eve"})
        engine.dispose()
        upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            keys = dict(conn.execute(text("SELECT id, name_key FROM portal_people ORDER BY id")).all())
        engine.dispose()
        assert keys == {1: "lucja zak", 2: "ann eve"}
