"""Signals between areas (blinker, as Flask uses).

``signature_committed`` is sent *after* a signature row has been committed, with
``sender=app`` and ``signature=<Signature>``. Receivers (sealed PDF records, LMS grade
passback) run their own transactions and must never undo the signature.
"""
from blinker import Namespace

_signals = Namespace()

signature_committed = _signals.signal("signature-committed")
