"""The parent and carer portal."""
from flask import Blueprint

bp = Blueprint("parent", __name__, url_prefix="/parent")
