"""Signals between areas (blinker, as Flask uses).

``signature_committed`` is sent *after* a signature row has been committed, with
``sender=app`` and ``signature=<Signature>``. Receivers (sealed PDF records, LMS grade
passback) run their own transactions and must never undo the signature. Send it with
:func:`announce_signature`, which calls every receiver and logs (never raises) their errors,
so a failing receiver cannot turn a recorded signature into an error page.
"""
from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace
from flask import current_app

log = logging.getLogger("portal.signals")

_signals = Namespace()

signature_committed = _signals.signal("signature-committed")

#: Sent by writers that go around the session (bulk imports) inside their transaction, with
#: ``school_ids=[...]`` and ``conn=<Connection>``: the data of those schools changed. The
#: compliance counts (``portal.policies.compliance``) are recounted on next view.
bulk_data_changed = _signals.signal("bulk-data-changed")


def announce_signature(signature: Any) -> None:
    """Tell every receiver that *signature* has been committed."""
    app = current_app._get_current_object()
    for receiver in list(signature_committed.receivers_for(app)):
        try:
            receiver(app, signature=signature)
        except Exception:  # noqa: BLE001 - the signature is already safe; log and carry on
            log.exception("a receiver of signature_committed failed for signature %s", getattr(signature, "id", "?"))
