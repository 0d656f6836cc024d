"""`quibble simulate`: deterministic output, JSON, argument checks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from peer.cli import main


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peer", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_same_arguments_print_identical_json() -> None:
    args = ("--players", "12", "--rounds", "3", "--seed", "7", "--json")
    first, second = simulate(*args), simulate(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert list(doc) == ["seed", "players", "rounds", "bot", "winners", "standings"]
    assert doc["seed"] == 7 and doc["rounds"] == 3 and len(doc["standings"]) == 12
    top = doc["standings"][0]["score"]
    assert doc["winners"] == [s["seat"] for s in doc["standings"] if s["score"] == top]


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--players", "4", "--rounds", "1", "--bot", "random"]) == 0
    out = capsys.readouterr().out
    assert "rank" in out and "winner" in out and len(out.splitlines()) == 4 + 3


@pytest.mark.parametrize(
    "args",
    [["--players", "2"], ["--players", "501"], ["--rounds", "0"], ["--rounds", "51"],
     ["--seed", "-1"], ["--bot", "genius"], ["--players", "many"]],
)
def test_bad_arguments_exit_2_with_a_message(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["simulate", *args])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    assert code == 2
    assert "simulate" in capsys.readouterr().err


def test_five_hundred_players_complete(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--players", "500", "--rounds", "2", "--bot", "mixed", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["standings"]) == 500
