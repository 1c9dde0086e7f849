"""The pupil portal (older pupils with accounts; young pupils use the classroom screens)."""
from flask import Blueprint

bp = Blueprint("pupil", __name__, url_prefix="/pupil")
