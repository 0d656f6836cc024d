"""Three phones (headless Chromium) and two Python bots play a whole game against `quibble host`.

The phones play through the real interface (the in-page autoplay clicks the same buttons a
person taps). Chromium hides its host candidates behind mDNS `.local` names, so this also
shows the host joining such players without stalling into the WS-relay fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from peer import protocol as p
from tests.browser.conftest import Phone
from tests.browser.harness import Host, Join

pytestmark = [pytest.mark.net, pytest.mark.slow, pytest.mark.timeout(300)]


def join_by_form(phone: Phone, base_url: str, code: str, query: str = "") -> None:
    """What a person does: open the site, type the room code and a name, press Join."""
    page = phone.page
    page.goto(f"{base_url}/{query}")
    page.fill("input[name=code]", code.lower())
    page.fill("input[name=name]", phone.name)
    page.click("button[type=submit]")


def join_by_link(phone: Phone, base_url: str, code: str, query: str = "") -> None:
    """What a person does with the host's QR code: the code is already filled in."""
    page = phone.page
    page.goto(f"{base_url}/r/{code}{query}")
    assert page.input_value("input[name=code]") == code
    page.fill("input[name=name]", phone.name)
    page.click("button[type=submit]")


def test_three_phones_and_two_bots_play_a_whole_game(
    tmp_path: Path, phones: Callable[..., Phone]
) -> None:
    host = Host(
        tmp_path, "--rounds", "2", "--phase-seconds", "8", "--autostart", "5", "--seed", "5"
    )
    bots: list[Join] = []
    try:
        board = phones("Board", viewport={"width": 1280, "height": 720})
        board.page.goto(f"{host.base_url}/board/{host.code}?record=1")
        board.page.wait_for_function("document.body.dataset.phase === 'lobby'")
        players = [phones(name) for name in ("Ana", "Bo", "Cy")]
        join_by_form(players[0], host.base_url, host.code, "?autoplay=1&record=1")
        for phone in players[1:]:
            join_by_link(phone, host.base_url, host.code, "?autoplay=1&record=1")
        for i in range(2):
            bots.append(
                Join(
                    tmp_path,
                    host,
                    f"Bot{i}",
                    "--bot",
                    "heuristic" if i else "random",
                    "--seed",
                    str(i),
                )
            )
        for phone in players:
            phone.wait_phase("over", within_s=200)
        board.wait_phase("over", within_s=30)
        results = [bot.result(within_s=60) for bot in bots]
        assert host.wait(within_s=30) == 0
    finally:
        for bot in bots:
            bot.stop()
        host.stop()

    final = host.status()
    assert final["phase"] == "over"
    winners = sorted(final["winners"])
    for code, doc, out in results:
        assert code == 0, out
        assert sorted(doc["winners"]) == winners
    for phone in players:
        st = phone.state()
        view = st["view"]
        assert view["phase"] == "over"
        assert sorted(view["winners"]) == winners
        assert {s["name"] for s in view["standings"]} == {"Ana", "Bo", "Cy", "Bot0", "Bot1"}
        # Over the data channel, not the fallback: the mDNS host candidate did not stall ICE.
        assert [c["path"] for c in st["connections"]] == ["host"], st
        assert any(".local" in line for line in st["local"]), st["local"]
        text = phone.page.inner_text("[data-testid=standings]")
        assert phone.name in text
        assert not phone.errors, phone.errors
        kinds = assert_wire_is_the_protocol(phone)
        # One whole view after the welcome, then deltas, applied by the page (delta.js).
        assert kinds["welcome"] == 1 and kinds["view"] == 1 and kinds["delta"] > 20, kinds
        # The page asked for packed frames, and the larger ones (the whole view at least)
        # came packed: it played the game on them.
        assert '"packed":true' in phone.wire()["dcOut"][0]
        assert any(f.startswith('{"type":"packed"') for f in phone.wire()["dcIn"])
    by_name = {p["name"]: p for p in final["players"]}
    for name in ("Ana", "Bo", "Cy"):
        # Chromium hides its host candidates behind mDNS names; the host learns the phone's
        # LAN address from its checks (peer-reflexive) and must still call the path direct.
        assert by_name[name]["path"] == "host", by_name[name]

    assert_board_kept_secrets(board, players)


SECRET_PHASES = ("betting", "item", "discussion", "reveal", "race")


