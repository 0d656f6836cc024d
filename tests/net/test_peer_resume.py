"""Host crash: SIGKILL mid-round, `quibble host --resume`, players come back, game finishes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from peer.journal import Journal, state_digest
from tests.net.peer_harness import HostProcess, free_port, start_bots

pytestmark = [pytest.mark.net, pytest.mark.slow]


async def test_host_killed_mid_round_resumes_from_journal_and_game_finishes(
    tmp_path: Path,
) -> None:
    journal_path = tmp_path / "game.sqlite"
    port = str(free_port())
    first = await HostProcess.start(
        tmp_path, "--port", port, "--rounds", "2", "--phase-seconds", "20", "--autostart", "4",
        "--seed", "5", "--journal", str(journal_path),
    )
    bots = await start_bots(tmp_path, first, 4, "--bot-delay", "0.3")
    try:
        await first.wait_status(
            lambda s: s["round"] == 1 and s["phase"] == "item" and s["actions"] > 10
        )
        first.kill()
        await first.wait()
        before = first.status()
        assert before["room"] == first.code and before["phase"] in ("item", "discussion")

        # The state the live host last reported equals the replay of that much journal.
        journal = Journal.open(journal_path)
        assert journal.action_count() >= before["actions"]
        assert state_digest(journal.replay(limit=before["actions"])) == before["digest"]
        journal.close()

        second = await HostProcess.start(
            tmp_path, "--port", port, "--resume", str(journal_path),
        )
        assert second.code == first.code
        resumed = await second.wait_status(
            lambda s: sum(p["connected"] for p in s["players"]) == 4, within_s=60
        )
        assert sorted(p["seat"] for p in resumed["players"]) == [0, 1, 2, 3]
        assert all(p["connections"] == 1 for p in resumed["players"])
        results = await asyncio.gather(*(b.result(within_s=120) for b in bots))
        assert await second.wait(within_s=30) == 0
    finally:
        for b in bots:
            await b.stop()
        first.kill()
        if "second" in locals():
            await second.stop()
    for code, doc, out in results:
        assert code == 0, out
        assert doc["reconnects"] >= 1, doc
        assert doc["winners"], doc
    assert len({tuple(doc["winners"]) for _, doc, _ in results}) == 1
    assert sorted(doc["seat"] for _, doc, _ in results) == [0, 1, 2, 3]
