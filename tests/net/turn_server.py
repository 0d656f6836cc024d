"""A coturn for the suite's namespace, and a firewall that blocks UDP, for relay tests/bench."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from turn.coturn import CoturnOptions, CoturnProcess, free_port

TURN_IP = "10.231.0.1"
# Outside Linux's ephemeral range (32768-60999), so an iptables rule can tell coturn's relay
# traffic apart from the peers' own UDP sockets.
RELAY_PORTS = (61000, 61999)


def netns_coturn_options(secret: str, **overrides: object) -> CoturnOptions:
    """The generated configuration on 10.231.0.1, allowed to relay within 10.231.0.0/24
    (10/8 is denied by default), relaying from RELAY_PORTS, on a free port."""
    settings: dict[str, object] = {
        "secret": secret,
        "listening_ips": (TURN_IP,),
        "relay_ips": (TURN_IP,),
        "port": free_port(TURN_IP),
        "min_port": RELAY_PORTS[0],
        "max_port": RELAY_PORTS[1],
        "allow_lan": ("10.231.0.0/24",),
    }
    settings.update(overrides)
    return CoturnOptions(**settings)  # type: ignore[arg-type]


@contextmanager
def netns_coturn(secret: str, **overrides: object) -> Iterator[CoturnProcess]:
    """A started coturn (see netns_coturn_options), stopped on exit."""
    with CoturnProcess(netns_coturn_options(secret, **overrides)) as server:
        server.wait_ready()
        yield server


@contextmanager
def udp_blocked() -> Iterator[None]:
    """A firewall dropping every UDP packet but coturn's relay-to-relay traffic."""
    rule = ["OUTPUT", "-p", "udp", "!", "--sport", f"{RELAY_PORTS[0]}:{RELAY_PORTS[1]}",
            "-j", "DROP"]
    subprocess.run(["iptables", "-A", *rule], check=True)
    try:
        yield
    finally:
        subprocess.run(["iptables", "-D", *rule], check=True)


def make_certificate(directory: str, ip: str) -> tuple[str, str]:
    """A throwaway self-signed certificate for ``ip``: (certificate path, key path).

    Clients trust it through SSL_CERT_FILE (Python's default SSL context reads it), the
    way a real deployment's certificate is trusted through the system store.
    """
    import datetime
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"quibble test turn {ip}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "turn-cert.pem")
    key_path = os.path.join(directory, "turn-key.pem")
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path
