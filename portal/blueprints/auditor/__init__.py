"""The auditor portal: read-only access to signed records."""
from flask import Blueprint

bp = Blueprint("auditor", __name__, url_prefix="/auditor")
