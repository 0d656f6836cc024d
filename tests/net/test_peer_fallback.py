"""When the network misbehaves: signaling gone mid-game, and ICE that cannot connect."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from tests.net.peer_harness import (
    HOST_ADDR,
    HostProcess,
    JoinProcess,
    iptables,
    quibble_env,
    start_bots,
)

pytestmark = [pytest.mark.net, pytest.mark.slow]


async def test_game_goes_on_over_data_channels_when_signaling_stops(tmp_path: Path) -> None:
    signal = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peer", "signal", "--bind", HOST_ADDR, "--port", "0", "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=quibble_env(),
    )
    assert signal.stdout is not None
    async with asyncio.timeout(20):
        url = json.loads(await signal.stdout.readline())["url"]
    host = await HostProcess.start(
        tmp_path, "--signal", url, "--rounds", "2", "--phase-seconds", "20", "--autostart", "3",
        "--seed", "4",
    )
    bots = await start_bots(tmp_path, host, 3, "--bot-delay", "0.3")
    try:
        await host.wait_status(lambda s: s["round"] == 1 and s["phase"] == "betting")
        signal.kill()
        await signal.wait()
        gone = await host.wait_status(lambda s: not s["signaling_connected"])
        assert gone["phase"] != "over"
        results = await asyncio.gather(*(b.result(within_s=90) for b in bots))
        assert await host.wait(within_s=30) == 0
    finally:
        if signal.returncode is None:
            signal.kill()
            await signal.wait()
        for b in bots:
            await b.stop()
        await host.stop()
    for code, doc, out in results:
        assert code == 0, out
        assert doc["reconnects"] == 0 and doc["path"] == "host", doc
    assert len({tuple(doc["winners"]) for _, doc, _ in results}) == 1


async def test_player_whose_ice_cannot_connect_finishes_over_the_ws_relay(
    tmp_path: Path,
) -> None:
    host = await HostProcess.start(
        tmp_path, "--rounds", "2", "--phase-seconds", "10", "--autostart", "3", "--seed", "6",
    )
    # Connection tracking starts in a namespace with its first conntrack rule: add one now,
    # so the first two players' flows are known as established when new ones start dying.
    track = ["OUTPUT", "-p", "udp", "-m", "conntrack", "--ctstate", "ESTABLISHED", "-j", "ACCEPT"]
    drop = ["OUTPUT", "-p", "udp", "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP"]
    iptables("-A", *track)
    bots = await start_bots(tmp_path, host, 2, "--bot-delay", "0.2")
    late: JoinProcess | None = None
    try:
        await host.wait_status(lambda s: sum(p["connected"] for p in s["players"]) == 2)
        iptables("-A", *drop)
        late = await JoinProcess.start(
            tmp_path, host.code, host.signal_url, "Late", "--bot", "heuristic",
            "--ice-timeout", "2", "--bot-delay", "0.2",
        )
        status = await host.wait_status(lambda s: len(s["players"]) == 3)
        assert next(p for p in status["players"] if p["name"] == "Late")["path"] == "ws-relay"
        late_result = await late.result(within_s=90)
        results = await asyncio.gather(*(b.result(within_s=90) for b in bots))
        assert await host.wait(within_s=30) == 0
    finally:
        iptables("-D", *drop)
        iptables("-D", *track)
        if late is not None:
            await late.stop()
        for b in bots:
            await b.stop()
        await host.stop()
    code, doc, out = late_result
    assert code == 0, out
    assert doc["path"] == "ws-relay" and "connected via ws-relay" in out
    for code, bot_doc, out in results:
        assert code == 0, out
        assert bot_doc["path"] == "host"
        assert bot_doc["winners"] == doc["winners"]
