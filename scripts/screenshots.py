#!/usr/bin/env python3
"""Screenshots of the phone client in every phase (390x844) and of the board (1280x720).

Runs a real `quibble host` with three in-process bots and drives one phone through a whole
one-round game with Debian's headless Chromium, saving docs/screenshots/<phase>.png and
board-*.png. It needs the suite's network namespace (the host binds a test address):

    sudo unshare --net scripts/in-test-netns.sh .venv/bin/python scripts/screenshots.py

Seed 5 deals the phone Tinfoil hat, Poison and Stupify, so the item and Stupify screens
have something to show.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, ViewportSize, sync_playwright  # noqa: E402

from tests.browser.harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    Host,
    Join,
    ensure_default_route,
)

BOARD: ViewportSize = {"width": 1280, "height": 720}


def wait_phase(page: Page, phase: str) -> None:
    page.wait_for_function("p => document.body.dataset.phase === p", arg=phase, timeout=60_000)
    page.wait_for_timeout(300)  # let the render and any CSS transition settle for the picture


def ready(page: Page) -> None:
    page.click("[data-testid=ready]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--seed", default="5")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    undo = ensure_default_route()
    tmp = Path(tempfile.mkdtemp(prefix="quibble-shots-"))
    host = Host(tmp, "--rounds", "2", "--phase-seconds", "90", "--seed", args.seed)
    # Bots that take a few seconds per phase, so the shop still has cards in the picture.
    bots = [
        Join(tmp, host, f"Bot {i}", "--bot", "heuristic", "--seed", str(i), "--bot-delay", "4")
        for i in (1, 2, 3)
    ]
    try:
        host.wait_status(lambda st: len(st["players"]) == 3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            board = browser.new_context(viewport=BOARD).new_page()
            phone = browser.new_context(viewport=PHONE, device_scale_factor=2).new_page()

            def shot(page: Page, name: str) -> None:
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=str(out / f"{name}.png"))

            board.goto(f"{host.base_url}/board/{host.code}")
            phone.goto(f"{host.base_url}/r/{host.code}")
            phone.fill("input[name=name]", "Ana")
            shot(phone, "join")
            phone.click("button[type=submit]")
            wait_phase(phone, "lobby")
            board.wait_for_selector("[data-testid=player-3]")
            shot(phone, "lobby")
            shot(board, "board")
            phone.click("[data-testid=start-game]")

            wait_phase(phone, "betting")
            phone.click("[data-testid=quibble-1]")
            phone.fill("[data-testid=bet-amount]", "150")
            phone.click("[data-testid=place-bet]")
            phone.fill("[data-testid=borrow-amount]", "100")
            phone.click("[data-testid=borrow]")
            phone.wait_for_selector("[data-testid=debt]")
            phone.fill("[data-testid=bet-amount]", "150")
            phone.wait_for_timeout(300)
            shot(phone, "betting")
            shot(board, "board-betting")
            ready(phone)

            wait_phase(phone, "item")
            phone.click("[data-testid^=play-]:visible >> nth=0")
            phone.wait_for_selector("[data-testid=pending-play]")
            shot(phone, "item")
            phone.click("[data-testid=target-quibble-1]")
            ready(phone)

            wait_phase(phone, "discussion")
            stupify = phone.locator(".card[data-kind=stupify] [data-action=play]")
            if stupify.count():
                stupify.click()
                phone.click("[data-testid=target-seat-0]")
                phone.wait_for_selector("[data-testid=stupify-banner]")
                board.wait_for_selector("[data-testid=stupify-banner]")
            shot(phone, "discussion")
            shot(board, "board-discussion")
            ready(phone)

            wait_phase(phone, "reveal")
            shot(phone, "reveal")
            ready(phone)

            wait_phase(phone, "race")
            board.wait_for_selector(".lane")
            time.sleep(1.6)  # mid-race: the animation is the point of this picture
            shot(phone, "race")
            shot(board, "board-race")
            phone.wait_for_selector("#race[data-finished]", timeout=20_000)
            ready(phone)

            wait_phase(phone, "payout")
            shot(phone, "payout")
            ready(phone)

            wait_phase(phone, "purchase")
            shot(phone, "purchase")
            shot(board, "board-purchase")
            ready(phone)

            for phase in ("betting", "item", "discussion", "reveal", "race", "payout", "purchase"):
                phone.wait_for_function(
                    "p => document.body.dataset.phase === p && document.body.dataset.round === '2'",
                    arg=phase,
                )
                ready(phone)

            wait_phase(phone, "over")
            board.wait_for_function("document.body.dataset.phase === 'over'")
            shot(phone, "over")
            shot(board, "board-over")

            # A connection that could not use WebRTC: the status says why, in plain words.
            (tmp / "lobby").mkdir()
            lobby = Host(tmp / "lobby", "--bots", "1")
            walled = browser.new_context(viewport=PHONE, device_scale_factor=2).new_page()
            walled.goto(f"{lobby.base_url}/r/{lobby.code}?relay=turn&ice_timeout=2000")
            walled.fill("input[name=name]", "Walled")
            walled.click("button[type=submit]")
            walled.wait_for_function("window.quibble.link.status.path === 'ws-relay'")
            walled.click(".status-detail summary")
            walled.wait_for_timeout(300)
            shot(walled, "fallback")
            lobby.stop()
            browser.close()
    finally:
        for bot in bots:
            bot.stop()
        host.stop()
        undo()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
