"""Trust pages: schools side by side for trust roles (admin, auditor, safeguarding lead, compliance)."""
from flask import Blueprint

bp = Blueprint("trust", __name__, url_prefix="/trust")
