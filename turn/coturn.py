"""A coturn configuration with safe defaults, and running Debian's `turnserver` with it.

An open TURN server relays anyone's traffic into the networks behind it, so the generated
configuration only accepts expiring REST credentials (use-auth-secret), refuses to relay to
loopback, private, link-local, carrier-grade NAT, multicast, reserved and cloud-metadata
addresses (IPv4 and IPv6) unless the operator explicitly allows a LAN range, and caps
allocations and bandwidth.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from turn.config import ConfigError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Peer ranges a public relay must never reach (why: each is either this machine, the
# operator's private networks, or infrastructure an attacker would love to talk to).
DENIED_PEER_RANGES: tuple[tuple[str, str], ...] = (
    # (No "::" entry: coturn 4.6 matches every IPv4 peer against a range starting at "::".)
    ("0.0.0.0/8", "'this' network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("169.254.169.254/32", "cloud metadata service"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved and broadcast"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped (would bypass the IPv4 rules)"),
    ("64:ff9b::/96", "NAT64 (would bypass the IPv4 rules)"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)

# Ranges an operator may open with --allow-lan: private LAN space only. Loopback, link-local
# (which holds the cloud metadata address) and multicast stay denied whatever is asked.
ALLOWABLE_LAN_RANGES: tuple[IpNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)

INSTALL_HINT = (
    "coturn's `turnserver` is not installed. Install it with:\n"
    "  sudo apt-get install coturn        # Debian, Ubuntu\n"
    "  sudo dnf install coturn            # Fedora\n"
    "  brew install coturn                # macOS\n"
    "(scripts/install-system-deps.sh installs it on a development machine)"
)


@dataclass(frozen=True)
class CoturnOptions:
    """What goes into a generated coturn configuration. Defaults are the safe ones."""

    secret: str
    realm: str = "quibble"
    listening_ips: tuple[str, ...] = ()  # empty: every address
    relay_ips: tuple[str, ...] = ()
    external_ip: str | None = None  # public address when the server sits behind 1:1 NAT
    port: int = 3478
    tls_port: int = 5349
    cert: str | None = None
    pkey: str | None = None
    min_port: int = 49152
    max_port: int = 65535
    allow_lan: tuple[str, ...] = ()
    user_quota: int = 12  # concurrent allocations per REST user (one client)
    total_quota: int = 500
    # Per session, against abuse. Game traffic is bursty (a view to every player after each
    # action): in bench/turn.py a cap of 50 kB/s stretched a 15-player game 4.5x and 256 kB/s
    # 1.5x, as coturn dropped the bursts; at 1 MB/s the relayed game ran like the direct one.
    max_bps: int = 1_000_000  # bytes/s (8 Mbit/s)
    # coturn reserves max_bps of the capacity for every session (and keeps a closed UDP
    # session's share for a while), so capacity / max_bps caps the sessions too. None: no
    # server-wide cap beyond total_quota x max_bps.
    bps_capacity: int | None = None
    log_file: str = "stdout"
    pidfile: str | None = None
    allow_loopback_peers: bool = False  # tests only; coturn then requires no-cli
    # RFC 5780 NAT behaviour discovery (OTHER-ADDRESS, CHANGE-REQUEST), which lets
    # `quibble doctor` classify mapping and filtering. Off by default: its extra attributes
    # make STUN answers bigger (an amplification risk). Needs two listening addresses.
    rfc5780: bool = False

    def validate(self) -> None:
        """Raise ConfigError naming the first bad option."""
        if len(self.secret) < 16:
            raise ConfigError("--secret: at least 16 characters (or leave it out to generate one)")
        if any(c.isspace() or c in "\"'#" for c in self.secret):
            raise ConfigError("--secret: may not contain spaces, quotes or '#'")
        if not self.realm or any(c.isspace() or c in "\"'#" for c in self.realm):
            raise ConfigError(f"--realm: {self.realm!r} must be one word")
        for name, port in (("--port", self.port), ("--tls-port", self.tls_port)):
            if not 1 <= port <= 65535:
                raise ConfigError(f"{name}: {port} is outside 1..65535")
        if not 1024 <= self.min_port <= self.max_port <= 65535:
            raise ConfigError(
                f"--min-port/--max-port: {self.min_port}..{self.max_port} must be a range "
                "within 1024..65535"
            )
        if (self.cert is None) != (self.pkey is None):
            raise ConfigError("--cert and --pkey go together (TLS needs both)")
        for name, value in (("--cert", self.cert), ("--pkey", self.pkey)):
            if value is not None and not Path(value).is_file():
                raise ConfigError(f"{name}: {value} is not a readable file")
        for name, ips in (
            ("--listen", self.listening_ips),
            ("--relay-ip", self.relay_ips),
            ("--external-ip", (self.external_ip,) if self.external_ip else ()),
        ):
            for ip in ips:
                try:
                    ipaddress.ip_address(ip)
                except ValueError:
                    raise ConfigError(f"{name}: {ip!r} is not an IP address") from None
        for name, amount in (
            ("--user-quota", self.user_quota),
            ("--total-quota", self.total_quota),
            ("--max-bps", self.max_bps),
            ("--bps-capacity", self.bps_capacity),
        ):
            if amount is not None and amount < 1:
                raise ConfigError(f"{name}: {amount} must be at least 1")
        if self.bps_capacity is not None and self.bps_capacity < self.max_bps:
            raise ConfigError(
                f"--bps-capacity: {self.bps_capacity} is below --max-bps {self.max_bps}: "
                "not even one session would fit"
            )
        allowed_lan_networks(self.allow_lan)
        if self.rfc5780:
            families = [ipaddress.ip_address(ip).version for ip in self.listening_ips]
            if max((families.count(v) for v in (4, 6)), default=0) < 2:
                raise ConfigError(
                    "--rfc5780: needs two --listen addresses of one family (the server "
                    "answers CHANGE-REQUEST from its other address)"
                )


def allowed_lan_networks(ranges: Sequence[str]) -> list[IpNetwork]:
    """Parse --allow-lan ranges; each must lie inside private LAN space (ConfigError if not)."""
    networks: list[IpNetwork] = []
    for text in ranges:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ConfigError(f"--allow-lan: {text!r} is not an address range like 192.168.1.0/24")\
                from None
        if not any(
            net.version == lan.version and net.subnet_of(lan)  # type: ignore[arg-type]
            for lan in ALLOWABLE_LAN_RANGES
        ):
            raise ConfigError(
                f"--allow-lan: {text} is not inside a private LAN range (10/8, 172.16/12, "
                "192.168/16, 100.64/10, fc00::/7); loopback, link-local, metadata and "
                "multicast addresses stay denied"
            )
        networks.append(net)
    return networks


def _ip_range(net: IpNetwork) -> str:
    # coturn takes a single address or FIRST-LAST, not CIDR.
    # A lone "::" reads as "deny everything" to coturn 4.6, so single addresses are written
    # as one-address ranges too.
    return f"{net.network_address}-{net.broadcast_address}"


def render_config(options: CoturnOptions) -> str:
    """The coturn configuration text for ``options`` (validated first)."""
    options.validate()
    lines = [
        "# coturn configuration generated by `quibble turn config`.",
        "# Clients authenticate with expiring TURN REST credentials derived from the secret.",
        "use-auth-secret",
        f"static-auth-secret={options.secret}",
        f"realm={options.realm}",
        "fingerprint",
        "no-cli",
        f"listening-port={options.port}",
    ]
    lines += [f"listening-ip={ip}" for ip in options.listening_ips]
    lines += [f"relay-ip={ip}" for ip in options.relay_ips]
    if options.external_ip:
        lines.append(f"external-ip={options.external_ip}")
    if options.cert and options.pkey:
        lines += [
            f"tls-listening-port={options.tls_port}",
            f"cert={options.cert}",
            f"pkey={options.pkey}",
            "no-tlsv1",
            "no-tlsv1_1",
            "no-dtls",  # aiortc and browsers reach TURN over TLS/TCP, never DTLS
        ]
    else:
        lines += ["no-tls", "no-dtls"]
    lines += [
        f"min-port={options.min_port}",
        f"max-port={options.max_port}",
        "",
        "# Quotas and bandwidth caps.",
        f"user-quota={options.user_quota}",
        f"total-quota={options.total_quota}",
        f"max-bps={options.max_bps}",
    ]
    if options.bps_capacity is not None:
        lines.append(f"bps-capacity={options.bps_capacity}")
    lines += [
        "",
        "# Never relay into this machine's or the operator's networks.",
        "no-multicast-peers",
        "no-tcp-relay",  # WebRTC needs UDP relaying only (RFC 6062 TCP relay is a pivot)
    ]
    for cidr, why in DENIED_PEER_RANGES:
        lines.append(f"denied-peer-ip={_ip_range(ipaddress.ip_network(cidr))}  # {why}")
    for net in allowed_lan_networks(options.allow_lan):
        lines.append(f"allowed-peer-ip={_ip_range(net)}  # --allow-lan {net}")
    if options.allow_loopback_peers:
        lines.append("allow-loopback-peers  # tests only")
    lines += [
        "",
        "# Keep STUN answers small (no amplification) and say less about the server.",
        *(
            ["# RFC 5780 on (--rfc5780): `quibble doctor` can classify NATs against it."]
            if options.rfc5780
            else ["no-rfc5780"]
        ),
        "no-stun-backward-compatibility",
        "response-origin-only-with-rfc5780",
        "no-software-attribute",
        "stale-nonce=600",
        "",
        f"log-file={options.log_file}",
        "simple-log",
    ]
    if options.pidfile:
        lines.append(f"pidfile={options.pidfile}")
    # coturn reads "# comment" only at the start of a line; keep values clean.
    return "\n".join(_strip_trailing_comment(line) for line in lines) + "\n"


def _strip_trailing_comment(line: str) -> str:
    if line.startswith("#") or "  # " not in line:
        return line
    value, _, why = line.partition("  # ")
    return f"# {why}\n{value}"


# Searched after $PATH: a non-root user's PATH often lacks the sbin directories, where some
# distributions put turnserver (Debian puts it in /usr/bin, which every PATH has).
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def find_turnserver() -> str | None:
    """The path of coturn's `turnserver` on $PATH (or in an sbin directory), or None.

    /usr/bin is deliberately not searched outside $PATH, so a PATH without it reads as
    "coturn is not installed" (how the tests check that message).
    """
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN_DIRS])
    return shutil.which("turnserver", path=search)


def wait_until_listening(host: str, port: int, timeout: float = 10.0) -> None:
    """Return once a TCP connection to host:port succeeds; TimeoutError after ``timeout``.

    coturn opens its UDP and TCP listeners together, so TCP readiness stands for both.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    last: OSError | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            last = exc
        time.sleep(delay)  # polling a port that has no readiness event; bounded above
        delay = min(delay * 2, 0.2)
    raise TimeoutError(f"turnserver did not listen on {host}:{port} within {timeout} s: {last}")


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP on ``host`` right now (for tests and benchmarks)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            return port
    raise OSError(f"no port free for both TCP and UDP on {host}")


