"""ICE server settings in one place, shared by `quibble host`, `join`, `signal` and `doctor`.

Sources, later ones overriding earlier ones: the ``[ice]`` table of a TOML file given with
``--config PATH``, then the environment (QUIBBLE_STUN, QUIBBLE_TURN, QUIBBLE_TURN_SECRET,
QUIBBLE_TURN_USER, QUIBBLE_TURN_PASS, QUIBBLE_TURN_TTL), then command-line flags. A source
that names any STUN URL replaces the STUN list of earlier sources (likewise TURN URLs), and a
source that gives any TURN credential replaces the credentials of earlier sources. With
nothing configured the settings are empty: the LAN default, no servers at all.

Example ``quibble.toml``::

    [ice]
    stun = ["stun:turn.example.org:3478"]
    turn = ["turn:turn.example.org:3478?transport=udp",
            "turn:turn.example.org:3478?transport=tcp",
            "turns:turn.example.org:443?transport=tcp"]
    turn_secret = "..."        # or turn_user = "..." and turn_pass = "..."
    turn_ttl = 14400           # seconds an issued TURN credential lives
    relay_only = false
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from turn.credentials import (
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
    MIN_TTL_SECONDS,
    issue_credential,
)
from turn.ice_servers import IceServer

if TYPE_CHECKING:
    from aiortc import RTCConfiguration

Scheme = Literal["stun", "turn", "turns"]
Transport = Literal["udp", "tcp"]
# How a client reaches the TURN server: UDP, TCP, or TLS over TCP (turns:).
TurnPath = Literal["udp", "tcp", "tls"]
T = TypeVar("T")

MAX_URLS = 8  # per kind; IceServer.urls holds at most 8
MAX_CONFIG_BYTES = 64 * 1024
_MAX_SECRET = 256
_MIN_SECRET = 8
_MAX_USER = 256
_DEFAULT_PORTS: dict[str, int] = {"stun": 3478, "turn": 3478, "turns": 5349}
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")  # noqa: E501

ENV_STUN = "QUIBBLE_STUN"
ENV_TURN = "QUIBBLE_TURN"
ENV_SECRET = "QUIBBLE_TURN_SECRET"
ENV_USER = "QUIBBLE_TURN_USER"
ENV_PASS = "QUIBBLE_TURN_PASS"
ENV_TTL = "QUIBBLE_TURN_TTL"


class ConfigError(ValueError):
    """Bad ICE configuration; the message names the bad part and where it came from.

    Commands print it and exit 2 (peer.exit_codes.USAGE).
    """


@dataclass(frozen=True)
class IceUrl:
    """One parsed STUN/TURN URL (RFC 7064/7065)."""

    scheme: Scheme
    host: str  # a hostname, an IPv4 address, or an IPv6 address without brackets
    port: int
    transport: Transport | None = None  # only for turn:/turns:; None means the default

    @property
    def turn_path(self) -> TurnPath:
        """How a client reaches this TURN server: udp, tcp, or tls (turns:)."""
        if self.scheme == "turns":
            return "tls"
        return self.transport or "udp"

    @property
    def aiortc_usable(self) -> bool:
        """False for IPv6-literal hosts, which aiortc's URL parser cannot read."""
        return ":" not in self.host

    @property
    def uses_udp(self) -> bool:
        """True when talking to this server needs UDP (STUN, or TURN over UDP)."""
        return self.scheme == "stun" or (self.scheme == "turn" and self.turn_path == "udp")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{self.scheme}:{host}:{self.port}"
        if self.transport is not None:
            text += f"?transport={self.transport}"
        return text


