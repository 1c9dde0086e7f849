"""Configuration keys of the portal and their defaults.

Every key starts with ``PORTAL_``. :class:`portal.Portal` applies the defaults with
``setdefault`` so that a host application's own values always win. The README lists them.
"""
from __future__ import annotations

DEFAULTS: dict[str, object] = {
    #: SQLAlchemy URL of the portal's database (SQLite by default, PostgreSQL in production).
    "PORTAL_DATABASE_URI": "sqlite:///portal.db",
    #: Where the portal's blueprints are mounted in the host application.
    "PORTAL_URL_PREFIX": "/portal",
    #: Name shown in the header when no school settings exist yet.
    "PORTAL_PRODUCT_NAME": "Countersign",
    #: "smtp" sends mail through PORTAL_SMTP_HOST; "log" writes a one-line summary to the log.
    "PORTAL_MAIL_BACKEND": "smtp",
    "PORTAL_SMTP_HOST": "127.0.0.1",
    "PORTAL_SMTP_PORT": 25,
    "PORTAL_SMTP_USERNAME": None,
    "PORTAL_SMTP_PASSWORD": None,
    "PORTAL_SMTP_STARTTLS": False,
    "PORTAL_SMTP_TIMEOUT": 10,
    "PORTAL_MAIL_SENDER": "Countersign <no-reply@school.invalid>",
    #: Seconds an invitation link stays valid (default 7 days).
    "PORTAL_INVITE_MAX_AGE": 7 * 24 * 3600,
    #: Seconds a password-reset link stays valid (default 1 hour).
    "PORTAL_RESET_MAX_AGE": 3600,
    #: Failed sign-ins allowed per account and per client address within the window.
    "PORTAL_LOGIN_MAX_ATTEMPTS": 5,
    "PORTAL_LOGIN_WINDOW_SECONDS": 15 * 60,
    #: "default" (argon2id, t=3, m=64 MiB, p=4) or "cheapest" (tests only).
    "PORTAL_ARGON2_PROFILE": "default",
    #: Minimum password length.
    "PORTAL_PASSWORD_MIN_LENGTH": 10,
    #: Largest request body accepted (bytes); larger uploads are refused with a message.
    "PORTAL_MAX_UPLOAD_BYTES": 32 * 1024 * 1024,
    #: Largest roster CSV accepted (bytes).
    "PORTAL_MAX_ROSTER_BYTES": 5 * 1024 * 1024,
    #: Folder of the write-once archive of sealed PDFs.
    "PORTAL_ARCHIVE_DIR": "archive",
    #: An ``portal.records.archive.ArchiveStore`` instance (e.g. S3-compatible) used instead of the folder.
    "PORTAL_ARCHIVE_STORE": None,
    #: True: a new signature only gets a pending record; `flask portal records repair` (run it
    #: from cron or a timer) or opening the record makes the sealed PDF. False: made at once.
    "PORTAL_RECORDS_DEFERRED": False,
    #: Largest PDF accepted on the auditor's verification page (bytes).
    "PORTAL_RECORDS_MAX_VERIFY_BYTES": 10 * 1024 * 1024,
    #: The portal's public address (e.g. ``https://portal.school.example``, with any path the host mounts
    #: the app under). Printed in sealed PDFs (verification link and QR code), receipts and in every
    #: certificate (the CRL address), so it must stay the same for as long as records are kept.
    #: Unset: the request's host, or ``SERVER_NAME``.
    "PORTAL_PUBLIC_URL": None,
    #: RFC 3161 time-stamping authority; when set, seals are PAdES B-LTA instead of B-LT.
    "PORTAL_TSA_URL": None,
    #: HTTP basic-auth credentials for the TSA, if it needs them.
    "PORTAL_TSA_USERNAME": None,
    "PORTAL_TSA_PASSWORD": None,
    #: Seconds before a request to the TSA gives up (the record is then sealed B-LT and queued).
    "PORTAL_TSA_TIMEOUT": 10,
    #: PEM file with the root certificate(s) of the TSA's certificate, when it is not issued by the
    #: portal's own root. Offered for download on the public verification page.
    "PORTAL_TSA_ROOTS": None,
    #: Days a published certificate revocation list (CRL) stays valid. With the root key offline,
    #: run ``flask portal keys crl --root-key FILE`` before it runs out: seals stop when it has.
    "PORTAL_CRL_DAYS": 180,
    #: Years a school sealing certificate made by ``keys init`` / ``keys rotate`` is valid.
    "PORTAL_SEAL_CERT_YEARS": 5,
    #: ``flask portal records retimestamp`` (a scheduled job) adds a document time stamp to records
    #: whose newest time stamp or certificate expires within this many days.
    "PORTAL_RETIMESTAMP_MARGIN_DAYS": 180,
    #: Email the signer a receipt when their record is sealed.
    "PORTAL_RECEIPTS": True,
    #: Largest PDF attached to a receipt (bytes); a larger record is sent as a link instead.
    "PORTAL_RECEIPT_MAX_ATTACHMENT_BYTES": 5 * 1024 * 1024,
    #: Public verification page: checks allowed per client address within the window.
    "PORTAL_VERIFY_MAX_REQUESTS": 30,
    "PORTAL_VERIFY_WINDOW_SECONDS": 10 * 60,
    #: PKCS#12 file with the school's sealing certificate (else the one made by `keys init`).
    "PORTAL_SIGNING_P12": None,
    "PORTAL_SIGNING_P12_PASSWORD": None,
    #: Folder for files people upload (concern attachments go in its ``concerns`` subfolder, with
    #: random names). Keep it outside the web root and back it up with the database.
    "PORTAL_UPLOAD_DIR": "uploads",
    #: Private concerns: school days to acknowledge, and to respond in full (weekends, bank holidays
    #: in England and the school's closures do not count).
    "PORTAL_CONCERN_ACK_DAYS": 5,
    "PORTAL_CONCERN_RESPONSE_DAYS": 15,
    #: Private concerns: attachments allowed per concern, and the largest one (bytes).
    "PORTAL_CONCERN_MAX_FILES": 3,
    "PORTAL_CONCERN_MAX_FILE_BYTES": 10 * 1024 * 1024,
    #: Folder holding the key and certificate made by `flask portal keys init`.
    "PORTAL_KEYS_DIR": "keys",
    #: Minutes a classroom join code works after the teacher starts a session.
    "PORTAL_CLASSROOM_CODE_MINUTES": 60,
    #: Wrong classroom join codes allowed per client address within the window.
    "PORTAL_CLASSROOM_JOIN_MAX_ATTEMPTS": 10,
    "PORTAL_CLASSROOM_JOIN_WINDOW_SECONDS": 10 * 60,
    #: Set the portal up with its own Flask-Login manager when the host has none.
    "PORTAL_MANAGE_LOGIN": True,
    #: LTI 1.3: serve pages inside an LMS iframe. Session cookies become SameSite=None; Secure;
    #: Partitioned (HTTPS only) and frame-ancestors allows the registered LMS origins. See docs/lti.md.
    "PORTAL_LTI_IFRAME_COOKIES": False,
    #: LTI 1.3: seconds before a call to the LMS (keys, tokens, scores, members) gives up.
    "PORTAL_LTI_HTTP_TIMEOUT": 10,
    #: LTI 1.3: attempts at posting a score before the job is marked failed.
    "PORTAL_LTI_SCORE_MAX_ATTEMPTS": 10,
    #: OneRoster import: largest zip or CSV file accepted, and largest total after unzipping (bytes).
    "PORTAL_MAX_ONEROSTER_BYTES": 20 * 1024 * 1024,
    "PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES": 100 * 1024 * 1024,
}