class CoturnProcess:
    """A running `turnserver` with a generated configuration; a context manager.

    The configuration (it holds the secret) is written to a private temporary directory.
    stop() sends SIGTERM, waits, then SIGKILL; the directory is removed.
    """

    def __init__(
        self,
        options: CoturnOptions,
        *,
        extra_args: Sequence[str] = (),
        pipe_log: bool = False,
    ) -> None:
        binary = find_turnserver()
        if binary is None:
            raise FileNotFoundError(INSTALL_HINT)
        self.options = options
        self._dir = tempfile.TemporaryDirectory(prefix="quibble-coturn-")
        self.config_path = os.path.join(self._dir.name, "turnserver.conf")
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(render_config(options))
        self.log_path = os.path.join(self._dir.name, "turnserver.log")
        pid_args = [] if options.pidfile else ["--pidfile", os.path.join(self._dir.name, "pid")]
        self.args = [binary, "-c", self.config_path, *pid_args, *extra_args]
        # The log goes to a file unless the caller reads the pipe: an unread pipe fills up
        # and blocks turnserver.
        log_target = subprocess.PIPE if pipe_log else open(self.log_path, "w")
        try:
            self.process = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=log_target,
                stderr=subprocess.STDOUT,
                cwd=self._dir.name,
                text=True,
                start_new_session=not pipe_log,
            )
        finally:
            if not pipe_log:
                log_target.close()  # type: ignore[union-attr]

    def log_text(self) -> str:
        """What turnserver has logged so far (when not piped)."""
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until coturn accepts TCP connections on its listening port."""
        host = self.options.listening_ips[0] if self.options.listening_ips else "127.0.0.1"
        try:
            wait_until_listening(host, self.options.port, timeout)
        except TimeoutError:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"turnserver exited with {code}:\n{self.log_text()[-4000:]}"
                ) from None
            raise

    def stop(self, timeout: float = 5.0) -> int:
        """Stop turnserver (SIGTERM, then SIGKILL after ``timeout``); its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self._dir.cleanup()
        return self.process.returncode

    def __enter__(self) -> CoturnProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
