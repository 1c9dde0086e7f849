"""Signals between areas (blinker, as Flask uses).

``signature_committed`` is sent *after* a signature row has been committed, with
``sender=app`` and ``signature=<Signature>``. Receivers (sealed PDF records, LMS grade
passback) run their own transactions and must never undo the signature. Send it with
:func:`announce_signature`, which calls every receiver and logs (never raises) their errors,
so a failing receiver cannot turn a recorded signature into an error page.

``signatures_committed`` is the same for many signatures committed at once (a classroom
session closing), with ``signatures=[...]``; :func:`announce_signatures` sends it. A receiver
of the single signal that also handles the batch one says so with :func:`handles_batches`;
every other receiver of ``signature_committed`` is called once per signature.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from blinker import Namespace
from flask import current_app

log = logging.getLogger("portal.signals")

_signals = Namespace()

signature_committed = _signals.signal("signature-committed")
signatures_committed = _signals.signal("signatures-committed")


def handles_batches(receiver: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a ``signature_committed`` receiver whose area also receives ``signatures_committed``."""
    receiver._portal_batched = True  # type: ignore[attr-defined]
    return receiver

#: Sent by writers that go around the session (bulk imports) inside their transaction, with
#: ``school_ids=[...]`` and ``conn=<Connection>``: the data of those schools changed. The
#: compliance counts (``portal.policies.compliance``) are recounted on next view.
bulk_data_changed = _signals.signal("bulk-data-changed")


def announce_signature(signature: Any) -> None:
    """Tell every receiver that *signature* has been committed."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy, typed as Flask
    for receiver in list(signature_committed.receivers_for(app)):
        _call(receiver, app, signature=signature)


def announce_signatures(signatures: Sequence[Any]) -> None:
    """Tell every receiver that all of *signatures* have been committed (one transaction)."""
    if len(signatures) <= 1:
        for sig in signatures:
            announce_signature(sig)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy, typed as Flask
    for receiver in list(signatures_committed.receivers_for(app)):
        _call(receiver, app, signatures=list(signatures))
    for receiver in list(signature_committed.receivers_for(app)):
        if not getattr(receiver, "_portal_batched", False):
            for sig in signatures:
                _call(receiver, app, signature=sig)


def _call(receiver: Callable[..., Any], app: Any, **kwargs: Any) -> None:
    try:
        receiver(app, **kwargs)
    except Exception:  # noqa: BLE001 - the signature is already safe; log and carry on
        if "signature" in kwargs:
            log.exception("a receiver of signature_committed failed for signature %s",
                          getattr(kwargs["signature"], "id", "?"))
        else:
            log.exception("a receiver of signatures_committed failed for %s signatures", len(kwargs["signatures"]))
