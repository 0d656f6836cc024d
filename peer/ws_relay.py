"""The last-resort transport: game frames through the signaling WebSocket (``relay`` messages).

Used when ICE does not connect in time. The signaling server routes frames by seat and
caps their byte rate per room; the host and the player see just another Transport.
"""

from __future__ import annotations

from peer.signal_client import SignalingClient
from peer.transport import Path, Transport
from signaling import protocol as sp


class WsRelayTransport(Transport):
    """Frames to one peer as signaling ``relay`` messages (``seat`` set on the host side)."""

    path: Path = "ws-relay"

    def __init__(self, client: SignalingClient, seat: int | None) -> None:
        super().__init__()
        self.client = client
        self.seat = seat

    def deliver(self, data: str) -> None:
        """Hand over a relay frame the signaling socket received for this transport."""
        self._deliver(data)

    def _send(self, text: str) -> None:
        if self.client.closed:
            self._mark_closed("signaling closed")
            return
        self.client.send(sp.Relay(data=text, seat=self.seat))

    async def _close(self) -> None:
        # The signaling socket is shared (the host's serves every seat): leave it open.
        return
