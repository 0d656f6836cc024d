"""A phone that reloads mid-round gets its own seat back (seat token in localStorage)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser.conftest import Phone
from tests.browser.harness import Host, free_port, game_args
from tests.browser.test_browser_game import join_by_link

pytestmark = [pytest.mark.net, pytest.mark.slow, pytest.mark.timeout(240)]


def autoplay(host: Host, *players: Phone) -> None:
    """Reload each phone with the in-page autoplay, one at a time.

    One at a time: a phase ends early once every *connected* player is ready, so with every
    phone away at once the host's ready bot alone would race the game to its end.
    """
    for phone in players:
        phone.page.goto(f"{host.base_url}/r/{host.code}?autoplay=1")
        phone.page.wait_for_function(
            "window.quibble.link && window.quibble.link.status.stage === 'open'"
        )


def test_a_reload_mid_round_keeps_the_seat_coins_and_hand(
    tmp_path: Path, phones: Callable[..., Phone]
) -> None:
    # Long phases, and a second phone that just watches: a phase ends early only once every
    # connected player is ready, and the in-process bot is ready at once.
    host = Host(tmp_path, *game_args(phase_seconds=60, bots=1, seed=9))
    try:
        phone, idle = phones("Dee"), phones("Eve")
        join_by_link(phone, host.base_url, host.code)
        join_by_link(idle, host.base_url, host.code)
        phone.wait_phase("betting", within_s=30)
        page = phone.page
        # Act first, so there is something of ours to lose: a bet and a loan.
        page.click("[data-testid=quibble-1]")
        page.fill("[data-testid=bet-amount]", "120")
        page.click("[data-testid=place-bet]")
        page.wait_for_selector("[data-testid=my-bet]")
        # The in-process bot has had its say for this phase (it readies last).
        page.wait_for_function(
            "window.quibble.view.players.some((p) => p.name === 'Bot 1' && p.ready)"
        )
        before = phone.state()
        assert before["view"]["bet"] == {"quibble": 1, "amount": 120}

        page.reload()  # no form this time: the saved seat brings the page straight back
        page.wait_for_function(
            "window.quibble.view && window.quibble.link.status.stage === 'open'", timeout=30_000
        )
        after = phone.state()
        assert after["seat"] == before["seat"]
        view, old = after["view"], before["view"]
        assert (view["seat"], view["name"], view["round"], view["phase"]) == (
            old["seat"],
            old["name"],
            old["round"],
            "betting",
        )
        assert (view["coins"], view["debt"], view["bet"]) == (old["coins"], old["debt"], old["bet"])
        assert [c["id"] for c in view["hand"]] == [c["id"] for c in old["hand"]]
        # The view the page had built from deltas is the whole view the host sends afresh
        # (nothing else happened meanwhile: long phases, and Eve does nothing).
        assert view == old
        # The host kept three players: the reload reused the seat rather than taking a new one.
        st = host.wait_status(
            lambda s: any(p["name"] == "Dee" and p["connected"] for p in s["players"])
        )
        assert sorted(p["name"] for p in st["players"]) == ["Bot 1", "Dee", "Eve"]
        assert [p["connections"] for p in st["players"] if p["name"] == "Dee"] == [2]

        # And the game goes on from that seat to the end (the autoplay clicks through the UI).
        autoplay(host, phone, idle)
        phone.wait_phase("over", within_s=120)
        assert host.wait(within_s=30) == 0
        assert phone.state()["seat"] == before["seat"]
        assert not phone.errors, phone.errors
    finally:
        host.stop()


def test_phones_come_back_to_their_seats_after_the_host_crashes_and_resumes(
    tmp_path: Path, phones: Callable[..., Phone]
) -> None:
    port = str(free_port())
    first = Host(tmp_path / "first", "--port", port, *game_args(phase_seconds=60, bots=1, seed=2))
    second: Host | None = None
    try:
        jo, kim = phones("Jo"), phones("Kim")
        join_by_link(jo, first.base_url, first.code)
        join_by_link(kim, first.base_url, first.code)
        jo.wait_phase("betting", within_s=30)
        jo.page.click("[data-testid=quibble-2]")
        jo.page.fill("[data-testid=bet-amount]", "75")
        jo.page.click("[data-testid=place-bet]")
        jo.page.wait_for_selector("[data-testid=my-bet]")
        before = jo.state()

        first.kill()
        jo.page.wait_for_function("window.quibble.link.status.stage !== 'open'")
        second = Host(tmp_path / "second", "--port", port, "--resume", str(first.journal_path))
        assert second.code == first.code
        second.wait_status(
            lambda s: {p["name"] for p in s["players"] if p["connected"]} >= {"Jo", "Kim"},
            within_s=60,
        )
        jo.page.wait_for_function(
            "window.quibble.link.connections.length === 2 && window.quibble.view", timeout=30_000
        )
        after = jo.state()
        assert after["seat"] == before["seat"]
        assert after["view"]["bet"] == {"quibble": 2, "amount": 75}
        assert after["view"]["coins"] == before["view"]["coins"]
        assert [c["id"] for c in after["view"]["hand"]] == [c["id"] for c in before["view"]["hand"]]

        autoplay(second, jo, kim)
        jo.wait_phase("over", within_s=120)
        assert second.wait(within_s=30) == 0
        assert jo.state()["seat"] == before["seat"]
    finally:
        first.stop()
        if second is not None:
            second.stop()
