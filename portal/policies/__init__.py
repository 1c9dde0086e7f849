"""Acceptable-use policies, their versions and consent items.

Entry points for other areas (sealed PDFs, classroom acknowledgements, LTI):

* :func:`portal.policies.queries.version_for_pupil` / ``versions_for_pupil`` - the published
  version(s) that apply to a pupil now (age band, SEND variant).
* :func:`portal.policies.queries.pupil_requirements` - a pupil's AUP requirement(s) with status.
* :func:`portal.policies.queries.requirements_for` / ``outstanding_for`` / ``requirement_for`` -
  what a person must sign (own policies and, for parents, countersignatures).
* :func:`portal.policies.queries.current_academic_year`, ``consent_for_pupil``, ``history_for``.
* :func:`portal.policies.rendering.render_version` - the exact HTML shown to signers and its
  SHA-256 (``Signature.text_sha256``).
* :func:`portal.policies.operations.sign` - record a signature (``method=Method.IN_CLASS`` with a
  ``witness``, or ``Method.LTI``); the caller commits, then sends ``signature_committed``.
"""
