"""Acceptable-use policies, their versions and consent items.

Entry points for other areas (sealed PDFs, classroom acknowledgements, LTI):

* :func:`portal.policies.queries.version_for_pupil` / ``versions_for_pupil`` - the published
  version(s) that apply to a pupil now (age band, SEND variant).
* :func:`portal.policies.queries.pupil_requirements` - a pupil's AUP requirement(s) with status
  (the parent's countersignature for EYFS/KS1 and KS2, the pupil's own signature from KS3).
* :func:`portal.policies.queries.pupil_acknowledgements` - the pupil's own acknowledgement in any
  band (in class / LMS), extra to a countersignature.
* :func:`portal.policies.queries.signed_text` - the exact text a signature's hash refers to.
* :func:`portal.policies.queries.requirements_for` / ``outstanding_for`` / ``requirement_for`` -
  what a person must sign (own policies and, for parents, countersignatures).
* :func:`portal.policies.queries.current_academic_year`, ``consent_for_pupil``, ``history_for``.
* :func:`portal.policies.rendering.render_version` - the exact HTML shown to signers and its
  SHA-256 (``Signature.text_sha256``).
* :func:`portal.policies.operations.sign` - record a signature (``method=Method.IN_CLASS`` with a
  ``witness``, or ``Method.LTI``); the caller commits, then sends ``signature_committed``.
"""
