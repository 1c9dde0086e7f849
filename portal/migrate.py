"""Run the portal's Alembic migrations programmatically (used by the CLI and the tests)."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from portal.paths import MIGRATIONS_DIR

VERSION_TABLE = "alembic_version_portal"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
