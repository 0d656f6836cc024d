"""A hostile player over a real data channel: the host refuses, then drops it; the game goes on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from peer import protocol as p
from peer.signal_client import SignalingClient
from peer.webrtc import accept_answer, make_offer, wait_open
from signaling import protocol as sp
from tests.net.peer_harness import HostProcess, start_bots

pytestmark = [pytest.mark.net, pytest.mark.slow]


class RawChannel:
    """A data channel to the host that sends whatever bytes the test wants."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = asyncio.Event()

    async def open(self, host: HostProcess, name: str) -> None:
        self.client = await SignalingClient.connect(host.signal_url)
        self.client.send(sp.Join(code=host.code, name=name))
        await self.client.expect(sp.Joined, within_s=10)
        self.pc, self.channel, offer = await make_offer([], False)
        self.channel.on("message", self.inbox.put_nowait)
        self.channel.on("close", self.closed.set)
        self.client.send(sp.Offer(sdp=offer))
        answer = await self.client.expect(sp.Answer, within_s=10)
        assert isinstance(answer, sp.Answer)
        await accept_answer(self.pc, answer.sdp)
        await wait_open(self.channel, 10)

    def send(self, data: str | bytes) -> None:
        self.channel.send(data)

    async def next(self, kind: type[p.Frame], within_s: float = 10) -> Any:
        async with asyncio.timeout(within_s):
            while True:
                frame = p.decode_host_frame(await self.inbox.get())
                if isinstance(frame, kind):
                    return frame

    async def close(self) -> None:
        await self.pc.close()
        await self.client.close()


async def test_hostile_frames_are_refused_flooder_dropped_and_the_game_goes_on(
    tmp_path: Path,
) -> None:
    host = await HostProcess.start(
        tmp_path, "--rounds", "2", "--phase-seconds", "5", "--autostart", "4", "--seed", "3",
    )
    mallory = RawChannel()
    bots = []
    try:
        await mallory.open(host, "Mallory")
        mallory.send(b"\x00\xff\xfe not even text")
        assert (await mallory.next(p.Rejected)).code == "malformed"
        mallory.send(json.dumps({"type": "action", "action": {"type": "Ready", "seat": 0}}))
        assert (await mallory.next(p.Rejected)).code == "hello_first"
        mallory.send(p.encode(p.Hello(version=1, name="Mallory")).decode())
        welcome = await mallory.next(p.Welcome)
        me = welcome.seat
        bots = await start_bots(tmp_path, host, 3, "--bot-delay", "0.2")
        await mallory.next(p.ViewFrame)

        hostile: list[tuple[str | bytes, str]] = [
            ("x" * (p.MAX_FRAME_BYTES + 100), "too_large"),
            ('{"type": "welcome", "version": 1, "seat": 0, "seat_token": "'
             + "a" * 20 + '", "room": "X"}', "invalid"),
            ('{"type": "no-such-type"}', "invalid"),
            ('{"type": "action", "action": {"type": "Teleport", "seat": 0}}', "invalid"),
            (json.dumps({"type": "action", "ref": 9, "action": {"type": "Ready", "seat": me + 1}}),
             "wrong_seat"),
            (json.dumps({"type": "action", "action": {"type": "Timeout", "round": 1,
                                                      "phase": "betting"}}), "host_only"),
            (json.dumps({"type": "action", "action": {"type": "AddPlayer", "seat": 50,
                                                      "name": "Sybil"}}), "host_only"),
            (json.dumps({"type": "chunk", "id": 1, "index": 0, "count": 100, "data": ""}),
             "too_large"),
            (json.dumps({"type": "chunk", "id": 1, "index": 3, "count": 2, "data": ""}),
             "bad_chunk"),
            (json.dumps({"type": "hello", "version": 1, "name": "Again"}), "already_welcomed"),
        ]
        for raw, code in hostile:
            mallory.send(raw)
            rejected = await mallory.next(p.Rejected)
            assert rejected.code == code, (raw[:80], rejected)
        status = await host.wait_status(lambda s: len(s["players"]) == 4)
        assert [pl["name"] for pl in status["players"]].count("Sybil") == 0

        # A flood: far more frames than any player sends. The host drops Mallory.
        ping = p.encode(p.Ping(id=1, sent_ms=1)).decode()
        for _ in range(3000):
            mallory.send(ping)
        async with asyncio.timeout(20):
            await mallory.closed.wait()
        dropped = await host.wait_status(
            lambda s: any(pl["seat"] == me and not pl["connected"] for pl in s["players"])
        )
        assert dropped["phase"] != "over" or dropped["winners"]

        results = await asyncio.gather(*(b.result(within_s=90) for b in bots))
        assert await host.wait(within_s=30) == 0
    finally:
        await mallory.close()
        for b in bots:
            await b.stop()
        await host.stop()
    for code, _doc, out in results:
        assert code == 0, out
    assert len({tuple(doc["winners"]) for _, doc, _ in results}) == 1
    assert any("dropping" in line and "Mallory" in line
               for line in (tmp_path / "host.log").read_text().splitlines())
