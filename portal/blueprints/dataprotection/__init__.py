"""Data protection pages: retention schedule and reviews, legal holds, leavers, subject access
requests, allegations against staff, safeguarding transfer packs, and the privacy notice."""
from flask import Blueprint

bp = Blueprint("dataprotection", __name__, url_prefix="/data-protection")
