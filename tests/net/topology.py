"""Real NAT topologies built from Linux network namespaces, veth pairs and iptables.

A Topology makes named namespaces (``ip netns add``, a unique name per test), links them
with veth pairs, gives them addresses and routes, and turns a namespace into a home router:
NAT (iptables MASQUERADE; ``--random-fully`` for a symmetric NAT), a firewall dropping
unsolicited inbound packets, and optionally a rule blocking outgoing UDP. close() removes
everything; use it in a fixture finaliser so it runs even when the test fails.

No packet ever leaves the machine: every address lives only in namespaces made here. The
"internet" is one namespace (``pub``) routing between /30 links carved from 198.51.100.0/24
(TEST-NET-2), with its servers on 203.0.113.0/24 (TEST-NET-3); LANs are 192.168.x.0/24
behind their routers. ``pub`` has no route to any LAN, as on the real internet.

Facts that shape it (seen here): a router must drop unsolicited inbound packets, or an early
ICE check from the other side creates a conntrack entry that takes the mapped port, and hole
punching fails as it would not behind a real firewalled router.
"""

from __future__ import annotations

import ctypes
import ipaddress
import itertools
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from turn.coturn import CoturnOptions, find_turnserver, render_config

T = TypeVar("T")

IP = shutil.which("ip") or "/usr/sbin/ip"
IPTABLES = shutil.which("iptables") or "/usr/sbin/iptables"
CLONE_NEWNET = 0x40000000
PUBLIC_SERVER_IPS = ("203.0.113.1", "203.0.113.2")
PUBLIC_SERVER_IP6 = "2001:db8:113::1"  # documentation prefix (RFC 3849)
WAN_POOL = ipaddress.ip_network("198.51.100.0/24")

_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()
_TAG = re.compile(r"^qd(\d+)x\d+-")
_swept = False


def sweep_stale_namespaces() -> list[str]:
    """Delete namespaces left by a test process that died before its cleanup ran.

    Every namespace made here is named ``qd<pid>x<n>-...``; one whose process is gone is
    stale. Returns the names deleted.
    """
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return []
    deleted = []
    for name in names:
        match = _TAG.match(name)
        if match is None or int(match[1]) == os.getpid() or _alive(int(match[1])):
            continue
        if run(IP, "netns", "del", name, check=False).returncode == 0:
            deleted.append(name)
    return deleted


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command (in the current namespace); raise with its stderr when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


@dataclass
class Netns:
    """One named network namespace."""

    name: str

    def exec_args(self, *cmd: str) -> list[str]:
        """The argv that runs ``cmd`` inside this namespace."""
        return [IP, "netns", "exec", self.name, *cmd]

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside this namespace."""
        return run(*self.exec_args(*cmd), check=check)

    def sysctl(self, key: str, value: str) -> None:
        """Set a sysctl of this namespace (writes /proc/sys inside it)."""
        path = "/proc/sys/" + key.replace(".", "/")
        self.call(lambda: _write(path, value))

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on a fresh thread that has entered this namespace; return its result.

        Sockets keep the namespace they were created in, so a socket made by ``fn`` may be
        used from any thread afterwards.
        """
        box: dict[str, object] = {}

        def target() -> None:
            try:
                fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, f"setns({self.name}): {os.strerror(err)}")
                finally:
                    os.close(fd)
                box["value"] = fn()
            except BaseException as exc:  # handed back to the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=target, name=f"netns-{self.name}")
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["value"]  # type: ignore[return-value]

    def wait_tcp(self, host: str, port: int, timeout: float = 10.0) -> None:
        """Return once ``host:port`` accepts TCP from inside this namespace (bounded retry)."""

        def attempt() -> bool:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return True
            except OSError:
                return False

        deadline = time.monotonic() + timeout
        delay = 0.01
        while time.monotonic() < deadline:
            if self.call(attempt):
                return
            time.sleep(delay)  # a port has no readiness event to await; bounded above
            delay = min(delay * 2, 0.2)
        raise TimeoutError(f"{host}:{port} did not accept TCP in {self.name} within {timeout} s")


