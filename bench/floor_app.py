"""The floor of the page benchmarks: a minimal Flask + Jinja + SQLite page.

One route reads 20 rows from a small SQLite file with SQLAlchemy 2 (Core) and renders them with a
Jinja template of about the size of a portal page's main table. Served by gunicorn exactly like
the portal in the same run, so the ratio page/floor says what the portal's own work costs.

    BENCH_FLOOR_DB=/tmp/floor.sqlite gunicorn -w 2 floor_app:app
"""
from __future__ import annotations

import os

from flask import Flask, render_template
from jinja2 import DictLoader
from sqlalchemy import create_engine, text

DB = os.environ.get("BENCH_FLOOR_DB", "/tmp/bench-floor.sqlite")

app = Flask(__name__)
engine = create_engine(f"sqlite:///{DB}")

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Floor</title></head>
<body><main><h1>People</h1><table><caption>Twenty people</caption>
<thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Class</th></tr></thead><tbody>
{% for r in rows %}<tr><td>{{ r.id }}</td><td>{{ r.name }}</td><td>{{ r.class_name }}</td></tr>{% endfor %}
</tbody></table></main></body></html>"""
app.jinja_loader = DictLoader({"page.html": PAGE})  # compiled once, like a template file


def make_db(path: str = DB) -> None:
    """Create the floor's table of 2,000 rows (once per benchmark run)."""
    eng = create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS people"))
        conn.execute(text("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, class_name TEXT)"))
        conn.execute(text("INSERT INTO people (id, name, class_name) VALUES (:i, :n, :c)"),
                     [{"i": i, "n": f"Fictional Person {i}", "c": f"Class {i % 40}"} for i in range(1, 2001)])
    eng.dispose()


@app.get("/floor")
def floor():
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name, class_name FROM people WHERE id > :start ORDER BY id LIMIT 20"),
                            {"start": 100}).all()
    return render_template("page.html", rows=rows)