def host_messages(frames: list[str]) -> list[p.HostFrame]:
    """The host's messages in the frames a page received, chunks and packed ones opened."""
    reassembler = p.Reassembler(p.MAX_CHUNKS_FROM_HOST)
    messages: list[p.HostFrame] = []
    for text in frames:
        # Raises on a frame over 16 KiB or off-protocol, or a packed one that does not open.
        frame = p.read_host_frame(text, reassembler)
        if frame is not None:
            messages.append(frame)
    return messages


def assert_wire_is_the_protocol(phone: Phone) -> dict[str, int]:
    """Every frame the page sent and received is a peer/protocol.py Struct under 16 KiB.

    Returns how many host messages of each type it received.
    """
    wire = phone.wire()
    assert wire["dcIn"] and wire["dcOut"]
    for text in wire["dcIn"] + wire["dcOut"]:
        assert len(text.encode()) <= p.MAX_FRAME_BYTES
    for text in wire["dcOut"]:
        p.decode_player_frame(text)  # what the host's decoder makes of the page's frames
    kinds: dict[str, int] = {}
    for message in host_messages(wire["dcIn"]):
        tag = type(message).__struct_config__.tag
        kinds[str(tag)] = kinds.get(str(tag), 0) + 1
    return kinds


def assert_board_kept_secrets(board: Phone, players: list[Phone]) -> None:
    """The board saw the whole game, and never a hand, a bet before the Payout, or coins."""
    board_history = board.page.evaluate("window.quibble.history")
    phases = [entry["view"]["phase"] for entry in board_history]
    assert {"lobby", *SECRET_PHASES, "payout", "purchase", "over"} <= set(phases)
    assert board.page.inner_text("[data-testid=standings]")
    public_ids: set[str] = set()  # shop cards and flipped stacks are on the table for all
    for entry in board_history:
        view = entry["view"]
        assert "hand" not in view and "bet" not in view and "coins" not in view, view.keys()
        public_ids |= {c["id"] for c in view["shop"]}
        public_ids |= {c["id"] for s in view["stacks"] for c in s["cards"]}
        if view["phase"] in SECRET_PHASES:
            assert view["bet_results"] == [], view
            assert all(not s["cards"] for s in view["stacks"]) or view["phase"] == "race"
    hand_ids: set[str] = set()
    bet_texts: set[str] = set()
    for phone in players:
        for view in phone.page.evaluate("window.quibble.history"):
            hand_ids |= {c["id"] for c in view["hand"]}
            if view["bet"] and view["phase"] in SECRET_PHASES:
                name = view["quibbles"][view["bet"]["quibble"]]["name"]
                bet_texts.add(f"{view['bet']['amount']} on {name}")
    assert hand_ids, "the phones held cards"
    secret_ids = hand_ids - public_ids
    assert secret_ids, "some cards never left a hand"
    for entry in board_history:
        shown = entry["html"]
        assert not [i for i in hand_ids if i in shown], entry["view"]["phase"]
        if entry["view"]["phase"] in SECRET_PHASES:
            assert not [t for t in bet_texts if t in shown], entry["view"]["phase"]
    everything = board.page.evaluate("JSON.stringify(window.quibble.history.map(e => e.view))")
    assert not [i for i in secret_ids if i in everything]
    assert not board.errors, board.errors

    # The bytes themselves: everything the board's page received, on the data channel and
    # on signaling, holds no secret; the host sent it public views only.
    wire = board.wire()
    received = "".join(wire["dcIn"] + wire["wsIn"])
    assert not [i for i in secret_ids if i in received]
    assert '"type":"packed"' not in received  # a board never asks for packed frames
    messages = host_messages(wire["dcIn"])
    assert {type(m) for m in messages} <= {p.PublicViewFrame, p.Ping, p.Pong, p.Bye}
    publics = [m.view for m in messages if isinstance(m, p.PublicViewFrame)]
    assert {v.phase for v in publics} >= {"lobby", *SECRET_PHASES, "over"}
    for view in publics:
        if view.phase in SECRET_PHASES:
            assert view.bet_results == ()
    for text in wire["dcIn"]:
        assert len(text.encode()) <= p.MAX_FRAME_BYTES
        assert '"hand"' not in text and '"bet"' not in text and '"seat_token"' not in text
