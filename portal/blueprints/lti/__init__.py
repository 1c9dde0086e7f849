"""LTI 1.3 endpoints the LMS calls: OIDC login, launch, JWKS, deep-linking return.

This blueprint alone is exempt from CSRF tokens: its POSTs come from the LMS and are
authenticated by signed JWTs (launch) or a signed single-use token (deep-link choice).
"""

from flask import Blueprint

bp = Blueprint("lti", __name__, url_prefix="/lti")


@bp.record_once
def _setup(state) -> None:
    from portal.lti.setup import init_lti

    init_lti(state.app, bp)
