"""Packaging sanity: a built wheel carries the web client, the rules and the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_holds_the_browser_client_rules_and_quibble_command(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("quibble_race-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = zf.read(entry_points).decode()
    static = sorted(ROOT.glob("signaling/static/**/*"))
    assert static, "no browser client files to package"
    for path in static:
        if path.is_file():
            assert str(path.relative_to(ROOT)) in names, f"{path} missing from the wheel"
    assert "game/RULES.md" in names
    assert "quibble = peer.cli:main" in scripts
    assert not any(n.startswith(("tests/", "bench/", "examples/")) for n in names)