def parse_ice_url(text: str, *, where: str = "URL") -> IceUrl:
    """Parse a ``stun:``, ``turn:`` or ``turns:`` URL, raising ConfigError naming the bad part.

    ``where`` says where the URL came from (e.g. "--turn", "QUIBBLE_STUN") for the message.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: empty URL")
    text = text.strip()
    if len(text) > 512:
        raise ConfigError(f"{where}: URL longer than 512 characters")
    scheme, sep, rest = text.partition(":")
    if not sep:
        raise ConfigError(f"{where}: {text!r} has no scheme; expected stun:, turn: or turns:")
    if scheme not in ("stun", "turn", "turns"):
        hint = " (stuns: is not supported)" if scheme == "stuns" else ""
        raise ConfigError(
            f"{where}: unknown scheme {scheme + ':'!r} in {text!r}; "
            f"expected stun:, turn: or turns:{hint}"
        )
    if rest.startswith("//"):
        raise ConfigError(
            f"{where}: {text!r}: ICE URLs have no '//' (write {scheme}:HOST:PORT)"
        )
    hostport, qsep, query = rest.partition("?")
    host, port = _split_host_port(hostport, text, where, scheme)
    transport: Transport | None = None
    if qsep:
        if scheme == "stun":
            raise ConfigError(f"{where}: {text!r}: stun: URLs take no query ('?{query}')")
        key, eq, value = query.partition("=")
        if key != "transport" or not eq:
            raise ConfigError(
                f"{where}: {text!r}: unknown query {query!r}; only ?transport=udp|tcp"
            )
        if value not in ("udp", "tcp"):
            raise ConfigError(
                f"{where}: {text!r}: transport {value!r} is not udp or tcp"
            )
        transport = "udp" if value == "udp" else "tcp"
        if scheme == "turns" and transport == "udp":
            raise ConfigError(
                f"{where}: {text!r}: turns: over udp (DTLS) is not supported; use ?transport=tcp"
            )
    return IceUrl(scheme, host, port, transport)  # type: ignore[arg-type]


def _split_host_port(hostport: str, text: str, where: str, scheme: str) -> tuple[str, int]:
    if not hostport:
        raise ConfigError(f"{where}: {text!r} has no host")
    port_text: str | None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ConfigError(f"{where}: {text!r}: IPv6 host has no closing ']'")
        host = hostport[1:end]
        tail = hostport[end + 1 :]
        if tail and not tail.startswith(":"):
            raise ConfigError(f"{where}: {text!r}: unexpected {tail!r} after the IPv6 host")
        port_text = tail[1:] if tail else None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(f"{where}: {text!r}: host {host!r} is not an IPv6 address") from None
    else:
        if hostport.count(":") > 1:
            raise ConfigError(
                f"{where}: {text!r}: an IPv6 host must be in brackets, e.g. {scheme}:[::1]:3478"
            )
        host, psep, port_text_raw = hostport.partition(":")
        port_text = port_text_raw if psep else None
        if not host:
            raise ConfigError(f"{where}: {text!r} has no host")
        if not _HOSTNAME.fullmatch(host):
            raise ConfigError(f"{where}: {text!r}: host {host!r} is not a valid host name")
    if port_text is None:
        return host, _DEFAULT_PORTS[scheme]
    if not port_text.isdigit():
        raise ConfigError(f"{where}: {text!r}: port {port_text!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{where}: {text!r}: port {port} is outside 1..65535")
    return host, port


@dataclass(frozen=True)
class IceSettings:
    """Where clients find STUN/TURN servers and how they authenticate. Immutable.

    With ``secret`` set, every client gets its own expiring TURN REST credential and the
    secret itself never leaves this object; with ``user``/``password``, every client gets
    those static credentials.
    """

    stun: tuple[IceUrl, ...] = ()
    turn: tuple[IceUrl, ...] = ()
    secret: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    relay_only: bool = False
    ttl: int = DEFAULT_TTL_SECONDS

    @property
    def is_empty(self) -> bool:
        """True on a plain LAN setup: no STUN and no TURN server."""
        return not self.stun and not self.turn

    def turn_credentials(self, client_id: str, now: float) -> tuple[str, str] | None:
        """(username, password) for ``client_id``: fresh REST ones, or the static pair."""
        if self.secret is not None:
            cred = issue_credential(self.secret, client_id, now, self.ttl)
            return cred.username, cred.password
        if self.user is not None and self.password is not None:
            return self.user, self.password
        return None

    def servers_for_client(self, client_id: str, now: float) -> list[IceServer]:
        """The full server list for a browser: every STUN and TURN URL, fresh credentials.

        Browsers try every server, so they get them all (TURN over UDP, TCP and TLS). The
        shared secret is never included, only a credential derived from it.
        """
        return self._servers(list(self.stun), list(self.turn), client_id, now)

    def aiortc_servers(
        self,
        client_id: str,
        now: float,
        *,
        prefer: TurnPath | None = None,
        udp_blocked: bool = False,
    ) -> list[IceServer]:
        """ONE STUN and ONE TURN URL, chosen deliberately, for an aiortc peer.

        aiortc silently uses only the first STUN and the first TURN URL, so the choice is
        made here: ``prefer`` (e.g. what `quibble doctor` found works) wins when such a URL
        is configured; otherwise TURN over UDP, unless ``udp_blocked``, then TCP, then TLS.
        IPv6-literal URLs are skipped (aiortc cannot parse them; browsers get them).
        With ``udp_blocked`` no STUN server and no UDP TURN URL is given at all: aioice
        would wait 5 s for an answer that cannot come. In relay-only mode STUN is useless
        and is left out too.
        """
        usable_stun = [u for u in self.stun if u.aiortc_usable]
        stun: list[IceUrl] = []
        if usable_stun and not udp_blocked and not self.relay_only:
            stun = usable_stun[:1]
        chosen = self.choose_turn_url(prefer=prefer, udp_blocked=udp_blocked)
        return self._servers(stun, [chosen] if chosen else [], client_id, now)

    def choose_turn_url(
        self, *, prefer: TurnPath | None = None, udp_blocked: bool = False
    ) -> IceUrl | None:
        """The one TURN URL an aiortc peer should use (see aiortc_servers), or None."""
        return choose_turn_url(self.turn, prefer=prefer, udp_blocked=udp_blocked)

    def _servers(
        self, stun: list[IceUrl], turn: list[IceUrl], client_id: str, now: float
    ) -> list[IceServer]:
        servers: list[IceServer] = []
        if stun:
            servers.append(IceServer(urls=[str(u) for u in stun]))
        if turn:
            creds = self.turn_credentials(client_id, now)
            if creds is not None:
                servers.append(
                    IceServer(urls=[str(u) for u in turn], username=creds[0], credential=creds[1])
                )
        return servers

    def provider(
        self, clock: Callable[[], float] = time.time
    ) -> Callable[[str], list[IceServer]]:
        """An ``ice_provider(client_id) -> list[IceServer]`` for the signaling service."""

        def ice_provider(client_id: str) -> list[IceServer]:
            return self.servers_for_client(client_id, clock())

        return ice_provider

    def rtc_configuration(
        self,
        client_id: str,
        now: float,
        *,
        prefer: TurnPath | None = None,
        udp_blocked: bool = False,
    ) -> RTCConfiguration:
        """The aiortc RTCConfiguration for this peer (aiortc_servers + relay-only policy)."""
        return to_rtc_configuration(
            self.aiortc_servers(client_id, now, prefer=prefer, udp_blocked=udp_blocked),
            self.relay_only,
        )

    def describe(self) -> str:
        """A one-line human summary with no secret or password in it."""
        if self.is_empty:
            return "no STUN/TURN servers (LAN only)"
        parts = []
        if self.stun:
            parts.append("STUN " + ", ".join(map(str, self.stun)))
        if self.turn:
            auth = (
                f"REST credentials, {self.ttl} s"
                if self.secret
                else f"user {self.user!r}"
            )
            parts.append("TURN " + ", ".join(map(str, self.turn)) + f" ({auth})")
        if self.relay_only:
            parts.append("relay only")
        return "; ".join(parts)


def choose_turn_url(
    urls: Sequence[IceUrl], *, prefer: TurnPath | None = None, udp_blocked: bool = False
) -> IceUrl | None:
    """The TURN URL an aiortc peer should use out of ``urls``, or None.

    ``prefer`` first when present; otherwise UDP, then TCP, then TLS; never UDP when
    ``udp_blocked``; never an IPv6 literal (aiortc cannot parse one).
    """
    candidates = [
        u for u in urls if u.aiortc_usable and not (udp_blocked and u.turn_path == "udp")
    ]
    order: list[TurnPath] = ["udp", "tcp", "tls"]
    if prefer is not None:
        order.remove(prefer)
        order.insert(0, prefer)
    for path in order:
        for url in candidates:
            if url.turn_path == path:
                return url
    return None


def _parsed_urls(servers: Sequence[IceServer]) -> Iterator[tuple[IceServer, IceUrl]]:
    """Each server's URLs that parse, with their server, in order; the others are skipped."""
    for server in servers:
        for text in server.urls:
            try:
                url = parse_ice_url(text)
            except ConfigError:
                continue
            yield server, url


