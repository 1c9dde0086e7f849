from __future__ import annotations

from flask import render_template

from portal.audit import chain_head
from portal.blueprints.auditor import bp
from portal.security import access


@bp.get("/")
@access(capabilities=["records.view"])
def home():
    count, head = chain_head()
    return render_template("portal/auditor/home.html", audit_count=count, audit_head=head)
