"""The staff portal: also used by governors, volunteers and contractors for their own policies.

Head Teacher, DSL and delegated capabilities appear here as extra sections.
"""
from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
