"""Expiring TURN credentials: the TURN REST scheme coturn implements as `use-auth-secret`.

The username is ``<expiry unix time>:<client id>`` and the password is
base64(HMAC-SHA1(shared secret, username)). The TURN server recomputes the password from the
same secret, so it needs no user database, and a credential stops working at its expiry.
Only the signaling service (or the host) holds the secret; clients only ever see the pair.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

# Lifetime of an issued credential when nobody says otherwise: longer than any game (coturn
# checks the credential again on every allocation refresh, so it must outlive the game),
# short enough that a leaked one is useless by the next day.
DEFAULT_TTL_SECONDS = 4 * 3600
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 7 * 24 * 3600

# coturn splits the REST username at its separator (":" by default); keeping the client part
# to a plain alphabet keeps it unambiguous in coturn's logs and quota keys.
_CLIENT_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_CLIENT_ID = 64


@dataclass(frozen=True)
class TurnCredential:
    """A username/password pair for one client, valid until ``expires_at`` (unix seconds)."""

    username: str
    password: str
    expires_at: int


def rest_password(secret: str, username: str) -> str:
    """The TURN REST password for ``username``: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def safe_client_id(client_id: str) -> str:
    """``client_id`` reduced to characters safe in a REST username (never empty)."""
    cleaned = _CLIENT_ID_UNSAFE.sub("_", client_id)[:_MAX_CLIENT_ID]
    return cleaned or "client"


def issue_credential(
    secret: str, client_id: str, now: float, ttl: int = DEFAULT_TTL_SECONDS
) -> TurnCredential:
    """A fresh credential for ``client_id`` that expires ``ttl`` seconds after ``now``."""
    if not secret:
        raise ValueError("the TURN shared secret is empty")
    if not MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
        raise ValueError(
            f"TURN credential lifetime {ttl} s is outside {MIN_TTL_SECONDS}..{MAX_TTL_SECONDS} s"
        )
    expires_at = int(now) + ttl
    username = f"{expires_at}:{safe_client_id(client_id)}"
    return TurnCredential(username, rest_password(secret, username), expires_at)


def credential_expiry(username: str) -> int | None:
    """The expiry time in a REST username, or None when it is not a REST username."""
    head, sep, _ = username.partition(":")
    if not sep or not head.isdigit():
        return None
    return int(head)


def is_expired(username: str, now: float) -> bool:
    """True when ``username`` is a REST username whose expiry time has passed at ``now``.

    coturn answers an expired credential with the same 401 as a wrong one, so callers check
    the expiry themselves to tell the two apart.
    """
    expiry = credential_expiry(username)
    return expiry is not None and now >= expiry


def generate_secret() -> str:
    """A new random shared secret (256 bits, URL-safe characters, safe in a coturn file)."""
    return secrets.token_urlsafe(32)
