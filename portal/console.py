"""The ``countersign`` console script: the ``flask portal`` commands without ``flask``.

It lives apart from :mod:`portal.cli` so that the import order stays one way:
``console -> app -> extension -> cli``. (When ``main`` sat in ``cli.py`` it imported
``portal.app``, which imports ``extension``, which imports ``cli``: a circle.)
"""
from __future__ import annotations

from flask.cli import FlaskGroup

from portal.app import create_app
from portal.cli import portal_cli


def main() -> None:
    """Run the standalone app's command line (``countersign portal ...``)."""
    group = FlaskGroup(create_app=lambda: create_app())
    group.add_command(portal_cli)
    group()
