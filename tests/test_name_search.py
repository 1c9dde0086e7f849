"""Names are found folded (portal/people/folding.py): no case, no accents, plain letters, on both databases."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Integer, create_engine, inspect, select, text

from portal.links.operations import search_pupils
from portal.migrate import upgrade
from portal.people.folding import fold, name_key
from portal.people.models import Person, Role
from portal.people.search import words_match
from tests.test_migrations import _fresh_url


def test_fold_spells_names_as_an_english_keyboard_types_them():
    assert fold("Łucja") == fold("łucja") == fold("LUCJA") == fold("Lucja") == "lucja"
    assert fold("Zoë") == "zoe" and fold("Søren") == "soren" and fold("Şerban") == "serban"
    assert fold("Ó Briain") == "o briain" and fold("O’Brien") == fold("O'Brien") == "o'brien"
    assert fold("Straße") == "strasse" and fold("Ægir") == "aegir" and fold("Đorđe") == "dorde"
    assert fold("  Anna \t Maria ") == "anna maria" and fold("ﬁona") == "fiona"  # the ligature decomposes
    assert name_key("Mărie-Zoë", "Ćwik") == "marie-zoe cwik" and name_key(None, "Ng") == "ng"


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
    url, cleanup = _fresh_url(db_backend, request, tmp_path)
    try:
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
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
