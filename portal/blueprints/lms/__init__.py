"""LMS integration pages for people: LTI registrations, OneRoster import, course roster sync."""

from flask import Blueprint

bp = Blueprint("lms", __name__, url_prefix="/lms")