def _write(path: str, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


@dataclass
class Site:
    """A LAN behind a home router: ``client`` at ``lan_ip`` NATed to ``wan_ip``."""

    router: Netns
    client: Netns
    lan_ip: str
    wan_ip: str
    wan_if: str


@dataclass
class Topology:
    """Namespaces, links and rules for one test; close() removes all of it."""

    tag: str = field(default_factory=lambda: f"qd{os.getpid()}x{next(_counter)}")
    namespaces: list[Netns] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    _links: itertools.count[int] = field(default_factory=itertools.count)
    _wan_links: itertools.count[int] = field(default_factory=itertools.count)
    _lans: itertools.count[int] = field(default_factory=lambda: itertools.count(10))
    _pub: Netns | None = None

    def __post_init__(self) -> None:
        global _swept
        if not _swept:
            _swept = True
            sweep_stale_namespaces()

    # -- building blocks -----------------------------------------------------------------

    def netns(self, role: str) -> Netns:
        """A new namespace named after this test's tag and ``role``, lo up."""
        ns = Netns(f"{self.tag}-{role}-{secrets.token_hex(2)}")
        run(IP, "netns", "add", ns.name)
        self.namespaces.append(ns)
        ns.run(IP, "link", "set", "lo", "up")
        # Bridged traffic must not pass through iptables (the host's br_netfilter is loaded).
        for key in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables",
                    "bridge-nf-call-arptables"):
            if os.path.exists(f"/proc/sys/net/bridge/{key}"):
                try:
                    ns.sysctl(f"net.bridge.{key}", "0")
                except OSError:
                    pass  # not namespaced on this kernel: the host's setting applies
        return ns

    def link(self, a: Netns, a_cidr: str, b: Netns, b_cidr: str) -> tuple[str, str]:
        """A veth pair between ``a`` and ``b`` with these addresses; its two device names."""
        n = next(self._links)
        a_if, b_if = f"{self.tag}l{n}a"[-15:], f"{self.tag}l{n}b"[-15:]
        run(IP, "link", "add", a_if, "type", "veth", "peer", "name", b_if)
        for ns, dev, cidr in ((a, a_if, a_cidr), (b, b_if, b_cidr)):
            run(IP, "link", "set", dev, "netns", ns.name)
            ns.run(IP, "addr", "add", cidr, "dev", dev)
            ns.run(IP, "link", "set", dev, "up")
        return a_if, b_if

    def spawn(self, ns: Netns, *cmd: str, **kwargs: object) -> subprocess.Popen[str]:
        """Start ``cmd`` inside ``ns``; it is killed by close()."""
        proc: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            ns.exec_args(*cmd), text=True, **kwargs
        )
        self.processes.append(proc)
        return proc

    # -- the internet and what hangs off it ----------------------------------------------

    @property
    def pub(self) -> Netns:
        """The "internet": routes between every WAN link; hosts the public servers."""
        if self._pub is None:
            self._pub = self.netns("pub")
            self._pub.sysctl("net.ipv4.ip_forward", "1")
            for ip in PUBLIC_SERVER_IPS:
                self._pub.run(IP, "addr", "add", f"{ip}/32", "dev", "lo")
            self._pub.run(IP, "addr", "add", f"{PUBLIC_SERVER_IP6}/128", "dev", "lo", "nodad")
            self._pub.sysctl("net.ipv6.conf.all.forwarding", "1")
        return self._pub

    def _wan_pair(self) -> tuple[str, str]:
        n = next(self._wan_links)
        base = int(WAN_POOL.network_address) + 4 * n
        return str(ipaddress.ip_address(base + 1)), str(ipaddress.ip_address(base + 2))

    def public_host(self, role: str, *, ipv6: bool = False) -> tuple[Netns, str]:
        """A machine directly on the internet, no NAT; (namespace, its IPv4 address).

        With ``ipv6`` it also gets a global IPv6 address, 2001:db8:<link>::2.
        """
        host = self.netns(role)
        pub_ip, host_ip = self._wan_pair()
        pub_if, host_if = self.link(self.pub, f"{pub_ip}/30", host, f"{host_ip}/30")
        host.run(IP, "route", "add", "default", "via", pub_ip)
        if ipv6:
            prefix = f"2001:db8:{pub_ip.split('.')[-1]}::"
            # nodad: the address is usable at once (duplicate detection would hold it ~1 s).
            self.pub.run(IP, "addr", "add", f"{prefix}1/64", "dev", pub_if, "nodad")
            host.run(IP, "addr", "add", f"{prefix}2/64", "dev", host_if, "nodad")
            host.run(IP, "-6", "route", "add", "default", "via", f"{prefix}1")
        return host, host_ip

    def _router_on_pub(self, role: str) -> tuple[Netns, str, str]:
        """A forwarding router with a /30 uplink to the "internet" and its default route there:
        (router, its public address, its WAN interface)."""
        router = self.netns(role)
        router.sysctl("net.ipv4.ip_forward", "1")
        pub_ip, wan_ip = self._wan_pair()
        _, wan_if = self.link(self.pub, f"{pub_ip}/30", router, f"{wan_ip}/30")
        router.run(IP, "route", "add", "default", "via", pub_ip)
        return router, wan_ip, wan_if

    def _lan_client(self, router: Netns, role: str) -> tuple[Netns, str]:
        """A client on a fresh 192.168.x.0/24 LAN behind ``router``: (client, its address)."""
        client = self.netns(role)
        lan = next(self._lans)
        router_lan, client_lan = f"192.168.{lan}.1", f"192.168.{lan}.2"
        self.link(router, f"{router_lan}/24", client, f"{client_lan}/24")
        client.run(IP, "route", "add", "default", "via", router_lan)
        return client, client_lan

    def nat_site(
        self,
        role: str,
        *,
        symmetric: bool = False,
        block_udp: bool = False,
        tcp_ports: Sequence[int] | None = None,
    ) -> Site:
        """A client on a LAN behind a NAT router with a stateful firewall.

        ``symmetric`` uses MASQUERADE --random-fully (a new random port per destination);
        plain MASQUERADE keeps the source port when it is free, which makes the mapping
        endpoint-independent. ``block_udp`` drops every UDP packet the LAN sends out;
        ``tcp_ports`` lets TCP out only to those ports (an office firewall: web only).
        """
        router, wan_ip, wan_if = self._router_on_pub(f"{role}r")
        client, client_lan = self._lan_client(router, f"{role}c")
        masquerade = ["-t", "nat", "-A", "POSTROUTING", "-o", wan_if, "-j", "MASQUERADE"]
        if symmetric:
            masquerade.append("--random-fully")
        self.iptables(router, *masquerade)
        self.drop_unsolicited(router, wan_if)
        if block_udp:
            self.iptables(router, "-A", "FORWARD", "-o", wan_if, "-p", "udp", "-j", "DROP")
        if tcp_ports is not None:
            ports = ",".join(str(p) for p in tcp_ports)
            self.iptables(router, "-A", "FORWARD", "-o", wan_if, "-p", "tcp", "-m", "multiport",
                          "!", "--dports", ports, "-j", "DROP")
        return Site(router=router, client=client, lan_ip=client_lan, wan_ip=wan_ip, wan_if=wan_if)

    def cgnat_site(self, role: str, *, home_router: bool = True) -> Site:
        """A client behind a carrier-grade NAT (RFC 6598), as many mobile and fibre ISPs do.

        The provider's router (``<role>g``) NATs the whole 100.64.0.0/10 access network to
        its one public address (plain MASQUERADE: endpoint-independent, as RFC 6888 asks of
        a CGN). With ``home_router`` the client sits on a 192.168.x LAN behind a home router
        whose WAN address is in 100.64/10 (double NAT); without it the client itself holds
        a 100.64 address (a phone or a router-less fibre line). Both NATs drop unsolicited
        inbound packets. The returned Site's ``router`` is the home router (the CGN when
        there is none) and ``wan_ip`` the CGN's public address.
        """
        cgn, wan_ip, cgn_wan = self._router_on_pub(f"{role}g")
        access = next(self._lans)
        cgn_inside, subscriber = f"100.64.{access}.1", f"100.64.{access}.2"
        self.iptables(cgn, "-t", "nat", "-A", "POSTROUTING", "-o", cgn_wan, "-j", "MASQUERADE")
        self.drop_unsolicited(cgn, cgn_wan)
        if not home_router:
            client = self.netns(f"{role}c")
            self.link(cgn, f"{cgn_inside}/24", client, f"{subscriber}/24")
            client.run(IP, "route", "add", "default", "via", cgn_inside)
            return Site(router=cgn, client=client, lan_ip=subscriber, wan_ip=wan_ip,
                        wan_if=cgn_wan)
        home = self.netns(f"{role}r")
        home.sysctl("net.ipv4.ip_forward", "1")
        _, home_wan = self.link(cgn, f"{cgn_inside}/24", home, f"{subscriber}/24")
        home.run(IP, "route", "add", "default", "via", cgn_inside)
        client, client_lan = self._lan_client(home, f"{role}c")
        self.iptables(home, "-t", "nat", "-A", "POSTROUTING", "-o", home_wan, "-j", "MASQUERADE")
        self.drop_unsolicited(home, home_wan)
        return Site(router=home, client=client, lan_ip=client_lan, wan_ip=wan_ip, wan_if=home_wan)

    def iptables(self, ns: Netns, *rule: str) -> None:
        """Add an iptables rule inside ``ns``."""
        ns.run(IPTABLES, "-w", *rule)

    def drop_unsolicited(self, router: Netns, wan_if: str) -> None:
        """Drop packets from the WAN that belong to no connection the LAN opened."""
        for chain in ("INPUT", "FORWARD"):
            self.iptables(
                router, "-A", chain, "-i", wan_if,
                "-m", "conntrack", "--ctstate", "NEW,INVALID", "-j", "DROP",
            )

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        """Kill the processes started here and delete every namespace (and its veths)."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        errors = []
        for ns in reversed(self.namespaces):
            result = run(IP, "netns", "del", ns.name, check=False)
            if result.returncode != 0:
                errors.append(result.stderr.strip())
        self.namespaces.clear()
        if errors:
            raise RuntimeError("netns cleanup failed: " + "; ".join(errors))


@dataclass
class Coturn:
    """coturn in the ``pub`` namespace, on both public server addresses (RFC 5780 on)."""

    process: subprocess.Popen[str]
    secret: str
    port: int = 3478
    tls_port: int | None = None  # TURN over TLS, when started with a certificate

    @property
    def stun_urls(self) -> list[str]:
        """One STUN URL per public server address."""
        return [f"stun:{ip}:{self.port}" for ip in PUBLIC_SERVER_IPS]

    @property
    def stun_url6(self) -> str:
        """The STUN URL of the server's IPv6 address."""
        return f"stun:[{PUBLIC_SERVER_IP6}]:{self.port}"

    def turn_url(self, transport: str) -> str:
        """The TURN URL over ``transport``: udp, tcp, or tls (turns: on the TLS port)."""
        if transport == "tls":
            assert self.tls_port is not None, "coturn was started without a certificate"
            return f"turns:{PUBLIC_SERVER_IPS[0]}:{self.tls_port}?transport=tcp"
        return f"turn:{PUBLIC_SERVER_IPS[0]}:{self.port}?transport={transport}"


