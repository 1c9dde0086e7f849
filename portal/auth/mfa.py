"""Two-step sign-in: authenticator apps (TOTP), passkeys (WebAuthn) and recovery codes.

Required (``PORTAL_MFA_REQUIRED_ROLES``) for every account that can read personal data beyond
its own family: staff, governors, auditors, administrators and trust roles. Parents and pupils
may turn it on. An account that becomes required has ``PORTAL_MFA_GRACE_DAYS`` from its next
sign-in to set it up; after that it can open nothing but the Security page until it does. An
administrator can reset it (audited; the holder is emailed and must set it up again at once).

Operations flush and audit (account security events go to the installation's audit chain, with
the account's id); views commit.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlsplit

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, request
from flask import session as flask_session
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import delete, func, select, update

from portal import audit
from portal.auth.models import PasskeyFactor, RecoveryCode, TotpFactor
from portal.db import rowcount, session, utcnow
from portal.people.models import Account, Person, PersonRole
from portal.schools.isolation import all_schools, current_school_id
from portal.schools.models import TrustMembership

RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_CHALLENGE_KEY = "portal_webauthn"
#: Seconds a WebAuthn challenge (and a half-finished sign-in) stays valid.
CHALLENGE_SECONDS = 300


class MfaError(ValueError):
    """A second-factor step that failed; the message is safe to show."""


# ------------------------------------------------------------------ who needs it


def account_roles(account: Account) -> set[str]:
    """Every role the account holds in any school, plus ``trust`` for a trust role."""
    with all_schools(session):  # an account's places span schools: that is the question asked
        roles = set(session.scalars(
            select(PersonRole.role).join(Person, Person.id == PersonRole.person_id)
            .where(Person.account_id == account.id, Person.active)))
    if session.scalar(select(TrustMembership.id).where(TrustMembership.account_id == account.id).limit(1)):
        roles.add("trust")
    return roles


def required(account: Account) -> bool:
    wanted = set(current_app.config["PORTAL_MFA_REQUIRED_ROLES"] or ())
    return bool(account_roles(account) & wanted)


def methods(account: Account) -> dict[str, Any]:
    totp = session.scalar(select(TotpFactor).where(TotpFactor.account_id == account.id))
    passkeys = list(session.scalars(select(PasskeyFactor).where(PasskeyFactor.account_id == account.id)
                                    .order_by(PasskeyFactor.created_at, PasskeyFactor.id)))
    codes_left = session.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))) or 0
    return {"totp": totp, "passkeys": passkeys, "recovery_left": codes_left}


def enrolled(account: Account) -> bool:
    if session.scalar(select(TotpFactor.id).where(TotpFactor.account_id == account.id)) is not None:
        return True
    return session.scalar(select(PasskeyFactor.id).where(PasskeyFactor.account_id == account.id).limit(1)) is not None


def grace_ends(account: Account) -> dt.datetime | None:
    if account.mfa_required_since is None:
        return None
    return account.mfa_required_since + dt.timedelta(days=int(current_app.config["PORTAL_MFA_GRACE_DAYS"]))


def note_requirement(account: Account) -> None:
    """At sign-in: start the grace period of an account that needs two-step sign-in and has none."""
    if account.mfa_required_since is None and required(account) and not enrolled(account):
        account.mfa_required_since = utcnow()
        session.flush()
        audit.record("auth.mfa_required", school=None, account_id=account.id,
                     grace_days=int(current_app.config["PORTAL_MFA_GRACE_DAYS"]))


def overdue(account: Account) -> bool:
    """Required, not set up, and the grace period is over."""
    ends = grace_ends(account)
    if ends is None or utcnow() < ends:
        return False
    return required(account) and not enrolled(account)


# ------------------------------------------------------------------ authenticator apps (TOTP)


def _aead() -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"portal-mfa-totp", info=b"totp secret").derive(
        str(current_app.secret_key).encode())
    return AESGCM(key)


def _encrypt(secret: str, purpose: bytes = b"totp") -> str:
    nonce = secrets.token_bytes(12)
    return base64.urlsafe_b64encode(nonce + _aead().encrypt(nonce, secret.encode(), purpose)).decode()


def _decrypt(blob: str, purpose: bytes = b"totp") -> str:
    raw = base64.urlsafe_b64decode(blob.encode())
    return _aead().decrypt(raw[:12], raw[12:], purpose).decode()


def seal_pending(secret: str) -> str:
    """An authenticator secret being set up, encrypted for the session cookie: Flask signs that cookie but
    does not encrypt it, and a copy of it (a backup, a shared computer) must not give away the second factor."""
    return _encrypt(secret, b"totp setup")


def open_pending(blob: object) -> str | None:
    """The secret :func:`seal_pending` made, or None (absent, altered, or sealed with another key)."""
    if not isinstance(blob, str):
        return None
    try:
        return _decrypt(blob, b"totp setup")
    except (ValueError, InvalidTag):
        return None


def new_totp_secret() -> str:
    return pyotp.random_base32()


def issuer() -> str:
    from portal.schools.models import School

    school = School.get() if current_school_id(session) is not None else None
    return (school.name if school is not None else current_app.config["PORTAL_PRODUCT_NAME"])[:60]


def provisioning_uri(secret: str, account: Account) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account.email or f"account-{account.id}", issuer_name=issuer())


def qr_svg(uri: str) -> Markup:
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return Markup(svg)  # noqa: S704 - made by segno from our own otpauth URI


def _clean_code(code: str) -> str:
    return "".join(ch for ch in (code or "") if ch.isdigit())


def _totp_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step *code* belongs to (this one, or one either side), else ``None``."""
    totp = pyotp.TOTP(secret)
    code = _clean_code(code)
    if len(code) != 6:
        return None
    step = int(now.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.at(candidate * totp.interval), code):
            return candidate
    return None


