"""Signaling limits from TOML files, and `quibble signal` as a real process."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from peer.cli import main
from signaling.limits import KeyedBuckets, TokenBucket
from signaling.rooms import clean_name, unique_name
from signaling.settings import SettingsError, SignalingSettings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_a_config_file_overrides_defaults_and_may_share_the_file_with_ice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "quibble.toml"
    path.write_text(
        '[signaling]\nmax_rooms = 5\nhost_grace = 2.5\nallowed_origins = ["http://a.example"]\n'
        '[ice]\nstun = ["stun:10.231.0.1:3478"]\n'
    )
    settings = load_settings(path)
    assert (settings.max_rooms, settings.host_grace) == (5, 2.5)
    assert settings.allowed_origins == ["http://a.example"]
    assert settings.max_players_per_room == SignalingSettings().max_players_per_room


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[signaling]\nmax_roomz = 3\n", "max_roomz"),
        ('[signaling]\nmax_rooms = "many"\n', "key 'max_rooms'"),
        ("[signaling]\nmax_players_per_room = 0\n", "key 'max_players_per_room'"),
        ("[signaling]\nhost_grace = -1\n", "key 'host_grace'"),
        ("[signaling\n", "not valid TOML"),
        ("signaling = 3\n", "must be a table"),
    ],
)
def test_bad_config_files_say_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=expected):
        load_settings(path)


def test_quibble_signal_exits_2_on_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[signaling]\nmax_frame_bytes = 10\n")
    assert main(["signal", "--config", str(path)]) == 2
    assert "max_frame_bytes" in capsys.readouterr().err
    assert main(["signal", "--config", str(tmp_path / "missing.toml")]) == 2


def test_names_are_cleaned_and_made_unique() -> None:
    assert clean_name("  Ana   Lu ") == "Ana Lu"
    assert clean_name("\t") is None and clean_name("a\u200bb") is None
    assert unique_name("Ana", ["ana", "Ana 2"]) == "Ana 3"
    long = "x" * 24
    assert unique_name(long, [long]) == "x" * 22 + " 2"


def test_token_buckets_refill_with_their_clock() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert bucket.take() and not bucket.take()
    keyed = KeyedBuckets(rate=1.0, burst=1, max_keys=2, clock=lambda: now[0])
    assert keyed.take("a") and keyed.take("b") and keyed.take("c")  # "a" forgotten, not "c"
    assert not keyed.take("c")


async def test_quibble_signal_serves_until_terminated() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "peer", "signal", "--bind", "127.0.0.1", "--port", "0", "--json"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        listening = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        async with aiohttp.ClientSession() as http, http.get(listening["url"] + "/healthz") as r:
            assert (await r.json())["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_redis_without_its_package_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    from peer import exit_codes

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real(name, *a)
    )
    assert main(["signal", "--redis", "redis://127.0.0.1:1/0", "--port", "0"]) == exit_codes.USAGE
    assert "pip install 'quibble-race[redis]'" in capsys.readouterr().err
