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
    #: Wrong passwords (or second-step codes) per account within the window before each further
    #: attempt must wait: PORTAL_LOGIN_DELAY_SECONDS, doubling up to PORTAL_LOGIN_MAX_DELAY_SECONDS.
    #: Never a lock-out: a device the account has signed in on before is not slowed down, and the
    #: holder is emailed when the delays start.
    "PORTAL_LOGIN_FREE_ATTEMPTS": 3,
    "PORTAL_LOGIN_DELAY_SECONDS": 2,
    "PORTAL_LOGIN_MAX_DELAY_SECONDS": 300,
    #: Failed sign-ins allowed per client address within the window (whatever the accounts).
    "PORTAL_LOGIN_ADDRESS_MAX_ATTEMPTS": 30,
    #: Failed sign-ins to one account allowed from a device it signed in on before, within the window; after
    #: that the device is treated as new (the account's delays and the address's budget apply to it again).
    "PORTAL_LOGIN_DEVICE_MAX_ATTEMPTS": 10,
    "PORTAL_LOGIN_WINDOW_SECONDS": 15 * 60,
    #: Password-reset emails one address (or one client) may ask for within the window.
    "PORTAL_RESET_MAX_REQUESTS": 5,
    #: Sessions end after this many seconds without a request, and in any case this long after
    #: signing in; with "keep me signed in", PORTAL_REMEMBER_SECONDS instead of both.
    "PORTAL_SESSION_IDLE_SECONDS": 2 * 3600,
    "PORTAL_SESSION_MAX_SECONDS": 12 * 3600,
    "PORTAL_REMEMBER_SECONDS": 14 * 24 * 3600,
    #: Roles whose accounts must use two-step sign-in (any school's person holding one; "trust"
    #: means any trust role). Others (parents, pupils) may turn it on.
    "PORTAL_MFA_REQUIRED_ROLES": ["teacher", "support_staff", "governor", "auditor", "admin", "trust"],
    #: Days an account has to set up two-step sign-in once it becomes required.
    "PORTAL_MFA_GRACE_DAYS": 14,
    #: WebAuthn relying party id (the site's domain) and origin; by default the request's host.
    "PORTAL_WEBAUTHN_RP_ID": None,
    "PORTAL_WEBAUTHN_ORIGIN": None,
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
    #: Where sealed PDFs are kept instead of the folder: ``s3://bucket/prefix`` (S3-compatible object
    #: storage through boto3, with the PORTAL_S3_* keys below) or an ``ArchiveStore`` instance.
    "PORTAL_ARCHIVE_STORE": None,
    #: S3-compatible archive: endpoint (empty for AWS itself), region and credentials (empty: boto3's
    #: own chain, e.g. an instance role or AWS_* environment variables).
    "PORTAL_S3_ENDPOINT_URL": None,
    "PORTAL_S3_REGION": "eu-west-2",
    "PORTAL_S3_ACCESS_KEY_ID": None,
    "PORTAL_S3_SECRET_ACCESS_KEY": None,
    #: Days each sealed PDF is locked against deletion (S3 Object Lock, compliance mode) where the
    #: bucket has Object Lock on; 0 = no retention date is set.
    "PORTAL_S3_OBJECT_LOCK_DAYS": 0,
    #: Seconds to wait for the object store (connect and read).
    "PORTAL_S3_TIMEOUT": 10,
    #: Largest PDF accepted on the auditor's verification page (bytes).
    "PORTAL_RECORDS_MAX_VERIFY_BYTES": 10 * 1024 * 1024,
    #: The portal's public address (e.g. ``https://portal.school.example``, with any path the host mounts
    #: the app under). Printed in sealed PDFs (verification link and QR code), receipts and in every
    #: certificate (the CRL address), so it must stay the same for as long as records are kept.
    #: Also the address of every link in an email. Unset: ``SERVER_NAME``; never the request's Host header.
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
    #: ...and for a concern that says a child may be at risk: by the end of the next school day.
    "PORTAL_CONCERN_AT_RISK_ACK_DAYS": 1,
    #: School days after a concern is closed during which the parent may still take it further.
    "PORTAL_CONCERN_CLOSED_ESCALATION_DAYS": 20,
    "PORTAL_CONCERN_RESPONSE_DAYS": 15,
    #: Private concerns: attachments allowed per concern, and the largest one (bytes).
    "PORTAL_CONCERN_MAX_FILES": 3,
    "PORTAL_CONCERN_MAX_FILE_BYTES": 10 * 1024 * 1024,
    #: Folder holding the key and certificate made by `flask portal keys init`.
    "PORTAL_KEYS_DIR": "keys",
    #: Minutes a classroom join code works after the teacher starts a session.
    "PORTAL_CLASSROOM_CODE_MINUTES": 60,
    #: Wrong classroom join codes allowed per device (its ``portal_device`` cookie) within the
    #: window, and in all per client address (a school's devices often share one address; devices
    #: that have joined a session before have an address budget of their own, so a guesser without
    #: one cannot lock them out).
    "PORTAL_CLASSROOM_JOIN_MAX_ATTEMPTS": 5,
    "PORTAL_CLASSROOM_JOIN_ADDRESS_MAX_ATTEMPTS": 100,
    "PORTAL_CLASSROOM_JOIN_WINDOW_SECONDS": 10 * 60,
    #: Incidents: how many "does an approved family link cover this pair?" checks a holder of
    #: links.view may make in the window (each is audited; other recorders are told after saving).
    "PORTAL_LINK_CHECK_MAX": 60,
    "PORTAL_LINK_CHECK_WINDOW_SECONDS": 10 * 60,
    #: Set the portal up with its own Flask-Login manager when the host has none.
    "PORTAL_MANAGE_LOGIN": True,
    #: LTI 1.3: serve pages inside an LMS iframe. Session cookies become SameSite=None; Secure;
    #: Partitioned (HTTPS only) and frame-ancestors allows the registered LMS origins. See docs/lti.md.
    "PORTAL_LTI_IFRAME_COOKIES": False,
    #: LTI 1.3: seconds before a call to the LMS (keys, tokens, scores, members) gives up.
    "PORTAL_LTI_HTTP_TIMEOUT": 10,
    #: Seconds after typing the password (at sign-in, or on "Confirm your password") during which an account
    #: may add an authenticator app or a passkey, or make new recovery codes, without typing it again.
    "PORTAL_REAUTH_SECONDS": 600,
    #: LTI 1.3: private networks (e.g. ``["10.0.0.0/8"]``, or ``10.0.0.0/8,192.168.1.0/24`` in the
    #: environment) where an LMS may be; the portal calls no other private, local or link-local address
    #: for an LMS (portal/lti/outbound.py), and plain http only there.
    "PORTAL_LTI_PRIVATE_NETWORKS": [],
    #: OneRoster import: largest zip or CSV file accepted, and largest total after unzipping (bytes).
    "PORTAL_MAX_ONEROSTER_BYTES": 20 * 1024 * 1024,
    "PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES": 100 * 1024 * 1024,
    #: Background jobs (Huey). The broker: ``sqlite:///PATH`` (default: ``portal-jobs.sqlite`` in the
    #: app's instance folder, no service to run) or ``redis://HOST:PORT/DB`` for several hosts.
    "PORTAL_JOBS_URL": None,
    #: Name of the queue in the broker (installations sharing one Redis need different names).
    "PORTAL_JOBS_NAME": "countersign",
    #: True: run each job at once where it is queued, in the web process (tests and tiny demos only).
    "PORTAL_JOBS_IMMEDIATE": False,
    #: Worker threads of `flask portal jobs worker`.
    "PORTAL_JOBS_WORKERS": 2,
    #: Seconds before a failed job's first retry; each later retry waits PORTAL_JOBS_RETRY_BACKOFF times longer.
    "PORTAL_JOBS_RETRY_DELAY": 60,
    "PORTAL_JOBS_RETRY_BACKOFF": 2.0,
    #: The sweep queues again a record still pending this many seconds after it was last queued
    #: (a job lost with a crashed broker or worker); never-queued records are queued at once.
    "PORTAL_JOBS_REQUEUE_AFTER": 3600,
    #: Automatic reminders to sign (school defaults; each school can change them in its settings):
    #: the first after this many school days, then every PORTAL_REMINDER_EVERY_DAYS school days, at most
    #: PORTAL_REMINDER_MAX in all. Nothing is sent on a weekend, bank holiday or school closure.
    "PORTAL_REMINDER_FIRST_DAYS": 5,
    "PORTAL_REMINDER_EVERY_DAYS": 5,
    "PORTAL_REMINDER_MAX": 3,
    #: Overdue concerns: the handler is emailed when a target is missed; after this many further
    #: school days the Head Teacher (or, for concerns the Head may not see, the chair) is emailed too.
    "PORTAL_CONCERN_ESCALATE_DAYS": 3,
    #: Number of trusted reverse proxies in front of the app (Werkzeug ProxyFix: X-Forwarded-For,
    #: -Proto and -Host); 0 trusts none. Sign-in limits then count the client's own address.
    "PORTAL_PROXY_FIX": 0,
}
