"""Private concerns: parents raise them; the right staff (or the chair of governors) handle them."""
from flask import Blueprint

bp = Blueprint("concerns", __name__, url_prefix="/concerns")
