"""TURN REST credentials: the format coturn's use-auth-secret checks, and their expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from turn.credentials import (
    credential_expiry,
    generate_secret,
    is_expired,
    issue_credential,
    rest_password,
    safe_client_id,
)


def test_password_is_base64_hmac_sha1_of_the_username() -> None:
    expected = base64.b64encode(
        hmac.new(b"secret", b"1700000000:alice", hashlib.sha1).digest()
    ).decode()
    assert rest_password("secret", "1700000000:alice") == expected


def test_issued_credential_expires_ttl_seconds_after_now() -> None:
    cred = issue_credential("secret", "alice", now=1_700_000_000.9, ttl=3600)
    assert cred.username == "1700003600:alice"
    assert cred.expires_at == 1_700_003_600
    assert cred.password == rest_password("secret", cred.username)
    assert credential_expiry(cred.username) == cred.expires_at
    assert not is_expired(cred.username, now=1_700_003_599)
    assert is_expired(cred.username, now=1_700_003_600)


def test_different_secrets_give_different_passwords() -> None:
    a = issue_credential("secret-a", "p", now=0, ttl=600)
    b = issue_credential("secret-b", "p", now=0, ttl=600)
    assert a.username == b.username and a.password != b.password


@pytest.mark.parametrize("ttl", [0, 59, 7 * 24 * 3600 + 1])
def test_lifetime_out_of_bounds_is_refused(ttl: int) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        issue_credential("secret", "p", now=0, ttl=ttl)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        issue_credential("", "p", now=0, ttl=600)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [("alice", "alice"), ("a:b c", "a_b_c"), ("", "client"), ("é" * 100, "_" * 64)],
)
def test_client_ids_are_made_safe_for_the_username(raw: str, safe: str) -> None:
    assert safe_client_id(raw) == safe


@pytest.mark.parametrize("username", ["alice", "abc:alice", ":alice", "12a:b"])
def test_non_rest_usernames_have_no_expiry(username: str) -> None:
    assert credential_expiry(username) is None
    assert not is_expired(username, now=10**12)


def test_generated_secrets_are_long_random_and_config_safe() -> None:
    a, b = generate_secret(), generate_secret()
    assert a != b and len(a) >= 40
    assert not any(c.isspace() or c in "\"'#" for c in a)
