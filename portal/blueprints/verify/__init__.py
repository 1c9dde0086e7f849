"""The public verification page: anyone may check a sealed record, without signing in."""
from flask import Blueprint

bp = Blueprint("verify", __name__, url_prefix="/verify")
