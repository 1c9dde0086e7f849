"""Sign-in's second step and the Security page: every signed-in account, about itself only."""
from __future__ import annotations

from tests.access import ANY_ACCOUNT, Rule, allow

RULES = [
    # With no half-finished sign-in, the second step sends everyone back to sign in.
    Rule("portal.auth.verify", "/portal/auth/verify", {**allow(ANY_ACCOUNT, 302), "anonymous": 302}),
    Rule("portal.auth.verify_passkey_options", "/portal/auth/verify/passkey/options",
         {**allow(ANY_ACCOUNT, 400), "anonymous": 400}, method="POST"),
    Rule("portal.auth.verify_passkey", "/portal/auth/verify/passkey", {**allow(ANY_ACCOUNT, 302), "anonymous": 302},
         method="POST"),
    # Anyone may choose the language of the pages (a visitor's choice is kept in the session).
    Rule("portal.auth.language", "/portal/auth/language", {**allow(ANY_ACCOUNT, 303), "anonymous": 303},
         method="POST"),
    Rule("portal.auth.security", "/portal/auth/security", allow(ANY_ACCOUNT)),
    # Nobody can end a session that is not theirs (this id is nobody's).
    Rule("portal.auth.end_session", "/portal/auth/security/sessions/999999/end", {}, method="POST"),
    Rule("portal.auth.end_other_sessions", "/portal/auth/security/sessions/end-others", allow(ANY_ACCOUNT, 302),
         method="POST"),
    Rule("portal.auth.end_all_sessions", "/portal/auth/security/sessions/end-all", allow(ANY_ACCOUNT, 302),
         method="POST"),
    Rule("portal.auth.confirm_password", "/portal/auth/security/confirm", allow(ANY_ACCOUNT)),
    Rule("portal.auth.totp_setup", "/portal/auth/security/app", allow(ANY_ACCOUNT)),
    Rule("portal.auth.totp_remove", "/portal/auth/security/app/remove", allow(ANY_ACCOUNT, 303), method="POST"),
    Rule("portal.auth.recovery_codes", "/portal/auth/security/recovery-codes", allow(ANY_ACCOUNT, 302),
         method="POST"),
    Rule("portal.auth.passkey_options", "/portal/auth/security/passkeys/options", allow(ANY_ACCOUNT),
         method="POST"),
    Rule("portal.auth.passkey_add", "/portal/auth/security/passkeys", allow(ANY_ACCOUNT, 303), method="POST"),
    # Without the password nothing is removed (and this passkey is nobody's).
    Rule("portal.auth.passkey_remove", "/portal/auth/security/passkeys/999999/remove", allow(ANY_ACCOUNT, 303),
         method="POST"),
]
