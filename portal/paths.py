"""Where the portal's templates, static files and migrations live.

In a source checkout they are the top-level ``templates/`` and ``migrations/`` folders;
in an installed wheel they are packaged inside ``portal/``.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    raise RuntimeError(f"none of these folders exists: {candidates}")


TEMPLATES_DIR = _first_existing(PACKAGE_DIR / "templates", PACKAGE_DIR.parent / "templates")
MIGRATIONS_DIR = _first_existing(PACKAGE_DIR / "migrations", PACKAGE_DIR.parent / "migrations")
STATIC_DIR = PACKAGE_DIR / "static"
