"""The examples run as their READMEs say: a LAN party script and a custom bot."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.net.peer_harness import HostProcess, quibble_env

pytestmark = [pytest.mark.net, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


async def run_to_end(*argv: str, env: dict[str, str], within_s: float = 90) -> tuple[int, str]:
    """Run a command to its end (killed if it overruns); its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    try:
        async with asyncio.timeout(within_s):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_lan_party_script_plays_a_game_with_host_bots_and_a_python_player() -> None:
    env = quibble_env() | {
        "QUIBBLE": str(Path(sys.executable).with_name("quibble")),
        "BOTS": "2",
        "ROUNDS": "1",
        "PHASE_SECONDS": "3",
        "PORT": "0",
        "PLAYER_BOT": "heuristic",
        "NAME": "Watcher",
    }
    code, text = await run_to_end(str(ROOT / "examples" / "lan_party" / "run.sh"), env=env)
    assert code == 0, text
    assert "/board/" in text, text
    assert "Winners:" in text, text
    assert "Watcher" in text.split("Final standings", 1)[-1], text


async def test_custom_bot_example_joins_a_host_with_bots_and_finishes(tmp_path: Path) -> None:
    host = await HostProcess.start(
        tmp_path, "--rounds", "1", "--phase-seconds", "3", "--bots", "2", "--autostart", "3",
    )
    env = quibble_env() | {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        code, text = await run_to_end(
            sys.executable, str(ROOT / "examples" / "custom_bot.py"), host.code,
            "--name", "Longshot", "--signal", host.signal_url, env=env,
        )
        assert await host.wait(within_s=30) == 0
    finally:
        await host.stop()
    assert code == 0, text
    assert "round 1/1 betting" in text, text
    assert "Longshot played via host" in text, text
    assert "Winners:" in text, text
