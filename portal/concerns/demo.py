"""Term holidays of the fictional demo school (so concern targets skip them)."""
from __future__ import annotations

import datetime as dt

from portal.concerns.models import SchoolClosure
from portal.db import session

D = dt.date
#: (label, first day, last day): an invented but typical English school year pattern.
DEMO_CLOSURES = [
    ("Autumn half term", D(2025, 10, 27), D(2025, 10, 31)),
    ("Christmas holidays", D(2025, 12, 22), D(2026, 1, 2)),
    ("February half term", D(2026, 2, 16), D(2026, 2, 20)),
    ("Easter holidays", D(2026, 3, 30), D(2026, 4, 10)),
    ("May half term", D(2026, 5, 25), D(2026, 5, 29)),
    ("Summer holidays", D(2026, 7, 22), D(2026, 9, 2)),
    ("Autumn half term", D(2026, 10, 26), D(2026, 10, 30)),
    ("Christmas holidays", D(2026, 12, 21), D(2027, 1, 1)),
    ("Training day", D(2027, 1, 4), D(2027, 1, 4)),
    ("February half term", D(2027, 2, 15), D(2027, 2, 19)),
    ("Easter holidays", D(2027, 3, 29), D(2027, 4, 9)),
    ("May half term", D(2027, 5, 31), D(2027, 6, 4)),
    ("Summer holidays", D(2027, 7, 21), D(2027, 8, 31)),
]


def add_demo_closures() -> None:
    """Add the demo school's holidays (flushes; the caller commits)."""
    for label, first, last in DEMO_CLOSURES:
        session.add(SchoolClosure(label=label, first_day=first, last_day=last))
    session.flush()
