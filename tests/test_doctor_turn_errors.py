"""`quibble doctor` against a real coturn: the TURN error a user sees, and its exit status.

coturn answers wrong and expired credentials with the same 401; the doctor tells them apart
by the expiry in the REST username and says what to do about each.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from peer import exit_codes
from tests.net.turn_server import TURN_IP, netns_coturn
from turn.coturn import CoturnProcess, find_turnserver
from turn.credentials import issue_credential

pytestmark = [
    pytest.mark.net,
    pytest.mark.skipif(find_turnserver() is None, reason="coturn is not installed"),
]

SECRET = "doctor-errors-secret-0123"


@pytest.fixture(scope="module")
def coturn() -> Iterator[CoturnProcess]:
    with netns_coturn(SECRET) as server:
        yield server


def doctor(*args: str) -> tuple[int, dict[str, Any], str]:
    """`quibble doctor` twice: (exit status, the --json document, the human report)."""
    base = [sys.executable, "-m", "peer", "doctor", "--no-e2e", "--timeout", "2", *args]
    as_json = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=60)
    human = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert human.returncode == as_json.returncode, human.stderr
    return as_json.returncode, json.loads(as_json.stdout), human.stdout


def turn_url(coturn: CoturnProcess) -> str:
    return f"turn:{TURN_IP}:{coturn.options.port}?transport=udp"


def test_expired_credentials_are_named_as_expired(coturn: CoturnProcess) -> None:
    cred = issue_credential(SECRET, "old-player", time.time() - 7200, ttl=3600)
    code, doc, text = doctor("--turn", turn_url(coturn), "--turn-user", cred.username,
                             "--turn-pass", cred.password)
    assert code == exit_codes.NEEDS_RELAY
    [turn] = doc["turn"]
    assert turn["outcome"] == "expired_credentials" and turn["error_code"] == 401
    assert doc["verdict"]["code"] == "relay_failing"
    assert "expired" in doc["verdict"]["summary"]
    assert any("have expired" in line for line in doc["verdict"]["remediation"])
    assert "FAILED (expired_credentials)" in text
    assert "the TURN credentials expired at" in text


def test_wrong_secret_is_named_as_wrong_credentials(coturn: CoturnProcess) -> None:
    code, doc, text = doctor("--turn", turn_url(coturn), "--turn-secret", "not-the-secret-0123")
    assert code == exit_codes.NEEDS_RELAY
    [turn] = doc["turn"]
    assert turn["outcome"] == "wrong_credentials" and turn["error_code"] == 401
    assert "expired" not in turn["message"]
    assert any("static-auth-secret" in line for line in doc["verdict"]["remediation"])
    assert "FAILED (wrong_credentials)" in text


def test_the_right_secret_allocates_and_exits_0(coturn: CoturnProcess) -> None:
    code, doc, text = doctor("--turn", turn_url(coturn), "--turn-secret", SECRET)
    assert code == exit_codes.OK, doc["verdict"]
    [turn] = doc["turn"]
    assert turn["ok"] and turn["relayed_address"].startswith(f"{TURN_IP}:")
    assert doc["verdict"]["code"] == "relay"
    assert "Verdict: relay  (exit 0)" in text