def add_totp(account: Account, secret: str, code: str) -> TotpFactor:
    """Save an authenticator app after checking a code it shows.

    :raises MfaError: when the code is wrong or the account already has one.
    """
    step = _totp_step(secret, code, utcnow())
    if step is None:
        raise MfaError(_("That code is not right. Check the time on your phone and type the newest code."))
    if session.scalar(select(TotpFactor.id).where(TotpFactor.account_id == account.id)) is not None:
        raise MfaError(_("An authenticator app is already set up. Remove it first to add another."))
    factor = TotpFactor(account_id=account.id, secret_encrypted=_encrypt(secret), last_step=step)
    session.add(factor)
    session.flush()
    _changed(account, "auth.mfa_added", method="totp")
    return factor


def check_totp(account: Account, code: str) -> bool:
    """True for a right code not used before (compare-and-set on the last step used)."""
    factor = session.scalar(select(TotpFactor).where(TotpFactor.account_id == account.id))
    if factor is None:
        return False
    step = _totp_step(_decrypt(factor.secret_encrypted), code, utcnow())
    if step is None:
        return False
    return bool(rowcount(session.execute(
        update(TotpFactor).where(TotpFactor.id == factor.id, TotpFactor.last_step < step)
        .values(last_step=step).execution_options(synchronize_session=False))))


def remove_totp(account: Account) -> bool:
    n = rowcount(session.execute(delete(TotpFactor).where(TotpFactor.account_id == account.id)
                                 .execution_options(synchronize_session=False)))
    if n:
        _changed(account, "auth.mfa_removed", method="totp")
    return bool(n)


# ------------------------------------------------------------------ recovery codes


def _code_hash(code: str) -> str:
    normal = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    return hmac.new(str(current_app.secret_key).encode(), b"recovery:" + normal.encode(), hashlib.sha256).hexdigest()


def new_recovery_codes(account: Account) -> list[str]:
    """Replace the account's recovery codes with ten new ones (shown once, stored hashed)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id)
                    .execution_options(synchronize_session=False))
    codes = []
    for _n in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _i in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    session.add_all([RecoveryCode(account_id=account.id, code_hash=_code_hash(c)) for c in codes])
    session.flush()
    audit.record("auth.recovery_codes_made", school=None, account_id=account.id, count=len(codes))
    return codes


def use_recovery_code(account: Account, code: str) -> bool:
    """Spend one recovery code (compare-and-set: a code works once, even twice at the same moment)."""
    if not 6 <= len(code or "") <= 40:
        return False
    done = rowcount(session.execute(
        update(RecoveryCode).where(RecoveryCode.account_id == account.id, RecoveryCode.code_hash == _code_hash(code),
                                   RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)))
    if done:
        left = session.scalar(select(func.count(RecoveryCode.id)).where(
            RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None)))
        audit.record("auth.recovery_code_used", school=None, account_id=account.id, left=left)
    return bool(done)


# ------------------------------------------------------------------ passkeys (WebAuthn)


def _public_parts():
    """The portal's own address (``PORTAL_PUBLIC_URL``), split, or None when it is not set."""
    public = current_app.config.get("PORTAL_PUBLIC_URL")
    return urlsplit(public) if public else None


