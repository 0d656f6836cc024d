"""The STUN/TURN servers one aiortc peer (the host or a Python player) uses, chosen on purpose.

aiortc keeps only the first STUN and the first TURN URL it is given and drops the rest
silently, so whichever URL an operator happened to list first would win. The choice is made
here instead, by turn.config's rule: TURN over UDP, else TCP, else TLS (``prefer`` first when
given, e.g. what `quibble doctor` found works), no UDP server at all when ``udp_blocked``,
no STUN in relay-only mode.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from turn.config import IceSettings, TurnPath, select_for_aiortc
from turn.ice_servers import IceServer


def aiortc_servers_for(
    ice: IceSettings,
    handed_out: Sequence[IceServer],
    client_id: str,
    *,
    prefer: TurnPath | None = None,
    udp_blocked: bool = False,
    now: float | None = None,
) -> list[IceServer]:
    """At most one STUN and one TURN server for an aiortc peer.

    Locally configured servers (``ice``: flags, env, --config) win; they carry the
    credentials. Without them, the full list the signaling service handed out
    (``handed_out``, the list a browser gets) is cut down by select_for_aiortc.
    ``client_id`` names the peer in freshly issued TURN REST credentials.
    """
    if not ice.is_empty:
        return ice.aiortc_servers(
            client_id,
            time.time() if now is None else now,
            prefer=prefer,
            udp_blocked=udp_blocked,
        )
    return select_for_aiortc(
        handed_out, prefer=prefer, udp_blocked=udp_blocked, relay_only=ice.relay_only
    )


def add_aiortc_choice_arguments(parser: argparse.ArgumentParser) -> None:
    """`--turn-via` and `--udp-blocked`: steer the choice above (host and join)."""
    group = parser.add_argument_group(
        "which server aiortc uses",
        "aiortc uses one STUN and one TURN URL; by default TURN over UDP, else TCP, else TLS. "
        "Follow what `quibble doctor` found on this network.",
    )
    group.add_argument(
        "--turn-via", choices=("udp", "tcp", "tls"), metavar="udp|tcp|tls",
        help="take the TURN URL of this transport when the list offers several",
    )
    group.add_argument(
        "--udp-blocked", action="store_true",
        help="UDP is blocked here: no STUN, TURN over TCP/TLS only (no 5 s gathering stall)",
    )
