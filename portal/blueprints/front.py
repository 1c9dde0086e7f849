"""The portal's front door: send each person to their own portal."""
from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user

from portal.security import access
from portal.templating import portal_nav


@access(account=True)
def home():
    """One main portal: go straight there. Several (a teacher who is also a parent): choose.

    Records, Admin and Trust are tools reached from the staff portal, so they only count as a
    main portal for someone who has no other (an auditor, an IT administrator, a trust role).
    Someone signed in outside any school (a trust role only) goes to the trust pages.
    """
    if getattr(current_user, "is_account", False):
        return redirect(url_for("portal.trust.index"))
    items = portal_nav()
    main = [i for i in items if i[1] not in TOOL_ENDPOINTS] or items
    if len(main) == 1:
        return redirect(url_for(main[0][1]))
    return render_template("portal/home.html", items=main)


TOOL_ENDPOINTS = {"portal.auditor.home", "portal.admin.home", "portal.trust.index"}
