"""Countersign: a parent-school portal with acceptable-use policies and e-signatures.

Use :class:`Portal` to mount it into a Flask application, or :func:`create_app` for the
standalone app.
"""
from portal.app import create_app
from portal.extension import Portal

__all__ = ["Portal", "create_app"]