def select_for_aiortc(
    servers: Sequence[IceServer],
    *,
    prefer: TurnPath | None = None,
    udp_blocked: bool = False,
    relay_only: bool = False,
) -> list[IceServer]:
    """Cut a full server list (e.g. from the signaling service) down to what aiortc uses.

    Like IceSettings.aiortc_servers, for a client that only has the list: ONE STUN URL
    (none when ``udp_blocked`` or ``relay_only``) and ONE TURN URL with its credentials,
    chosen on purpose instead of letting aiortc take the first. URLs that do not parse are
    skipped.
    """
    stun: IceUrl | None = None
    turn_urls: list[IceUrl] = []
    creds: dict[IceUrl, IceServer] = {}
    for server, url in _parsed_urls(servers):
        if url.scheme == "stun":
            if stun is None and url.aiortc_usable:
                stun = url
        elif server.username is not None and server.credential is not None:
            turn_urls.append(url)
            creds.setdefault(url, server)
    chosen: list[IceServer] = []
    if stun is not None and not udp_blocked and not relay_only:
        chosen.append(IceServer(urls=[str(stun)]))
    turn = choose_turn_url(turn_urls, prefer=prefer, udp_blocked=udp_blocked)
    if turn is not None:
        source = creds[turn]
        chosen.append(
            IceServer(urls=[str(turn)], username=source.username, credential=source.credential)
        )
    return chosen