def rp_id() -> str:
    """The passkeys' site: ``PORTAL_WEBAUTHN_RP_ID``, else the host of ``PORTAL_PUBLIC_URL``, else (a development
    server with neither) the request's host. Probe note: the Host header is the sender's to choose."""
    configured = current_app.config.get("PORTAL_WEBAUTHN_RP_ID")
    if configured:
        return str(configured)
    public = _public_parts()
    if public is not None and public.hostname:
        return public.hostname
    return request.host.rsplit(":", 1)[0] if request.host else "localhost"


def expected_origin() -> str:
    configured = current_app.config.get("PORTAL_WEBAUTHN_ORIGIN")
    if configured:
        return str(configured)
    public = _public_parts()
    parts = public if public is not None and public.netloc else urlsplit(request.host_url)
    return f"{parts.scheme}://{parts.netloc}"


def _remember_challenge(purpose: str, challenge: bytes, account_id: int) -> None:
    flask_session[_CHALLENGE_KEY] = {"p": purpose, "c": base64.urlsafe_b64encode(challenge).decode(),
                                     "a": account_id, "t": int(utcnow().timestamp())}


def _take_challenge(purpose: str, account_id: int) -> bytes:
    data = flask_session.pop(_CHALLENGE_KEY, None)
    if not isinstance(data, dict) or data.get("p") != purpose or data.get("a") != account_id:
        raise MfaError(_("This step has expired. Try again."))
    if int(utcnow().timestamp()) - int(data.get("t", 0)) > CHALLENGE_SECONDS:
        raise MfaError(_("This step has expired. Try again."))
    return base64.urlsafe_b64decode(data["c"].encode())


def _descriptors(account: Account) -> list[Any]:
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    out = []
    for pk in session.scalars(select(PasskeyFactor).where(PasskeyFactor.account_id == account.id)):
        transports = []
        for t in (pk.transports or "").split(","):
            try:
                transports.append(AuthenticatorTransport(t))
            except ValueError:
                continue
        out.append(PublicKeyCredentialDescriptor(id=base64url_to_bytes(pk.credential_id),
                                                 transports=transports or None))
    return out