def start_coturn(
    topo: Topology, workdir: str, *, tls: tuple[str, str] | None = None
) -> Coturn:
    """Run turnserver with the configuration `quibble turn config` generates, in ``topo.pub``.

    Listening on both public IPv4 addresses (and the IPv6 one) with ``rfc5780`` on gives
    coturn's RFC 5780 support (OTHER-ADDRESS, CHANGE-REQUEST answered from the other address
    and port). The generated configuration denies the LAN (192.168/16) and carrier-grade
    NAT (100.64/10) ranges as peers: a relay must never reach behind the NATs, or it would
    short-circuit them. ``tls`` (certificate, key) adds TURN over TLS on port 443, the port
    firewalls that block everything else still let through. The configuration, its log and
    pid file go to ``workdir``; wait until it accepts TCP (bounded retry).
    """
    secret = secrets.token_hex(16)
    options = CoturnOptions(
        secret=secret,
        realm="quibble.test",
        listening_ips=(*PUBLIC_SERVER_IPS, PUBLIC_SERVER_IP6),
        relay_ips=(PUBLIC_SERVER_IPS[0],),
        min_port=50000,
        max_port=50999,
        cert=tls[0] if tls else None,
        pkey=tls[1] if tls else None,
        tls_port=443,
        rfc5780=True,
        pidfile=os.path.join(workdir, "turnserver.pid"),
    )
    config = os.path.join(workdir, "turnserver.conf")
    with open(config, "w") as fh:
        fh.write(render_config(options))
    out = open(os.path.join(workdir, "turnserver.log"), "w")
    try:
        proc = topo.spawn(topo.pub, find_turnserver() or "turnserver", "-c", config,
                          stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()
    topo.pub.wait_tcp(PUBLIC_SERVER_IPS[0], options.port)
    if tls:
        topo.pub.wait_tcp(PUBLIC_SERVER_IPS[0], options.tls_port)
    return Coturn(process=proc, secret=secret, port=options.port,
                  tls_port=options.tls_port if tls else None)
