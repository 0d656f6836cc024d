"""`quibble doctor`: arguments, exit codes, the JSON document's shape, the human report."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from typing import Any

import pytest

from peer import exit_codes
from peer.cli import main
from tests.test_doctor_verdict import SYMMETRIC, UDP_URL, alloc, relay_path, report, udp
from turn.config import IceSettings
from turn.doctor import (
    DoctorOptions,
    ProgressEvent,
    StunServerReport,
    decide_verdict,
    run_doctor,
)
from turn.doctor_cmd import render_report
from turn.signal_probe import healthz_url, probe_signaling

# Every top-level field of the JSON document: scripts read these names, so they are stable.
REPORT_FIELDS = {
    "schema", "started_at", "duration_ms", "stun_urls", "turn_urls", "turn_auth", "ice_source",
    "interfaces", "host_candidates", "udp", "stun", "nat", "turn", "signaling", "paths",
    "room", "verdict",
}
VERDICT_FIELDS = {"code", "ok", "exit_code", "summary", "remediation", "ice_advice"}
NAT_FIELDS = {
    "behind_nat", "public_address", "mapping_varies_by_destination", "mapping", "filtering",
    "rfc5780_server", "cgnat", "hops", "cgnat_hop",
}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "0"], "--timeout must be between"),
        (["--timeout", "1000"], "--timeout must be between"),
        (["--room", "AB1D", "--signal", "http://s"], "is not a room code"),
        (["--room", "ABCD"], "--room needs --signal"),
        (["--signal", "ftp://x"], "--signal"),
        (["--stun", "http://x"], "unknown scheme"),
        (["--turn", "turn:h:99999"], "outside 1..65535"),
        (["--turn", "turn:h:3478", "--turn-secret", "s" * 20, "--turn-user", "u",
          "--turn-pass", "p"], ""),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", *args]) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert err.startswith("quibble doctor: ")
    assert message in err


def test_unknown_flag_exits_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "peer", "doctor", "--frobnicate"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == exit_codes.USAGE


def test_help_lists_exit_codes_and_examples() -> None:
    proc = subprocess.run([sys.executable, "-m", "peer", "doctor", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for text in ("examples:", "--stun", "--turn-secret", "--room", "--json", "6 ", "7 "):
        assert text in proc.stdout


def test_human_report_shows_each_section_and_the_verdict() -> None:
    r = report(
        udp=udp(True), nat=SYMMETRIC, turn=[alloc(UDP_URL)], paths=[relay_path(UDP_URL)],
        stun=[StunServerReport(url="stun:203.0.113.1:3478", address="203.0.113.1:3478",
                               family="ipv4", ok=True, rtt_ms=1.5,
                               mapped_address="198.51.100.2:40000",
                               other_address="203.0.113.2:3479")],
    )
    import msgspec

    r = msgspec.structs.replace(r, nat=msgspec.structs.replace(
        SYMMETRIC, cgnat=True, hops=["192.168.1.1", "100.64.10.1", None], cgnat_hop="100.64.10.1"))
    text = render_report(msgspec.structs.replace(r, verdict=decide_verdict(r)))
    assert "carrier-grade NAT: YES (router 100.64.10.1)" in text
    assert "routers on the way out: 192.168.1.1 > 100.64.10.1 > *" in text
    for expected in ("Local interfaces", "ICE host candidates", "IPv4: ok", "STUN servers",
                     "RFC 5780", "mapping varies by destination: YES",
                     "mapping: address-and-port-dependent", "TURN", "relay 203.0.113.1:50000",
                     "Paths", "Verdict: relay  (exit 0)", "ICE for this network: --turn"):
        assert expected in text, expected
    words = " ".join(text.split())  # the verdict's sentences are wrapped for a terminal
    assert "You are behind a symmetric NAT" in words
    verdict_lines = text[text.index("Verdict:"):].splitlines()
    assert all(len(line) <= 92 for line in verdict_lines if not line.startswith("ICE for"))


def run_doctor_json(*args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "peer", "doctor", "--json", *args],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.net
def test_json_document_has_every_stable_field_and_lan_only_exits_0() -> None:
    code, doc = run_doctor_json()
    assert code == exit_codes.OK
    assert set(doc) == REPORT_FIELDS
    assert set(doc["verdict"]) == VERDICT_FIELDS
    assert set(doc["nat"]) == NAT_FIELDS
    assert set(doc["udp"]) == {"ipv4", "ipv6"}
    assert doc["verdict"]["code"] == "lan_only"
    assert {c["address"] for c in doc["host_candidates"]} >= {"10.231.0.1", "10.231.0.2"}
    host = next(p for p in doc["paths"] if p["path"] == "host")
    assert host["checked"] is True and host["ok"] is True


@pytest.mark.net
def test_no_stun_answer_exits_needs_relay() -> None:
    # Nothing listens on port 9: the STUN probe gets no answer, as if UDP were blocked.
    code, doc = run_doctor_json("--stun", "stun:10.231.0.1:9", "--timeout", "0.5", "--no-e2e")
    assert code == exit_codes.NEEDS_RELAY
    assert doc["udp"]["ipv4"] == {
        "family": "ipv4", "tested": True, "udp_ok": False,
        "local_address": "10.231.0.1", "mapped_addresses": [],
    }
    assert doc["verdict"]["code"] == "udp_blocked"


@pytest.mark.net
def test_nothing_answering_at_all_exits_no_path() -> None:
    code, doc = run_doctor_json(
        "--stun", "stun:10.231.0.1:9", "--turn", "turn:10.231.0.1:9?transport=tcp",
        "--turn-user", "u", "--turn-pass", "p", "--timeout", "0.5", "--no-e2e",
    )
    assert code == exit_codes.NO_PATH
    assert doc["turn"][0]["outcome"] == "unreachable"
    assert doc["verdict"]["code"] == "no_path"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://s.example:8080", "http://s.example:8080/healthz"),
        ("https://s.example/quibble/", "https://s.example/quibble/healthz"),
        ("ws://s.example:8080/ws", "http://s.example:8080/healthz"),
        ("wss://s.example/ws", "https://s.example/healthz"),
        ("s.example:8080", "http://s.example:8080/healthz"),
    ],
)
def test_healthz_url(url: str, expected: str) -> None:
    assert healthz_url(url) == expected


async def test_unreachable_signaling_is_reported_not_raised() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    found = await probe_signaling(f"http://127.0.0.1:{port}", time_limit=2)
    assert not found.http_ok and not found.ws_ok
    assert found.error is not None and "HTTP" in found.error and "WebSocket" in found.error


@pytest.mark.net
async def test_progress_reports_each_step_start_and_done() -> None:
    events: list[ProgressEvent] = []
    result = await run_doctor(DoctorOptions(settings=IceSettings()), progress=events.append)
    steps = [(e.step, e.state) for e in events]
    for step in ("interfaces", "stun", "turn", "paths"):
        assert (step, "start") in steps and (step, "done") in steps
        assert steps.index((step, "start")) < steps.index((step, "done"))
    assert result.verdict.code == "lan_only"


@pytest.mark.net
def test_human_output_on_stdout_progress_on_stderr() -> None:
    proc = subprocess.run([sys.executable, "-m", "peer", "doctor"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == exit_codes.OK
    assert "Verdict: lan_only" in proc.stdout
    assert "[interfaces]" in proc.stderr and "[paths] done: host:ok" in proc.stderr
    assert "[interfaces]" not in proc.stdout


@pytest.mark.net
def test_signaling_hands_out_every_url_with_a_credential_never_the_secret() -> None:
    # Browsers get the whole list (TURN over UDP, TCP and TLS on 443); `doctor --signal`
    # shows what a client receives. aiortc peers cut it down to one URL on purpose.
    secret = "signal-secret-0123456789"
    urls = ["turn:10.231.0.1:3478?transport=udp", "turn:10.231.0.1:3478?transport=tcp",
            "turns:10.231.0.1:443?transport=tcp"]
    signal = subprocess.Popen(
        [sys.executable, "-m", "peer", "signal", "--bind", "10.231.0.1", "--port", "0",
         "--json", "--stun", "stun:10.231.0.1:3478",
         *[a for u in urls for a in ("--turn", u)], "--turn-secret", secret],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert signal.stdout is not None
        url = json.loads(signal.stdout.readline())["url"]  # printed once listening
        proc = subprocess.run(
            [sys.executable, "-m", "peer", "doctor", "--json", "--no-e2e", "--timeout", "1",
             "--signal", url],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        signal.terminate()
        signal.wait(10)
    doc = json.loads(proc.stdout)
    assert doc["signaling"]["http_ok"] and doc["signaling"]["ws_ok"], doc["signaling"]
    stun, turn = doc["signaling"]["ice_servers"]
    assert stun["urls"] == ["stun:10.231.0.1:3478"]
    assert turn["urls"] == urls
    assert turn["username"].split(":")[0].isdigit() and turn["credential"]
    assert secret not in proc.stdout
    # With no servers of its own, the doctor probes the ones the service hands out.
    assert doc["ice_source"] == "signaling" and doc["turn_auth"] == "static"
    assert doc["turn_urls"] == urls and [t["url"] for t in doc["turn"]] == urls


@pytest.mark.net
def test_a_player_without_servers_probes_the_ones_the_service_hands_out() -> None:
    # A player holds no TURN secret: `doctor --signal URL` alone checks the STUN server and
    # allocates on the TURN server with the credential the service issued.
    from tests.net.turn_server import TURN_IP, netns_coturn

    secret = "handed-out-secret-0123"
    with netns_coturn(secret) as coturn:
        port = coturn.options.port
        signal = subprocess.Popen(
            [sys.executable, "-m", "peer", "signal", "--bind", TURN_IP, "--port", "0", "--json",
             "--stun", f"stun:{TURN_IP}:{port}", "--turn", f"turn:{TURN_IP}:{port}?transport=udp",
             "--turn", f"turn:{TURN_IP}:{port}?transport=tcp", "--turn-secret", secret],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            assert signal.stdout is not None
            url = json.loads(signal.stdout.readline())["url"]
            base = [sys.executable, "-m", "peer", "doctor", "--signal", url, "--timeout", "2"]
            proc = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=60)
            human = subprocess.run(base, capture_output=True, text=True, timeout=60)
        finally:
            signal.terminate()
            signal.wait(10)
    assert proc.returncode == exit_codes.OK, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ice_source"] == "signaling"
    assert [s["ok"] for s in doc["stun"]] == [True]
    assert [(t["transport"], t["outcome"]) for t in doc["turn"]] == [("udp", "ok"), ("tcp", "ok")]
    relays = [p for p in doc["paths"] if p["path"] == "relay"]
    assert relays and all(p["ok"] for p in relays), relays  # real channels through the relay
    assert doc["verdict"]["code"] == "direct"  # no NAT inside the test namespace
    assert "the ones the signaling service hands its clients" in human.stdout
