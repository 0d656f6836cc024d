"""The aioice patch that retriggers in-progress checks: installed once, only where it fits."""

from __future__ import annotations

import aioice
import pytest
from aioice import ice

from turn import ice_tuning
from turn.config import to_rtc_configuration
from turn.ice_tuning import (
    install_triggered_check_fix,
    remove_triggered_check_fix,
    triggered_check_fix_installed,
)


@pytest.fixture(autouse=True)
def restore_tuning(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever a test does to aioice's class and the auto switch is undone after it.
    monkeypatch.setattr(ice.Connection, "check_incoming", ice.Connection.check_incoming)
    monkeypatch.setattr(
        ice.Connection, "_quibble_triggered_check_fix", triggered_check_fix_installed(),
        raising=False,
    )
    monkeypatch.setattr(ice_tuning, "_auto", ice_tuning._auto)


def test_installs_once_and_removes_cleanly() -> None:
    remove_triggered_check_fix()
    original = ice.Connection.check_incoming
    assert not triggered_check_fix_installed()
    assert install_triggered_check_fix()
    patched = ice.Connection.check_incoming
    assert patched is not original and triggered_check_fix_installed()
    assert install_triggered_check_fix()
    assert ice.Connection.check_incoming is patched  # not wrapped twice
    remove_triggered_check_fix()
    assert ice.Connection.check_incoming is original


def test_every_project_peer_configuration_gets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    remove_triggered_check_fix()
    monkeypatch.setattr(ice_tuning, "_auto", True)  # a fresh process
    to_rtc_configuration([], relay_only=False)
    assert triggered_check_fix_installed()


def test_removal_keeps_it_off_for_measuring_aioice_as_is() -> None:
    remove_triggered_check_fix()
    to_rtc_configuration([], relay_only=False)
    assert not triggered_check_fix_installed()


def test_leaves_an_unknown_aioice_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    remove_triggered_check_fix()
    monkeypatch.setattr(aioice, "__version__", "0.14.0")
    original = ice.Connection.check_incoming
    assert not install_triggered_check_fix()
    assert ice.Connection.check_incoming is original