def settings_from_servers(
    servers: Sequence[IceServer], *, relay_only: bool = False
) -> IceSettings:
    """IceSettings from a handed-out server list, e.g. what the signaling service gives.

    Its STUN URLs, and the TURN URLs of the first entry that carries credentials, with
    those (static) credentials; URLs that do not parse are skipped, at most MAX_URLS each.
    A player who holds no secret can so probe exactly the servers it would be given.
    """
    stun: list[IceUrl] = []
    turn: list[IceUrl] = []
    creds: tuple[str, str] | None = None
    for server, url in _parsed_urls(servers):
        if url.scheme == "stun":
            if url not in stun:
                stun.append(url)
            continue
        if server.username is None or server.credential is None:
            continue
        if creds is None:
            creds = (server.username, server.credential)
        if creds == (server.username, server.credential) and url not in turn:
            turn.append(url)
    return IceSettings(
        stun=tuple(stun[:MAX_URLS]),
        turn=tuple(turn[:MAX_URLS]),
        user=creds[0] if creds else None,
        password=creds[1] if creds else None,
        relay_only=relay_only and bool(turn),
    )


def to_rtc_configuration(servers: Sequence[IceServer], relay_only: bool) -> RTCConfiguration:
    """An aiortc RTCConfiguration with exactly ``servers`` (``[]`` on a LAN, never None).

    aiortc falls back to a public STUN server when iceServers is None, so an explicit list is
    always passed. ``relay_only`` sets iceTransportPolicy to relay.

    Also installs turn.ice_tuning's triggered-check fix (once per process), which takes
    aioice's 0.5 s retransmission wait off relayed joins.
    """
    from aiortc import RTCConfiguration, RTCIceServer
    from aiortc.rtcconfiguration import RTCIceTransportPolicy

    from turn.ice_tuning import auto_install

    auto_install()

    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in servers
        ],
        iceTransportPolicy=(
            RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        ),
    )


