"""The pages themselves: join form hooks, the /r/CODE link, readable errors and rejections,
the board's QR code, the frame splitting, and a dropped connection that comes back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qrcode
import qrcode.util

from tests.browser.conftest import Phone
from tests.browser.harness import Host
from tests.browser.test_browser_game import host_messages, join_by_link

pytestmark = [pytest.mark.net, pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def lobby_host(tmp_path: Path) -> Any:
    """A host waiting in its lobby with one in-process bot."""
    host = Host(tmp_path, "--bots", "1", "--phase-seconds", "60")
    yield host
    host.stop()


def test_the_join_form_has_the_documented_hooks_and_the_link_prefills_the_code(
    lobby_host: Host, phones: Callable[..., Phone]
) -> None:
    phone = phones("Fay")
    page = phone.page
    page.goto(f"{lobby_host.base_url}/")
    assert page.input_value("input[name=code]") == ""
    for selector in ("input[name=code]", "input[name=name]", "button[type=submit]"):
        assert page.locator(selector).count() == 1
    assert page.get_by_label("Room code").count() == 1
    assert page.get_by_label("Your name").count() == 1
    page.fill("input[name=code]", "AB1")
    page.fill("input[name=name]", "Fay")
    page.click("button[type=submit]")
    assert "4 letters" in page.inner_text("#join-error")
    assert page.evaluate("document.body.dataset.phase") == "join"

    join_by_link(phone, lobby_host.base_url, lobby_host.code)
    phone.wait_phase("lobby")
    assert page.url.endswith(f"/r/{lobby_host.code}")
    # The status line: the path in use, then the round-trip time once a pong came back.
    status = page.locator("[data-testid=connection-status]")
    assert status.inner_text().startswith("direct")
    page.wait_for_function(
        "/^direct · \\d+ ms$/.test("
        "document.querySelector('[data-testid=connection-status]').textContent)"
    )
    label = page.get_by_role("status").first.get_attribute("aria-label") or ""
    assert label.startswith("Connection: direct · ")
    assert "Fay (you)" in page.inner_text("[data-testid=player-1]")
    assert page.locator("[data-testid=start-game]").is_visible()
    assert not phone.errors, phone.errors


def test_an_unknown_room_says_so_in_plain_words(
    lobby_host: Host, phones: Callable[..., Phone]
) -> None:
    phone = phones("Gus")
    missing = "ZZZZ" if lobby_host.code != "ZZZZ" else "YYYY"
    phone.page.goto(f"{lobby_host.base_url}/r/{missing}")
    phone.page.fill("input[name=name]", "Gus")
    phone.page.click("button[type=submit]")
    status = phone.page.locator("[data-testid=connection-status]")
    status.filter(has_text=f"No room {missing}").wait_for()


def test_a_refused_action_is_shown_as_a_readable_message(
    tmp_path: Path, phones: Callable[..., Phone]
) -> None:
    host = Host(tmp_path, "--bots", "2", "--autostart", "3", "--phase-seconds", "60")
    try:
        phone = phones("Hal")
        join_by_link(phone, host.base_url, host.code)
        phone.wait_phase("betting")
        page = phone.page
        page.click("[data-testid=quibble-0]")
        page.fill("[data-testid=bet-amount]", "999999")
        page.click("[data-testid=place-bet]")
        toast = page.locator("[data-testid=rejection]")
        toast.wait_for()
        assert toast.get_attribute("data-code") == "insufficient_coins"
        assert toast.inner_text().startswith("Your bet: Not enough coins.")
        assert page.get_by_role("alert").count() >= 1
        assert phone.state()["view"]["bet"] is None
    finally:
        host.stop()


def test_a_dropped_link_a_page_back_from_the_background_and_a_network_back_online_reconnect(
    tmp_path: Path, phones: Callable[..., Phone]
) -> None:
    host = Host(tmp_path, "--bots", "1", "--phase-seconds", "60")
    try:
        phone = phones("Ida")
        page = phone.page
        join_by_link(phone, host.base_url, host.code)
        phone.wait_phase("lobby")
        seat = phone.state()["seat"]

        def back_at_seat(connections: int) -> None:
            page.wait_for_function(
                "n => window.quibble.link.connections.length === n"
                " && window.quibble.link.status.stage === 'open'",
                arg=connections,
                timeout=30_000,
            )
            assert phone.state()["seat"] == seat
            st = host.wait_status(
                lambda s: (
                    [p["connections"] for p in s["players"] if p["name"] == "Ida"] == [connections]
                    and all(p["connected"] for p in s["players"])
                )
            )
            assert len(st["players"]) == 2  # the same seat, never a new one

        # What a phone's OS does to a page in the background: the connection just dies.
        page.evaluate("window.quibble.link.peer.pc.close()")
        back_at_seat(2)

        # Coming back to the foreground with a live link does not reconnect again...
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.evaluate("window.dispatchEvent(new Event('pageshow'))")
        assert page.evaluate("window.quibble.link.status.stage") == "open"
        # ...nor does a page that is still hidden.
        hidden = """() => {
            const link = window.quibble.link;
            Object.defineProperty(
                document, 'visibilityState', {value: 'hidden', configurable: true});
            link.lastHeard -= 10000;
            document.dispatchEvent(new Event('visibilitychange'));
            const stage = link.status.stage;
            delete document.visibilityState;
            link.lastHeard += 10000;
            return stage;
        }"""
        assert page.evaluate(hidden) == "open"

        # A page back in the foreground after its timers slept (nothing heard for 10 s, and
        # the heartbeat never ran to notice): it reconnects at once, not after a timeout.
        woke = """() => {
            const link = window.quibble.link;
            link.lastHeard -= 10000;
            document.dispatchEvent(new Event('visibilitychange'));
            return link.status.stage;
        }"""
        assert page.evaluate(woke) == "signaling"
        back_at_seat(3)

        # A network blip: the link waits out its backoff; the network coming back (the
        # `online` event) cuts the wait short.
        blip = """() => {
            const link = window.quibble.link;
            link.failures = 4;
            link.lost('a network blip');
            const waiting = link.status.stage;
            window.dispatchEvent(new Event('online'));
            return [waiting, link.status.stage];
        }"""
        assert page.evaluate(blip) == ["reconnecting", "signaling"]
        back_at_seat(4)
        assert not phone.errors, phone.errors
    finally:
        host.stop()


def test_a_lost_delta_is_mended_with_a_resync_not_a_reconnect(
    tmp_path: Path, phones: Callable[..., Phone]
) -> None:
    host = Host(tmp_path, "--bots", "2", "--autostart", "3", "--phase-seconds", "60")
    try:
        phone = phones("Kim")
        page = phone.page
        join_by_link(phone, host.base_url, host.code)
        phone.wait_phase("betting")
        # The next delta the host sends is lost on the way (the WS relay drops frames over
        # its byte budget): the page never sees it, so the one after does not follow.
        page.evaluate(
            """() => {
                const link = window.quibble.link;
                const receive = link.onFrameText.bind(link);
                let lose = true;
                link.onFrameText = (text) => {
                    if (lose && JSON.parse(text).type === 'delta') { lose = false; return; }
                    receive(text);
                };
            }"""
        )
        for quibble, amount in ((0, "5"), (1, "6")):
            page.click(f"[data-testid=quibble-{quibble}]")
            page.fill("[data-testid=bet-amount]", amount)
            page.click("[data-testid=place-bet]")
        page.wait_for_function(
            "() => window.quibble.link.resyncs === 1 && !window.quibble.link.resyncing"
            " && window.quibble.view.bet?.amount === 6",
            timeout=30_000,
        )
        assert phone.state()["view"]["bet"] == {"quibble": 1, "amount": 6}
        wire = phone.wire()
        sent = [json.loads(f)["type"] for f in wire["dcOut"]]
        got = [type(m).__struct_config__.tag for m in host_messages(wire["dcIn"])]
        assert sent.count("resync") == 1 and sent.count("hello") == 1
        # One welcome, and a second whole view: the one the resync asked for.
        assert got.count("welcome") == 1 and got.count("view") == 2, got
        assert phone.state()["stage"] == "open"
        assert len(phone.state()["connections"]) == 1  # no reconnect
        assert not phone.errors, phone.errors
    finally:
        host.stop()


def test_signaling_briefly_unavailable_is_retried_not_fatal(
    lobby_host: Host, phones: Callable[..., Phone]
) -> None:
    # The signaling server answers error{unavailable} while its Redis is down. Here the
    # page's socket goes through Playwright's WebSocket route to the real server, which
    # refuses the first join and the first offer as a server without its Redis would.
    refused: list[str] = []
    sent: list[str] = []

    def route(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            kind = json.loads(message).get("type")
            sent.append(kind)
            if kind in ("join", "offer") and kind not in refused:
                refused.append(kind)
                ws.send(json.dumps({
                    "type": "error", "code": "unavailable", "about": kind,
                    "message": "rooms are unreachable; retry soon",
                }))  # fmt: skip
                return
            server.send(message)

        ws.on_message(from_page)
        server.on_message(ws.send)

    phone = phones("Lu")
    phone.page.route_web_socket("**/ws", route)
    join_by_link(phone, lobby_host.base_url, lobby_host.code)
    phone.wait_phase("lobby", within_s=30)
    assert refused == ["join", "offer"]
    state = phone.state()
    assert state["stage"] == "open" and state["seat"] is not None
    assert len(state["connections"]) == 1
    # Each refusal started the attempt again (a fresh socket and join), never gave up.
    assert sent.count("join") == 3 and sent.count("offer") == 2, sent
    assert not phone.errors, phone.errors


def test_the_board_shows_a_scannable_qr_code_of_the_join_url(
    lobby_host: Host, phones: Callable[..., Phone]
) -> None:
    board = phones("Board", viewport={"width": 1280, "height": 720})
    page = board.page
    page.goto(f"{lobby_host.base_url}/board/{lobby_host.code}")
    page.wait_for_function("document.body.dataset.phase === 'lobby'")
    join_url = f"{lobby_host.base_url}/r/{lobby_host.code}"
    assert page.inner_text("[data-testid=join-url]") == join_url
    assert page.inner_text("[data-testid=room-code]") == lobby_host.code
    assert page.locator("[data-testid=join-qr] svg[role=img]").count() == 1
    # The module grid the page drew is the one a reference encoder makes for that text.
    drawn = page.evaluate("async (t) => (await import('/static/qr.js')).encodeQr(t)", join_url)
    reference = qrcode.QRCode(
        version=drawn["version"],
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        mask_pattern=drawn["mask"],
        border=0,
    )
    reference.add_data(qrcode.util.QRData(join_url.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
    reference.make(fit=False)
    assert drawn["modules"] == reference.modules
    assert not board.errors, board.errors


@pytest.mark.parametrize(
    ("text", "ecl"),
    [
        ("http://10.0.0.5:8080/r/ABCD", "M"),
        ("x" * 100, "L"),
        ("héllo wörld " * 20, "Q"),
        ("A" * 400, "H"),
        ("z" * 1200, "M"),
    ],
)
def test_the_qr_encoder_matches_a_reference_encoder_for_every_mask(
    lobby_host: Host, phones: Callable[..., Phone], text: str, ecl: str
) -> None:
    page = phones("QR").page
    page.goto(f"{lobby_host.base_url}/")
    for mask in range(8):
        version, modules = page.evaluate(
            """async ([t, e, m]) => {
                const r = (await import('/static/qr.js')).encodeQr(t, {ecl: e, mask: m});
                return [r.version, r.modules];
            }""",
            [text, ecl, mask],
        )
        reference = qrcode.QRCode(
            version=version,
            error_correction=getattr(qrcode.constants, f"ERROR_CORRECT_{ecl}"),
            mask_pattern=mask,
            border=0,
        )
        reference.add_data(qrcode.util.QRData(text.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
        reference.make(fit=False)
        assert modules == reference.modules, (ecl, version, mask)


def test_large_messages_split_into_frames_under_16_kib_and_back(
    lobby_host: Host, phones: Callable[..., Phone]
) -> None:
    from peer import protocol as p

    page = phones("Wire").page
    page.goto(f"{lobby_host.base_url}/")
    message = {"type": "action", "ref": 1, "padding": "é" * 10_000}  # 20 KB of UTF-8
    frames = page.evaluate("async (m) => (await import('/static/wire.js')).toFrames(m, 7)", message)
    assert len(frames) == 2
    assert all(len(f.encode()) <= p.MAX_FRAME_BYTES for f in frames)
    # The host's own reassembler puts the browser's chunks back together.
    reassembler = p.Reassembler(p.MAX_CHUNKS_FROM_PLAYER)
    pieces = [reassembler.add(p.decode_player_frame(f)) for f in frames]  # type: ignore[arg-type]
    assert pieces[0] is None and json.loads(pieces[1] or b"") == message
    # And the browser reassembles the host's chunks (made by peer/protocol.py).
    big = json.dumps({"type": "bye", "reason": "x", "message": "ü" * 30_000}).encode()
    host_frames = list(p.to_frames(big, 9))
    assert len(host_frames) > 1
    back = page.evaluate(
        """async (fs) => {
            const r = new (await import('/static/wire.js')).FrameReader();
            return fs.map((f) => r.receive(f)).at(-1);
        }""",
        host_frames,
    )
    assert back == json.loads(big)
    # A chunk out of order is refused, not buffered.
    bad = json.loads(host_frames[1])
    error = page.evaluate(
        """async (f) => {
            const r = new (await import('/static/wire.js')).FrameReader();
            try { r.receive(f); return null; } catch (e) { return e.code; }
        }""",
        json.dumps(bad),
    )
    assert error == "bad_chunk"


def test_packed_frames_open_as_the_python_player_opens_them(
    lobby_host: Host, phones: Callable[..., Phone]
) -> None:
    import base64
    import zlib

    from game import GameConfig, new_game, view_for
    from game.actions import AddPlayer
    from game.engine import apply
    from peer import protocol as p

    def deflate(data: bytes) -> str:
        d = zlib.compressobj(6, zlib.DEFLATED, -15)
        return base64.b64encode(d.compress(data) + d.flush()).decode()

    page = phones("Packed").page
    page.goto(f"{lobby_host.base_url}/")
    ping = b'{"type":"ping","id":1,"sent_ms":1}'
    state = new_game(GameConfig(seed=3, max_players=100))
    for seat in range(100):
        state = apply(state, AddPlayer(seat=seat, name=f"Ünïcode {seat}"), None).state
    big = p.encode(p.ViewFrame(view=view_for(state, 7), seq=0))
    assert len(big) > 8 * p.PACK_MIN_BYTES
    cases = [
        p.pack(ping).decode(),
        *p.to_frames(p.pack(big), 4),  # a whole 100-player view: one packed frame
        json.dumps({"type": "packed", "data": "!!!"}),
        json.dumps({"type": "packed", "data": deflate(ping)[:-8]}),  # truncated
        p.pack(p.pack(ping)).decode(),  # nested
        json.dumps({"type": "packed", "data": deflate(b" " * (p.MAX_UNPACKED_BYTES + 10))}),
    ]
    outcomes = page.evaluate(
        """async (frames) => {
            const wire = await import('/static/wire.js');
            const reader = new wire.FrameReader();
            const out = [];
            for (const text of frames) {
                try {
                    const frame = reader.receive(text);
                    if (frame === null) continue;
                    out.push(frame.type === 'packed' ? await wire.unpack(frame) : frame);
                } catch (e) { out.push({ refused: e.code }); }
            }
            return [wire.CAN_UNPACK, out];
        }""",
        cases,
    )
    python: list[Any] = []
    reassembler = p.Reassembler(p.MAX_CHUNKS_FROM_HOST)
    for text in cases:
        try:
            frame = p.read_host_frame(text, reassembler)
            if frame is not None:
                python.append(json.loads(p.encode(frame)))
        except p.FrameError as exc:
            python.append({"refused": exc.code})
    assert outcomes == [True, python]
    assert python[:2] == [json.loads(ping), json.loads(big)]
    assert [x.get("refused") for x in python[2:]] == [
        "bad_packed", "bad_packed", "bad_packed", "too_large"
    ]
