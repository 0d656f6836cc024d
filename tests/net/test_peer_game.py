"""A whole game: real `quibble host` and six `quibble join --bot` over real data channels."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.net.peer_harness import HostProcess, JoinProcess, play_to_the_end

pytestmark = [pytest.mark.net, pytest.mark.slow]


async def test_host_and_six_bots_play_to_the_end_and_agree_on_winners(tmp_path: Path) -> None:
    host = await HostProcess.start(
        tmp_path, "--rounds", "2", "--phase-seconds", "3", "--autostart", "6", "--seed", "7",
        "--journal", str(tmp_path / "game.sqlite"),
    )
    joins = [
        await JoinProcess.start(
            tmp_path, host.code, host.signal_url, f"Bot{i}", "--bot",
            "heuristic" if i % 2 else "random", "--seed", str(i),
        )
        for i in range(6)
    ]
    results = await play_to_the_end(host, joins)
    for code, doc, out in results:
        assert code == 0, out
        assert doc["path"] == "host", doc
        assert doc["winners"], doc
        assert "Winners:" in out
    assert len({tuple(doc["winners"]) for _, doc, _ in results}) == 1
    assert len({doc["seat"] for _, doc, _ in results}) == 6
    assert any(line.startswith("Winners:") for line in host.stdout)
    # A LAN host (no STUN/TURN configured) has no network to check, and says nothing of it.
    assert not any(line.startswith("Network check") for line in host.stdout), host.stdout
    final = host.status()
    assert final["phase"] == "over"
    assert sorted(p["path"] for p in final["players"]) == ["host"] * 6
    assert final["winners"] == results[0][1]["winners"]
