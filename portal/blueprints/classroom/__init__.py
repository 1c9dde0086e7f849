"""Classroom acknowledgements: the teacher's session screens, the pupil-device screens
(public, gated by the join code) and older pupils' own agreement page."""
from flask import Blueprint

bp = Blueprint("classroom", __name__, url_prefix="/classroom")
