"""The `quibble` entry point: version, help, and exit code 2 on bad usage."""

from __future__ import annotations

import subprocess
import sys

import pytest

from peer.cli import available_subcommands, build_parser, main


def run_quibble(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peer", *args], capture_output=True, text=True, timeout=60
    )


def test_version_prints_distribution_version() -> None:
    proc = run_quibble("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("quibble ")


def test_no_subcommand_is_a_usage_error() -> None:
    assert main([]) == 2


def test_unknown_subcommand_exits_2() -> None:
    proc = run_quibble("no-such-command")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


@pytest.mark.parametrize("name", [name for name, _ in available_subcommands()])
def test_every_subcommand_has_help_with_examples(name: str) -> None:
    proc = run_quibble(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: quibble " + name in proc.stdout
    assert "example" in proc.stdout.lower(), f"`quibble {name} --help` shows no examples"


def test_parser_builds_with_every_available_subcommand() -> None:
    help_text = build_parser().format_help()
    for name, _ in available_subcommands():
        assert name in help_text


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_top_level_help_lists_examples(flag: str) -> None:
    proc = run_quibble(flag)
    assert proc.returncode == 0
    assert "examples:" in proc.stdout