# ---------------------------------------------------------------------------------------
# Sources: TOML file < environment < flags


class _IceTable(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # UNSET rather than None, so a type error reads "Expected `array`", not "array | null".
    stun: Annotated[list[str], msgspec.Meta(max_length=MAX_URLS)] | UnsetType = UNSET
    turn: Annotated[list[str], msgspec.Meta(max_length=MAX_URLS)] | UnsetType = UNSET
    turn_secret: str | UnsetType = UNSET
    turn_user: str | UnsetType = UNSET
    turn_pass: str | UnsetType = UNSET
    turn_ttl: int | UnsetType = UNSET
    relay_only: bool | UnsetType = UNSET


def _given(value: T | UnsetType) -> T | None:
    return None if isinstance(value, UnsetType) else value


@dataclass
class _Layer:
    """What one source says; None means "this source says nothing about it"."""

    where: str
    stun: list[tuple[str, str]] | None = None  # (url text, where it came from)
    turn: list[tuple[str, str]] | None = None
    secret: str | None = None
    user: str | None = None
    password: str | None = None
    ttl: tuple[str, str] | None = None  # (value text, where)
    relay_only: bool | None = None
    names: dict[str, str] = field(default_factory=dict)  # credential field -> its name here


def add_ice_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the shared ICE flags to a command's parser.

    --config PATH, --stun URL (repeatable), --turn URL (repeatable), --turn-secret S,
    --turn-user U, --turn-pass P, --turn-ttl SECONDS, --relay-only. Read them back with
    ice_settings_from_args().
    """
    group = parser.add_argument_group(
        "ICE servers (STUN/TURN)",
        "Default: none (a LAN game). Later sources win: --config file < QUIBBLE_* env < flags.",
    )
    group.add_argument(
        "--config", metavar="PATH", help="TOML file with an [ice] table (see `quibble turn`)"
    )
    group.add_argument(
        "--stun", metavar="URL", action="append",
        help="STUN server, e.g. stun:stun.example.org:3478 (repeatable; env QUIBBLE_STUN)",
    )
    group.add_argument(
        "--turn", metavar="URL", action="append",
        help="TURN server, e.g. turn:turn.example.org:3478?transport=udp, "
        "turns:turn.example.org:443?transport=tcp (repeatable; env QUIBBLE_TURN)",
    )
    group.add_argument(
        "--turn-secret", metavar="S",
        help="coturn static-auth-secret: issue expiring TURN credentials (env QUIBBLE_TURN_SECRET)",
    )
    group.add_argument(
        "--turn-user", metavar="U", help="static TURN username (env QUIBBLE_TURN_USER)"
    )
    group.add_argument(
        "--turn-pass", metavar="P", help="static TURN password (env QUIBBLE_TURN_PASS)"
    )
    group.add_argument(
        "--turn-ttl", metavar="SECONDS",
        help=f"lifetime of issued TURN credentials (default {DEFAULT_TTL_SECONDS}; "
        "env QUIBBLE_TURN_TTL)",
    )
    group.add_argument(
        "--relay-only", action=argparse.BooleanOptionalAction, default=None,
        help="use only TURN relay candidates (iceTransportPolicy relay), to test or force it; "
        "--no-relay-only overrides relay_only = true in --config",
    )


def ice_settings_from_args(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
    *,
    turn_may_come_from_signaling: bool = False,
) -> IceSettings:
    """The ICE settings from --config, the environment and the flags, validated.

    Raises ConfigError with a message naming the bad part; commands exit 2 on it.
    ``environ`` defaults to os.environ. A player whose TURN servers come from the signaling
    service passes ``turn_may_come_from_signaling=True`` so --relay-only alone is accepted.
    """
    env = os.environ if environ is None else environ
    layers: list[_Layer] = []
    config_path = getattr(args, "config", None)
    if config_path:
        layers.append(_layer_from_file(config_path))
    layers.append(_layer_from_env(env))
    layers.append(_layer_from_args(args))
    return _merge(layers, relay_only_needs_turn=not turn_may_come_from_signaling)


def ice_settings_from_file(path: str) -> IceSettings:
    """The ICE settings of a TOML file's [ice] table alone."""
    return _merge([_layer_from_file(path)])


def _layer_from_file(path: str) -> _Layer:
    where = f"{path}"
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"--config {path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"--config {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML: {exc}") from None
    section = doc.get("ice", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: 'ice' must be a table ([ice])")
    try:
        table = msgspec.convert(section, _IceTable)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: [ice]: {_readable(str(exc))}") from None
    layer = _Layer(where=where)
    stun, turn, ttl = _given(table.stun), _given(table.turn), _given(table.turn_ttl)
    if stun is not None:
        layer.stun = [(u, f"{where} [ice] stun") for u in stun]
    if turn is not None:
        layer.turn = [(u, f"{where} [ice] turn") for u in turn]
    _set_credentials(
        layer,
        (_given(table.turn_secret), f"{where} [ice] turn_secret"),
        (_given(table.turn_user), f"{where} [ice] turn_user"),
        (_given(table.turn_pass), f"{where} [ice] turn_pass"),
    )
    if ttl is not None:
        layer.ttl = (str(ttl), f"{where} [ice] turn_ttl")
    layer.relay_only = _given(table.relay_only)
    return layer


def _readable(msgspec_message: str) -> str:
    # msgspec says "... - at `$.stun[0]`"; name the key the way the file spells it.
    return re.sub(r"`\$\.?([^`]*)`", lambda m: f"'{m.group(1) or 'ice'}'", msgspec_message)


def _split_env_urls(value: str) -> list[str]:
    return [part for part in re.split(r"[,\s]+", value) if part]


def _layer_from_env(env: Mapping[str, str]) -> _Layer:
    layer = _Layer(where="environment")
    if env.get(ENV_STUN, "").strip():
        layer.stun = [(u, ENV_STUN) for u in _split_env_urls(env[ENV_STUN])]
    if env.get(ENV_TURN, "").strip():
        layer.turn = [(u, ENV_TURN) for u in _split_env_urls(env[ENV_TURN])]
    _set_credentials(
        layer,
        (env.get(ENV_SECRET) or None, ENV_SECRET),
        (env.get(ENV_USER) or None, ENV_USER),
        (env.get(ENV_PASS) or None, ENV_PASS),
    )
    if env.get(ENV_TTL, "").strip():
        layer.ttl = (env[ENV_TTL].strip(), ENV_TTL)
    return layer


def _layer_from_args(args: argparse.Namespace) -> _Layer:
    layer = _Layer(where="flags")
    stun = getattr(args, "stun", None)
    turn = getattr(args, "turn", None)
    if stun:
        layer.stun = [(u, "--stun") for u in stun]
    if turn:
        layer.turn = [(u, "--turn") for u in turn]
    _set_credentials(
        layer,
        (getattr(args, "turn_secret", None), "--turn-secret"),
        (getattr(args, "turn_user", None), "--turn-user"),
        (getattr(args, "turn_pass", None), "--turn-pass"),
    )
    ttl = getattr(args, "turn_ttl", None)
    if ttl is not None:
        layer.ttl = (str(ttl), "--turn-ttl")
    relay_only = getattr(args, "relay_only", None)
    if relay_only is not None:
        layer.relay_only = bool(relay_only)
    return layer


def _set_credentials(
    layer: _Layer,
    secret: tuple[str | None, str],
    user: tuple[str | None, str],
    password: tuple[str | None, str],
) -> None:
    layer.secret, layer.user, layer.password = secret[0], user[0], password[0]
    layer.names = {"secret": secret[1], "user": user[1], "password": password[1]}


def _merge(layers: list[_Layer], *, relay_only_needs_turn: bool = True) -> IceSettings:
    stun_raw: list[tuple[str, str]] = []
    turn_raw: list[tuple[str, str]] = []
    cred_layer: _Layer | None = None
    ttl_raw: tuple[str, str] | None = None
    relay_only = False
    relay_where = ""
    for layer in layers:
        if layer.stun is not None:
            stun_raw = layer.stun
        if layer.turn is not None:
            turn_raw = layer.turn
        if layer.secret is not None or layer.user is not None or layer.password is not None:
            _check_credentials(layer)
            cred_layer = layer  # credentials replace earlier ones as a whole
        if layer.ttl is not None:
            ttl_raw = layer.ttl
        if layer.relay_only is not None:
            relay_only = layer.relay_only
            relay_where = layer.where
    for kind, raw in (("STUN", stun_raw), ("TURN", turn_raw)):
        if len(raw) > MAX_URLS:
            raise ConfigError(f"{raw[0][1]}: more than {MAX_URLS} {kind} URLs")
    stun = tuple(parse_ice_url(text, where=where) for text, where in stun_raw)
    turn = tuple(parse_ice_url(text, where=where) for text, where in turn_raw)
    for url, (text, where) in zip(stun, stun_raw, strict=True):
        if url.scheme != "stun":
            raise ConfigError(f"{where}: {text!r} is a TURN URL; give it as a TURN server")
    for url, (text, where) in zip(turn, turn_raw, strict=True):
        if url.scheme == "stun":
            raise ConfigError(f"{where}: {text!r} is a STUN URL; give it as a STUN server")
    ttl = DEFAULT_TTL_SECONDS
    if ttl_raw is not None:
        ttl = _parse_ttl(*ttl_raw)
    secret = cred_layer.secret if cred_layer else None
    user = cred_layer.user if cred_layer else None
    password = cred_layer.password if cred_layer else None
    if turn and cred_layer is None:
        raise ConfigError(
            f"{turn_raw[0][1]}: a TURN server needs credentials: give --turn-secret S "
            "(expiring credentials) or --turn-user U --turn-pass P"
        )
    if cred_layer is not None and not turn:
        name = next(
            cred_layer.names[k]
            for k in ("secret", "user", "password")
            if getattr(cred_layer, k) is not None
        )
        raise ConfigError(f"{name}: TURN credentials given but no TURN server (--turn URL)")
    if relay_only and not turn and relay_only_needs_turn:
        raise ConfigError(
            f"relay_only ({relay_where}): relay-only mode needs a TURN server (--turn URL)"
        )
    return IceSettings(
        stun=stun, turn=turn, secret=secret, user=user, password=password,
        relay_only=relay_only, ttl=ttl,
    )


def _check_credentials(layer: _Layer) -> None:
    names = layer.names
    if layer.secret is not None and (layer.user is not None or layer.password is not None):
        other = names["user"] if layer.user is not None else names["password"]
        raise ConfigError(
            f"{names['secret']} and {other}: give either a shared secret (expiring "
            "credentials) or a static user and password, not both"
        )
    if layer.secret is not None:
        _check_text(layer.secret, names["secret"], _MIN_SECRET, _MAX_SECRET)
        if any(c.isspace() or c in "\"'#" for c in layer.secret):
            raise ConfigError(
                f"{names['secret']}: the secret may not contain spaces, quotes or '#' "
                "(they break coturn's configuration file)"
            )
        return
    if layer.user is None:
        raise ConfigError(f"{names['password']} needs {names['user']} as well")
    if layer.password is None:
        raise ConfigError(f"{names['user']} needs {names['password']} as well")
    _check_text(layer.user, names["user"], 1, _MAX_USER)
    _check_text(layer.password, names["password"], 1, _MAX_USER)


def _check_text(value: str, name: str, min_len: int, max_len: int) -> None:
    if not min_len <= len(value) <= max_len:
        raise ConfigError(f"{name}: length {len(value)} is outside {min_len}..{max_len}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ConfigError(f"{name}: contains control characters")


def _parse_ttl(text: str, where: str) -> int:
    try:
        ttl = int(text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a whole number of seconds") from None
    if not MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
        raise ConfigError(
            f"{where}: {ttl} s is outside {MIN_TTL_SECONDS}..{MAX_TTL_SECONDS} s"
        )
    return ttl
