"""Family links: adults declare and re-confirm, parents say if an adult is their relative,
the Head Teacher decides, and the register is kept for the Head Teacher and DSL."""
from flask import Blueprint

bp = Blueprint("links", __name__, url_prefix="/links")
