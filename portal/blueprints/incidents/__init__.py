"""Contact incidents and the social-media incidents log."""
from flask import Blueprint

bp = Blueprint("incidents", __name__, url_prefix="/incidents")
