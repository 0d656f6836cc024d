"""The signaling service's limits and options: safe defaults, overridable from a TOML file.

A config file holds either the keys at top level or a ``[signaling]`` table (so one file can
also configure ``turn``). Unknown keys and wrong types are errors that name the key.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated

import msgspec

from signaling.protocol import DEFAULT_MAX_FRAME_BYTES

Positive = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]


class SignalingSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Every knob of the service. Rates are per second; durations are seconds."""

    bind: str = "0.0.0.0"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    # Frames above this get error{too_large}; above twice this the socket closes (1009).
    max_frame_bytes: Annotated[int, msgspec.Meta(ge=1024, le=DEFAULT_MAX_FRAME_BYTES * 4)] = (
        DEFAULT_MAX_FRAME_BYTES
    )
    max_rooms: Count = 10_000
    max_players_per_room: Count = 100
    max_clients: Count = 20_000
    # A whole party behind one NAT shares an address, hence generous per-IP figures.
    max_sockets_per_ip: Count = 500
    create_rate: Positive = 1.0
    create_burst: Count = 20
    join_rate: Positive = 50.0
    join_burst: Count = 300
    # Failed joins (unknown code, wrong token) per IP: the guessing budget.
    join_failure_rate: Positive = 0.5
    join_failure_burst: Count = 20
    ip_message_rate: Positive = 5000.0
    ip_message_burst: Count = 10_000
    host_message_rate: Positive = 2000.0
    host_message_burst: Count = 4000
    player_message_rate: Positive = 100.0
    player_message_burst: Count = 400
    # Messages dropped for rate before the socket is closed (1008) as a flood.
    flood_strikes: Count = 200
    # Bytes queued for a client that does not read, before it is dropped as too slow.
    max_outbox_bytes: Count = 2 * 1024 * 1024
    relay_bytes_per_second: Positive = 4 * 1024 * 1024
    relay_burst_bytes: Count = 8 * 1024 * 1024
    handshake_timeout: Positive = 10.0
    # Rooms whose host left close after host_grace anyway; this catches silent live hosts.
    idle_timeout: Positive = 3 * 3600.0
    host_grace: Positive = 60.0
    heartbeat: Positive = 20.0
    allowed_origins: list[str] = []
    # Take the client address from the last X-Forwarded-For hop (only behind your own proxy).
    trust_forwarded_for: bool = False
    static_dir: str | None = None
    max_tracked_ips: Count = 10_000
    # Several nodes sharing rooms (`quibble signal --redis URL`); None: this process alone.
    redis_url: str | None = None
    redis_prefix: Annotated[str, msgspec.Meta(max_length=64)] = "quibble:"
    # A node renews its liveness key this often; others take its clients over once the key
    # has not been renewed for node_timeout.
    node_heartbeat: Positive = 1.0
    node_timeout: Positive = 4.0


class SettingsError(ValueError):
    """A config file could not be read or is invalid; the message says where and why."""


def settings_from_mapping(
    values: dict[str, object], base: SignalingSettings | None = None
) -> SignalingSettings:
    """Settings from plain values (e.g. a parsed TOML table) on top of ``base``."""
    merged = msgspec.structs.asdict(base or SignalingSettings())
    merged.update(values)
    try:
        return msgspec.convert(merged, SignalingSettings)
    except msgspec.ValidationError as exc:
        # msgspec says "... - at `$.max_rooms`"; name the key as the file spells it.
        raise SettingsError(re.sub(r"`\$\.([^`]*)`", r"key '\1'", str(exc))) from None


def load_settings(path: str | Path, base: SignalingSettings | None = None) -> SignalingSettings:
    """Read a TOML config file; raises :class:`SettingsError` with a readable reason."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    table = doc.get("signaling", doc)
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [signaling] must be a table")
    if table is doc:
        table = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    try:
        return settings_from_mapping(table, base)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None