def registration_options(account: Account) -> str:
    """JSON options for ``navigator.credentials.create`` (the challenge is kept in the session)."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    options = generate_registration_options(
        rp_id=rp_id(), rp_name=issuer(), user_id=f"portal-account-{account.id}".encode(),
        user_name=account.email or f"account-{account.id}", user_display_name=account.full_name,
        exclude_credentials=_descriptors(account),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED),
    )
    _remember_challenge("register", options.challenge, account.id)
    return options_to_json(options)


def add_passkey(account: Account, credential: dict, name: str) -> PasskeyFactor:
    """Check the browser's answer to :func:`registration_options` and save the passkey.

    :raises MfaError: when it does not verify.
    """
    from webauthn import verify_registration_response
    from webauthn.helpers import bytes_to_base64url
    from webauthn.helpers.exceptions import InvalidRegistrationResponse

    challenge = _take_challenge("register", account.id)
    try:
        verified = verify_registration_response(credential=credential, expected_challenge=challenge,
                                                expected_rp_id=rp_id(), expected_origin=expected_origin())
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise MfaError(_("The passkey could not be checked. Try again.")) from exc
    cred_id = bytes_to_base64url(verified.credential_id)
    if session.scalar(select(PasskeyFactor.id).where(PasskeyFactor.credential_id == cred_id)) is not None:
        raise MfaError(_("This passkey is already registered."))
    transports = credential.get("response", {}).get("transports") or []
    factor = PasskeyFactor(account_id=account.id, credential_id=cred_id, public_key=verified.credential_public_key,
                           sign_count=verified.sign_count, name=name[:60],
                           transports=",".join(str(t) for t in transports if isinstance(t, str))[:100])
    session.add(factor)
    session.flush()
    _changed(account, "auth.mfa_added", method="passkey", passkey_id=factor.id)
    return factor


def authentication_options(account: Account) -> str:
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    options = generate_authentication_options(rp_id=rp_id(), allow_credentials=_descriptors(account),
                                              user_verification=UserVerificationRequirement.PREFERRED)
    _remember_challenge("sign-in", options.challenge, account.id)
    return options_to_json(options)


def check_passkey(account: Account, credential: dict) -> bool:
    """True when the browser's answer to :func:`authentication_options` verifies for one of the
    account's passkeys (the signature counter must move forward when the authenticator keeps one)."""
    from webauthn import verify_authentication_response
    from webauthn.helpers.exceptions import InvalidAuthenticationResponse

    try:
        challenge = _take_challenge("sign-in", account.id)
    except MfaError:
        return False
    cred_id = credential.get("id") if isinstance(credential, dict) else None
    if not isinstance(cred_id, str):
        return False
    factor = session.scalar(select(PasskeyFactor).where(PasskeyFactor.account_id == account.id,
                                                        PasskeyFactor.credential_id == cred_id))
    if factor is None:
        return False
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id(),
            expected_origin=expected_origin(), credential_public_key=factor.public_key,
            credential_current_sign_count=factor.sign_count)
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError):
        return False
    done = rowcount(session.execute(
        update(PasskeyFactor).where(PasskeyFactor.id == factor.id, PasskeyFactor.sign_count == factor.sign_count)
        .values(sign_count=verified.new_sign_count, last_used_at=utcnow())
        .execution_options(synchronize_session=False)))
    return bool(done)


def remove_passkey(account: Account, passkey_id: int) -> bool:
    n = rowcount(session.execute(delete(PasskeyFactor).where(PasskeyFactor.account_id == account.id,
                                                             PasskeyFactor.id == passkey_id)
                                 .execution_options(synchronize_session=False)))
    if n:
        _changed(account, "auth.mfa_removed", method="passkey", passkey_id=passkey_id)
    return bool(n)


# ------------------------------------------------------------------ changes and resets


def _changed(account: Account, action: str, **data: Any) -> None:
    """A second factor was added or removed: audit it and end the account's other sessions (a
    session that began without the factor should not outlive the change)."""
    from portal.auth import sessions

    audit.record(action, school=None, account_id=account.id, **data)
    current = sessions.current()
    sessions.end_all(account.id, "mfa_changed", except_id=current.id if current is not None else None)
    if not enrolled(account):
        session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id)
                        .execution_options(synchronize_session=False))


def reset(account: Account, *, by: Person | None) -> None:
    """An administrator clears every second factor of *account* (they lost their phone): the
    holder must set up again at their next sign-in. Audited in the administrator's school (by the
    installation's operator, ``by=None``: in the installation's chain)."""
    from portal.auth import sessions

    for model in (TotpFactor, PasskeyFactor, RecoveryCode):
        session.execute(delete(model).where(model.account_id == account.id)
                        .execution_options(synchronize_session=False))
    grace = dt.timedelta(days=int(current_app.config["PORTAL_MFA_GRACE_DAYS"]))
    account.mfa_required_since = utcnow() - grace  # no grace: set up again at the next sign-in
    session.flush()
    sessions.end_all(account.id, "mfa_reset", actor=by)
    audit.record("auth.mfa_reset", actor=by, target=account, school="current" if by is not None else None,
                 account_id=account.id)


def describe_credential(data: str) -> dict:
    """Parse the JSON a page posts (a PublicKeyCredential's ``toJSON()``)."""
    try:
        value = json.loads(data)
    except (TypeError, ValueError):
        raise MfaError(_("The passkey answer could not be read. Try again.")) from None
    if not isinstance(value, dict):
        raise MfaError(_("The passkey answer could not be read. Try again."))
    return value
