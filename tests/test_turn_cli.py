"""`quibble turn config` and `quibble turn serve`, run as a user would."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from turn.allocation import probe_allocation
from turn.coturn import find_turnserver, free_port, wait_until_listening
from turn.credentials import issue_credential

SECRET = "cli-secret-0123456789"


def quibble(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QUIBBLE_TURN")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "peer", *args],
        capture_output=True, text=True, timeout=60, env=full_env,
    )


def test_config_prints_a_configuration_and_a_new_secret_once() -> None:
    proc = quibble("turn", "config")
    assert proc.returncode == 0, proc.stderr
    secret_lines = [line for line in proc.stdout.splitlines() if line.startswith("static-auth")]
    assert len(secret_lines) == 1
    secret = secret_lines[0].split("=", 1)[1]
    assert len(secret) >= 40
    assert proc.stderr.count(secret) == 1  # shown once, on stderr, for the operator
    assert "use-auth-secret" in proc.stdout and "Generated" not in proc.stdout
    again = quibble("turn", "config")
    assert secret not in again.stdout  # a fresh one each time


def test_config_takes_the_secret_from_flag_or_environment() -> None:
    from_env = quibble("turn", "config", env={"QUIBBLE_TURN_SECRET": SECRET})
    assert f"static-auth-secret={SECRET}" in from_env.stdout
    assert "Generated" not in from_env.stderr and SECRET not in from_env.stderr
    from_flag = quibble("turn", "config", "--secret", SECRET + "x",
                        env={"QUIBBLE_TURN_SECRET": SECRET})
    assert f"static-auth-secret={SECRET}x" in from_flag.stdout


def test_config_options_reach_the_file(tmp_path: Path) -> None:
    out = tmp_path / "turnserver.conf"
    proc = quibble(
        "turn", "config", "--secret", SECRET, "--realm", "games.example.org",
        "--listen", "192.0.2.10", "--external-ip", "203.0.113.7", "--port", "3479",
        "--min-port", "50000", "--max-port", "50100", "--allow-lan", "192.168.7.0/24",
        "--user-quota", "3", "--total-quota", "30", "--max-bps", "1000",
        "--bps-capacity", "9000", "--listen", "192.0.2.11", "--rfc5780", "--output", str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert out.stat().st_mode & 0o777 == 0o600  # it holds the secret
    lines = set(out.read_text().splitlines())
    assert {
        "realm=games.example.org", "listening-ip=192.0.2.10", "external-ip=203.0.113.7",
        "listening-port=3479", "min-port=50000", "max-port=50100",
        "allowed-peer-ip=192.168.7.0-192.168.7.255", "user-quota=3", "total-quota=30",
        "max-bps=1000", "bps-capacity=9000", "listening-ip=192.0.2.11",
    } <= lines
    assert "no-rfc5780" not in lines  # --rfc5780 with two --listen addresses
    assert "turn:203.0.113.7:3479?transport=tcp" in proc.stderr  # how clients point at it


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--allow-lan", "8.8.8.0/24"], "--allow-lan: 8.8.8.0/24"),
        (["--secret", "short"], "--secret: at least 16"),
        (["--cert", "/nonexistent.pem"], "--cert and --pkey go together"),
        (["--port", "70000"], "--port: 70000"),
    ],
)
def test_config_bad_options_exit_2_with_the_reason(args: list[str], names: str) -> None:
    proc = quibble("turn", "config", *args)
    assert proc.returncode == 2
    assert names in proc.stderr
    assert "Generated" not in proc.stderr  # no secret burnt on a typo
    assert proc.stdout == ""


def test_turn_without_an_action_is_a_usage_error() -> None:
    assert quibble("turn").returncode == 2


def test_serve_without_coturn_says_how_to_install_it(tmp_path: Path) -> None:
    # As a user without coturn would see it: a PATH where no turnserver lives.
    (tmp_path / "python").symlink_to(sys.executable)
    proc = quibble("turn", "serve", "--secret", SECRET, env={"PATH": str(tmp_path)})
    assert proc.returncode == 1
    assert "turnserver` is not installed" in proc.stderr
    assert "apt-get install coturn" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.skipif(find_turnserver() is None, reason="coturn is not installed")
def test_serve_refuses_an_address_that_is_not_this_machines() -> None:
    # coturn would log a failed bind and retry it forever; serve says so at once.
    proc = quibble("turn", "serve", "--secret", SECRET, "--listen", "192.0.2.55")
    assert proc.returncode == 2
    assert "--listen 192.0.2.55: not an address of this machine" in proc.stderr


@pytest.mark.skipif(find_turnserver() is None, reason="coturn is not installed")
def test_serve_refuses_a_port_already_in_use() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        proc = quibble("turn", "serve", "--secret", SECRET, "--listen", "127.0.0.1",
                       "--port", str(port))
    assert proc.returncode == 1
    assert f"UDP port {port} on 127.0.0.1 is already in use" in proc.stderr


@pytest.mark.skipif(find_turnserver() is None, reason="coturn is not installed")
def test_serve_relays_shows_the_log_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port("127.0.0.1")
    log = tmp_path / "stdout.txt"
    with open(log, "w") as out:  # a file, not a pipe: coturn's log must never block it
        proc = subprocess.Popen(
            [sys.executable, "-m", "peer", "turn", "serve", "--secret", SECRET,
             "--listen", "127.0.0.1", "--relay-ip", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.PIPE, text=True,
        )
    try:
        assert proc.stderr is not None
        early: list[str] = []
        for line in proc.stderr:  # serve's status lines; "ready." once coturn accepts
            early.append(line)
            if line.startswith("quibble turn serve: ready."):
                break
        else:
            raise AssertionError(f"serve ended before it was ready: {''.join(early)}")
        wait_until_listening("127.0.0.1", port, timeout=1)  # ready means listening
        cred = issue_credential(SECRET, "cli", time.time(), ttl=600)
        report = asyncio.run(
            probe_allocation(f"turn:127.0.0.1:{port}?transport=tcp", cred.username, cred.password)
        )
        assert report.ok, report.message
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        stderr = "".join(early) + proc.stderr.read()
        stdout = log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "turnserver: " in stdout  # coturn's own log, shown
    assert "ready." in stderr  # the status line to read among coturn's log
    assert f"--turn 'turn:127.0.0.1:{port}?transport=tcp'" in stderr  # how clients reach it
    assert "stopped" in stderr
    pid = int(stderr.split("(pid ")[1].split(")")[0])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # turnserver went with it
