"""The portal's front door: send each person to their own portal."""
from __future__ import annotations

from flask import redirect, render_template, url_for

from portal.security import access
from portal.templating import portal_nav


@access()
def home():
    """One portal: go straight there. Several (a teacher who is also a parent): choose."""
    items = portal_nav()
    if len(items) == 1:
        return redirect(url_for(items[0][1]))
    return render_template("portal/home.html", items=items)
