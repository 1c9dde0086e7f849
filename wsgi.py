"""WSGI entry point for the standalone portal: ``gunicorn wsgi:app``."""
from portal.app import create_app

app = create_app()
