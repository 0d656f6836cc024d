"""The ICE server list handed to a client: one wire shape for signaling, peers and browsers."""

from __future__ import annotations

from typing import Annotated

import msgspec

IceUrl = Annotated[str, msgspec.Meta(min_length=5, max_length=512)]


class IceServer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of RTCConfiguration.iceServers, as browsers and aiortc both take it."""

    urls: Annotated[list[IceUrl], msgspec.Meta(min_length=1, max_length=8)]
    username: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    credential: Annotated[str, msgspec.Meta(max_length=256)] | None = None
