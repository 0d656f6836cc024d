"""Real `quibble signal --redis` node processes sharing one real redis-server.

A host on node A and players on nodes B and C signal and play a whole game; node B is
killed (SIGKILL) mid-game and its players, cut off (they play over the WebSocket relay
through B), come back through node C with their tokens and finish. A load balancer in front
of the nodes is modelled by a DNAT rule in the suite's namespace: the address B's players
use leads to B, then, once the balancer has moved on, to C.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from signaling import protocol as p
from signaling.client import SignalingClient
from tests.net.peer_harness import (
    HOST_ADDR,
    HostProcess,
    JoinProcess,
    iptables,
    quibble_env,
    terminate,
)
from tests.redis_server import RedisServer, free_port

pytestmark = [pytest.mark.net]
WITHIN = 15.0  # a bound on waiting for one event, never a measured claim

NODE_CONFIG = """\
[signaling]
node_heartbeat = 0.25
node_timeout = 1.5
host_grace = 60.0
"""


class Node:
    """One `quibble signal --redis URL` process."""

    def __init__(self, proc: asyncio.subprocess.Process, info: dict[str, Any]) -> None:
        self.proc = proc
        self.url: str = info["url"]
        self.ws_url: str = info["ws_url"]
        self.port: int = info["port"]
        self.node: str = info["node"]

    @classmethod
    async def start(cls, tmp: Path, redis_url: str, name: str) -> Node:
        config = tmp / "node.toml"
        config.write_text(NODE_CONFIG)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "peer", "signal", "--bind", HOST_ADDR, "--port", "0",
            "--json", "--redis", redis_url, "--config", str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=(tmp / f"node-{name}.log").open("ab"),
            env=quibble_env(),
        )
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = await proc.stdout.readline()
        assert line, f"node {name} exited: {(tmp / f'node-{name}.log').read_text()}"
        info = json.loads(line)
        assert info["backend"] == "redis"
        return cls(proc, info)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        await terminate(self.proc)

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http, http.get(self.url + path) as resp:
            return resp.status, await resp.text()


@pytest.fixture
async def redis(tmp_path: Path) -> Any:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def nodes(tmp_path: Path, redis: RedisServer) -> Any:
    started: list[Node] = []

    async def _start(name: str) -> Node:
        node = await Node.start(tmp_path, redis.url, name)
        started.append(node)
        return node

    yield _start
    for node in started:
        await node.stop()


async def test_redis_unreachable_at_start_exits_with_a_clear_error(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peer", "signal", "--bind", HOST_ADDR, "--port", "0",
        "--redis", f"redis://127.0.0.1:{port}/0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=quibble_env(),
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    assert proc.returncode == 5, (out, err)  # exit_codes.CONNECTION_FAILED
    text = err.decode()
    assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in text
    assert "run without --redis" in text
    assert b"signaling on" not in out


async def test_signaling_and_relay_across_nodes_survive_killing_a_node(nodes: Any) -> None:
    a, b, c = await nodes("A"), await nodes("B"), await nodes("C")
    host = await SignalingClient.connect(a.ws_url)
    bea = await SignalingClient.connect(b.ws_url)
    cy = await SignalingClient.connect(c.ws_url)
    try:
        created = await host.create()
        bea_joined = await bea.join(created.code, "Bea")
        await cy.join(created.code, "Cy")
        for _ in range(2):
            await host.expect(p.PeerJoined, WITHIN)
        await host.send(p.Offer(seat=1, sdp="v=0 to B"))
        assert await bea.expect(p.Offer, WITHIN) == p.Offer(sdp="v=0 to B")
        await cy.send(p.Relay(data="frame from C"))
        assert await host.expect(p.Relay, WITHIN) == p.Relay(data="frame from C", seat=2)
        await host.send(p.Relay(seat=1, data="frame to B"))
        assert await bea.expect(p.Relay, WITHIN) == p.Relay(data="frame to B")

        await b.kill()
        await bea.wait_closed(WITHIN)
        # A surviving node sees B's heartbeat stop and tells the host.
        assert await host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(
            seat=1, reason="disconnected"
        )
        await bea.close()
        bea = await SignalingClient.connect(c.ws_url)
        back = await bea.join(created.code, "Bea", seat_token=bea_joined.seat_token)
        assert (back.seat, back.resumed, back.host_connected) == (1, True, True)
        assert (await host.expect(p.PeerJoined, WITHIN)).resumed
        await host.send(p.Relay(seat=1, data="frame to B, now on C"))
        assert await bea.expect(p.Relay, WITHIN) == p.Relay(data="frame to B, now on C")
        await bea.send(p.Relay(data="back"))
        assert await host.expect(p.Relay, WITHIN) == p.Relay(data="back", seat=1)

        for node in (a, c):
            status, body = await node.get("/healthz")
            assert status == 200 and json.loads(body)["backend"]["node"] == node.node
        reaped = [
            line
            for node in (a, c)
            for line in (await node.get("/metrics"))[1].splitlines()
            if line.startswith("quibble_signaling_nodes_reaped_total ")
        ]
        assert sorted(reaped) == [
            "quibble_signaling_nodes_reaped_total 0",
            "quibble_signaling_nodes_reaped_total 1",
        ]
    finally:
        for client in (host, bea, cy):
            await client.close()


@pytest.mark.slow
async def test_game_across_nodes_finishes_after_a_node_is_killed(
    tmp_path: Path, nodes: Any
) -> None:
    a, b, c = await nodes("A"), await nodes("B"), await nodes("C")
    # The "load balancer" address B's players are given: a port nobody listens on, sent on
    # to node B by DNAT (connections keep their node; new ones follow the current rule).
    vport = free_port(HOST_ADDR)
    to_b = ["OUTPUT", "-p", "tcp", "-d", HOST_ADDR, "--dport", str(vport), "-j", "DNAT",
            "--to-destination", f"{HOST_ADDR}:{b.port}"]
    to_c = [*to_b[:-1], f"{HOST_ADDR}:{c.port}"]
    iptables("-t", "nat", "-A", *to_b)
    rules = [to_b]
    host = await HostProcess.start(
        tmp_path, "--signal", a.url, "--rounds", "2", "--phase-seconds", "4",
        "--autostart", "4", "--seed", "11",
    )
    balanced = f"http://{HOST_ADDR}:{vport}"
    joins = [
        # B's players relay their game through B: killing B cuts them off for real.
        *[
            await JoinProcess.start(
                tmp_path, host.code, balanced, f"B{i}", "--bot", "heuristic", "--seed", str(i),
                "--ws-relay", "--bot-delay", "0.2",
            )
            for i in range(2)
        ],
        # C's players: one over a WebRTC data channel (signaled across nodes), one relayed.
        await JoinProcess.start(
            tmp_path, host.code, c.url, "C0", "--bot", "random", "--seed", "5",
            "--bot-delay", "0.2",
        ),
        await JoinProcess.start(
            tmp_path, host.code, c.url, "C1", "--bot", "random", "--seed", "6",
            "--ws-relay", "--bot-delay", "0.2",
        ),
    ]
    try:
        started = await host.wait_status(
            lambda s: s["phase"] not in ("lobby", "over") and len(s["players"]) == 4,
            within_s=60,
        )
        assert sorted(pl["path"] for pl in started["players"]) == [
            "host", "ws-relay", "ws-relay", "ws-relay"
        ]
        # The balancer stops sending new connections to B; then B dies mid-game.
        iptables("-t", "nat", "-I", *to_c)
        iptables("-t", "nat", "-D", *to_b)
        rules = [to_c]
        await b.kill()
        results = await asyncio.gather(*(j.result(within_s=120) for j in joins))
        assert await host.wait(within_s=30) == 0
    finally:
        for rule in rules:
            iptables("-t", "nat", "-D", *rule)
        for j in joins:
            await j.stop()
        await host.stop()
    for code, doc, out in results:
        assert code == 0, out
        assert doc["winners"], doc
    assert len({tuple(doc["winners"]) for _, doc, _ in results}) == 1
    assert [doc["reconnects"] >= 1 for _, doc, _ in results] == [True, True, False, False]
    final = host.status()
    assert final["phase"] == "over" and len(final["players"]) == 4
    assert final["winners"] == results[0][1]["winners"]


async def test_a_frozen_node_taken_for_dead_drops_its_stale_sockets(nodes: Any) -> None:
    a, b = await nodes("A"), await nodes("B")
    host = await SignalingClient.connect(a.ws_url)
    dee = await SignalingClient.connect(b.ws_url)
    try:
        created = await host.create()
        joined = await dee.join(created.code, "Dee")
        await host.expect(p.PeerJoined, WITHIN)
        b.proc.send_signal(signal.SIGSTOP)  # a long pause (a VM freeze, a swap storm)
        try:
            assert await host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(
                seat=1, reason="disconnected"
            )
        finally:
            b.proc.send_signal(signal.SIGCONT)
        # B wakes up, learns it was taken for dead and closes its stale socket (1012), so
        # Dee reconnects instead of talking into a seat the cluster handed over.
        assert await dee.wait_closed(WITHIN) == 1012
        await dee.close()
        dee = await SignalingClient.connect(b.ws_url)
        back = await dee.join(created.code, "Dee", seat_token=joined.seat_token)
        assert back.resumed and (await host.expect(p.PeerJoined, WITHIN)).resumed
        await host.send(p.Relay(seat=1, data="welcome back"))
        assert await dee.expect(p.Relay, WITHIN) == p.Relay(data="welcome back")
    finally:
        await host.close()
        await dee.close()
