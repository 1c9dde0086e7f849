"""Policies: signing, signing history and consents (everyone); writing and publishing
(``policies.manage``); the compliance dashboard and reminders (``compliance.view``)."""
from flask import Blueprint

bp = Blueprint("policies", __name__, url_prefix="/policies")
