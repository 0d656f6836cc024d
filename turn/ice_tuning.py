"""Take aioice's 0.5 s retransmission wait off the join path of relayed connections.

What happens (aioice 0.13, measured in bench/turn.py): the answering peer starts its
connectivity checks as soon as it has answered, before the offerer has the answer. When the
offerer sits behind a TURN relay, those first checks reach the offerer's allocation before
it has a permission for the answerer's address, and coturn drops them. The offerer's own
check then gets through and nominates the pair, but the answerer's pair is still "in
progress" and aioice waits for its retransmission timer (RTO 0.5 s) before completing, so
the connection opens about 0.5 s late.

RFC 8445 section 7.3.1.4 says what to do when a check arrives for an in-progress pair:
cancel that transaction and send a new (triggered) check at once. aioice 0.13 does not, so
install_triggered_check_fix() adds exactly that, once per pair. The retry then follows the
incoming check by one round trip instead of 0.5 s.

turn.config.to_rtc_configuration() calls auto_install(), so every aiortc peer the project builds
gets it; bench/turn.py measures with and without it.
"""

from __future__ import annotations

from typing import Any

import aioice
from aioice import ice, stun

_FLAG = "_quibble_triggered_check_fix"
_PAIR_FLAG = "_quibble_retriggered"
SUPPORTED_AIOICE = ("0.13.",)
_ORIGINAL_CHECK_INCOMING = ice.Connection.check_incoming
_auto = True  # whether auto_install() installs; remove_triggered_check_fix() turns it off


def triggered_check_fix_installed() -> bool:
    """True when install_triggered_check_fix() is in effect."""
    return bool(getattr(ice.Connection, _FLAG, False))


def install_triggered_check_fix() -> bool:
    """Patch aioice's Connection to retrigger in-progress checks (RFC 8445 7.3.1.4).

    Idempotent. Returns False, changing nothing, on an aioice version it was not made for.
    Call it once at start-up in processes that make peer connections.
    """
    global _auto
    _auto = True
    if triggered_check_fix_installed():
        return True
    if not aioice.__version__.startswith(SUPPORTED_AIOICE):
        return False
    original = _ORIGINAL_CHECK_INCOMING

    def check_incoming(
        self: ice.Connection,
        message: stun.Message,
        addr: tuple[str, int],
        protocol: ice.StunProtocol,
    ) -> None:
        original(self, message, addr, protocol)
        _retrigger_in_progress(self, addr, protocol)

    ice.Connection.check_incoming = check_incoming  # type: ignore[method-assign]
    setattr(ice.Connection, _FLAG, True)
    return True


def remove_triggered_check_fix() -> None:
    """Put aioice's own behaviour back, and keep auto_install() from patching it again.

    For measuring aioice as it is (bench/turn.py) and for tests.
    """
    global _auto
    _auto = False
    ice.Connection.check_incoming = _ORIGINAL_CHECK_INCOMING  # type: ignore[method-assign]
    setattr(ice.Connection, _FLAG, False)


def auto_install() -> None:
    """Install the fix unless remove_triggered_check_fix() asked for aioice as it is."""
    if _auto:
        install_triggered_check_fix()


def _retrigger_in_progress(
    connection: ice.Connection, addr: tuple[str, int], protocol: ice.StunProtocol
) -> None:
    pair: Any = None
    for candidate in connection._remote_candidates:
        if candidate._network_host == addr[0] and candidate.port == addr[1]:
            pair = connection._find_pair(protocol, candidate)
            break
    if (
        pair is None
        or pair.state != ice.CandidatePair.State.IN_PROGRESS
        or getattr(pair, _PAIR_FLAG, False)
        or pair.task is None
        or connection._check_list_done
        # A pair being nominated by a second request must not lose that request.
        or pair.component in connection._nominating
    ):
        return
    setattr(pair, _PAIR_FLAG, True)
    # Cancel the transaction that waits for its retransmission, and check again now.
    pair.task.cancel()
    pair.task = None
    connection.check_state(pair, ice.CandidatePair.State.WAITING)
    connection.check_start_task(pair)
