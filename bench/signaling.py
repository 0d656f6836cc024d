"""Signaling speed: join latency with 100 clients joining one room at once and with 100
rooms in parallel, and WebSocket relay throughput (messages/s through the server).

The server runs as a separate `quibble signal` process on 127.0.0.1 (so client and server
do not share one event loop), with limits raised for a load test. Run:
    .venv/bin/python bench/signaling.py [--players 100] [--rooms 100] [--per-room 4]
    .venv/bin/python bench/signaling.py --multi-node [--repeat 3]
The second runs the parallel-rooms load against the in-memory single node and against 1, 2
and 3 `quibble signal --redis` nodes sharing one redis-server (started here, in a temporary
directory), hosts and players spread so that each player's node differs from its host's
whenever there is more than one node, and prints them side by side.
Figures go to docs/PERFORMANCE.md (Signaling section). Nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import machine  # noqa: E402
from signaling import protocol as p  # noqa: E402
from signaling.client import SignalingClient  # noqa: E402

# A load test from one address would trip the per-IP limits meant for strangers.
LOAD_CONFIG = """\
[signaling]
max_sockets_per_ip = 100000
max_clients = 100000
create_rate = 100000.0
create_burst = 100000
join_rate = 100000.0
join_burst = 100000
ip_message_rate = 10000000.0
ip_message_burst = 10000000
host_message_rate = 1000000.0
host_message_burst = 1000000
player_message_rate = 1000000.0
player_message_burst = 1000000
relay_bytes_per_second = 1e12
relay_burst_bytes = 1000000000000
"""
RELAY_FRAME = json.dumps({"type": "action", "ref": 1, "action": {"type": "ready", "seat": 1}})


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def timed_join(
    session: aiohttp.ClientSession, url: str, code: str, name: str
) -> tuple[SignalingClient, float]:
    """Connect and join; returns the client and the seconds from connect to ``joined``."""
    t0 = time.perf_counter()
    client = await SignalingClient.connect(url, session=session)
    await client.join(code, name)
    return client, time.perf_counter() - t0


async def drain_host(host: SignalingClient, count: int) -> None:
    """Read ``count`` peer-joined messages from a host."""
    for _ in range(count):
        await host.expect(p.PeerJoined, 60)


async def one_room(session: aiohttp.ClientSession, url: str, players: int) -> dict[str, float]:
    """``players`` clients joining one room at once, then relay both ways."""
    host = await SignalingClient.connect(url, session=session)
    code = (await host.create()).code
    t0 = time.perf_counter()
    draining = asyncio.create_task(drain_host(host, players))
    results = await asyncio.gather(
        *(timed_join(session, url, code, f"P{i}") for i in range(players))
    )
    await draining
    wall = time.perf_counter() - t0
    latencies = [r[1] * 1000 for r in results]
    clients = [r[0] for r in results]
    relay_rate = await relay_round(host, clients, frames_each=200)
    for c in [*clients, host]:
        await c.close()
    return {
        "join_p50_ms": pct(latencies, 50),
        "join_p99_ms": pct(latencies, 99),
        "all_joined_s": wall,
        "relay_msgs_per_s": relay_rate,
    }


async def relay_round(
    host: SignalingClient, players: list[SignalingClient], frames_each: int
) -> float:
    """Each player sends ``frames_each`` relay frames to the host, which sends as many back
    to each player; returns frames delivered per second (both directions counted)."""
    t0 = time.perf_counter()

    async def player_side(client: SignalingClient) -> None:
        for _ in range(frames_each):
            await client.send(p.Relay(data=RELAY_FRAME))
        for _ in range(frames_each):
            await client.expect(p.Relay, 60)

    async def host_side() -> None:
        received = 0
        while received < frames_each * len(players):
            message = await host.expect(p.Relay, 60)
            received += 1
            await host.send(p.Relay(seat=message.seat or 0, data=RELAY_FRAME))

    await asyncio.gather(host_side(), *(player_side(c) for c in players))
    elapsed = time.perf_counter() - t0
    return 2 * frames_each * len(players) / elapsed


async def many_rooms(
    session: aiohttp.ClientSession, url: str | list[str], rooms: int, per_room: int
) -> dict[str, float]:
    """``rooms`` rooms created at once, ``per_room`` players joining each, then relay.

    With several node URLs, room ``r``'s host uses node ``r % n`` and its ``i``-th player
    node ``(r + i + 1) % n``: with two or more nodes every player is on another node than
    its host (so every message crosses Redis pub/sub)."""
    urls = [url] if isinstance(url, str) else url
    n = len(urls)

    async def room(r: int) -> tuple[SignalingClient, list[tuple[SignalingClient, float]], float]:
        t0 = time.perf_counter()
        host = await SignalingClient.connect(urls[r % n], session=session)
        code = (await host.create()).code
        create_s = time.perf_counter() - t0
        draining = asyncio.create_task(drain_host(host, per_room))
        joined = await asyncio.gather(
            *(
                timed_join(session, urls[(r + i + 1) % n], code, f"P{i}")
                for i in range(per_room)
            )
        )
        await draining
        return host, joined, create_s

    t0 = time.perf_counter()
    made = await asyncio.gather(*(room(r) for r in range(rooms)))
    wall = time.perf_counter() - t0
    latencies = [j[1] * 1000 for _, joined, _ in made for j in joined]
    creates = [c * 1000 for _, _, c in made]
    t1 = time.perf_counter()
    await asyncio.gather(
        *(relay_round(host, [j[0] for j in joined], frames_each=20) for host, joined, _ in made)
    )
    relay_elapsed = time.perf_counter() - t1
    relay_rate = 2 * 20 * rooms * per_room / relay_elapsed
    for host, joined, _ in made:
        for client, _ in joined:
            await client.close()
        await host.close()
    return {
        "create_p50_ms": pct(creates, 50),
        "create_p99_ms": pct(creates, 99),
        "join_p50_ms": pct(latencies, 50),
        "join_p99_ms": pct(latencies, 99),
        "all_joined_s": wall,
        "joins_per_s": rooms * per_room / wall,
        "relay_msgs_per_s": relay_rate,
    }


def _log_file() -> Any:
    """Where node processes log (QUIBBLE_BENCH_LOG, else nowhere)."""
    target = os.environ.get("QUIBBLE_BENCH_LOG")
    return open(target, "ab") if target else asyncio.subprocess.DEVNULL


def _write(path: str, text: str) -> None:
    Path(path).write_text(text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    """A throwaway redis-server (no persistence) on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = _free_port()
    with tempfile.TemporaryDirectory() as workdir:
        proc = await asyncio.create_subprocess_exec(
            binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
            "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.kill()
            await proc.wait()


@asynccontextmanager
async def signal_nodes(
    count: int, config: str, redis_url: str | None
) -> AsyncIterator[list[dict[str, str]]]:
    """``count`` `quibble signal` processes (with --redis when given); yields their JSON."""
    procs: list[asyncio.subprocess.Process] = []
    infos: list[dict[str, str]] = []
    try:
        for _ in range(count):
            extra = ("--redis", redis_url) if redis_url else ()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "peer", "signal", "--bind", "127.0.0.1", "--port", "0", "--json"),
                *("--config", config, *extra),
                stdout=asyncio.subprocess.PIPE,
                stderr=_log_file(),
                cwd=ROOT,
            )
            procs.append(proc)
            assert proc.stdout is not None
            infos.append(json.loads(await asyncio.wait_for(proc.stdout.readline(), 30)))
        yield infos
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()


async def multi_node(args: argparse.Namespace, config: str) -> None:
    """In-memory single node vs 1, 2, 3 Redis nodes, the parallel-rooms load on each."""
    print(f"machine: {machine()}")
    print(
        f"load: {args.rooms} rooms x {args.per_room} players created/joined at once, then "
        f"20 relay frames each way per player; best of {args.repeat} runs per setup"
    )
    setups: list[tuple[str, int]] = [("memory", 1), ("redis", 1), ("redis", 2), ("redis", 3)]
    labels = {
        setup: "in-memory, 1 node" if setup[0] == "memory" else f"Redis, {setup[1]} node(s)"
        for setup in setups
    }
    # Setups take turns (memory, 1, 2, 3, memory, ...) so that other load on a shared machine
    # falls on all of them alike; each figure is the best of its runs.
    runs: dict[tuple[str, int], list[dict[str, float]]] = {setup: [] for setup in setups}
    print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    async with redis_server() as redis_url:
        for run_no in range(args.repeat):
            for backend, count in setups:
                # A fresh cluster (and an unused Redis key prefix) per run.
                prefix_config = config + f".{backend}{count}.{run_no}.toml"
                _write(prefix_config, LOAD_CONFIG + f'redis_prefix = "b{count}r{run_no}:"\n')
                try:
                    url = redis_url if backend == "redis" else None
                    async with signal_nodes(count, prefix_config, url) as infos:
                        connector = aiohttp.TCPConnector(limit=0)
                        async with aiohttp.ClientSession(connector=connector) as session:
                            urls = [i["ws_url"] for i in infos]
                            result = await many_rooms(session, urls, args.rooms, args.per_room)
                finally:
                    os.unlink(prefix_config)
                runs[(backend, count)].append(result)
                print(
                    f"run {run_no + 1} {labels[(backend, count)]:>18}: joins "
                    f"{result['joins_per_s']:5.0f}/s, join p50 {result['join_p50_ms']:6.1f} ms, "
                    f"relayed {result['relay_msgs_per_s']:6.0f} msgs/s",
                    flush=True,
                )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print()
    print(
        "| setup | joins/s | join p50 | join p99 | create p50 | relayed messages/s |\n"
        "|---|---|---|---|---|---|"
    )
    for setup in setups:
        done = runs[setup]
        fastest = max(done, key=lambda r: r["joins_per_s"])
        relay = max(r["relay_msgs_per_s"] for r in done)
        print(
            f"| {labels[setup]} | {fastest['joins_per_s']:.0f} | {fastest['join_p50_ms']:.0f} ms"
            f" | {fastest['join_p99_ms']:.0f} ms | {fastest['create_p50_ms']:.0f} ms | "
            f"{relay:.0f} |"
        )


async def run(args: argparse.Namespace) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write(LOAD_CONFIG)
    if args.multi_node:
        try:
            await multi_node(args, config.name)
        finally:
            os.unlink(config.name)
        return
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "peer", "signal", "--bind", "127.0.0.1", "--port", "0", "--json"),
        *("--config", config.name),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        listening = json.loads(line)
        url = listening["ws_url"]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            print(f"machine: {machine()}")
            print(f"server: quibble signal on {url} (separate process)")
            one = await one_room(session, url, args.players)
            print(
                f"one room, {args.players} players joining at once: join p50 "
                f"{one['join_p50_ms']:.1f} ms, p99 {one['join_p99_ms']:.1f} ms, all in "
                f"{one['all_joined_s']:.2f} s; relay host<->players "
                f"{one['relay_msgs_per_s']:.0f} msgs/s"
            )
            many = await many_rooms(session, url, args.rooms, args.per_room)
            print(
                f"{args.rooms} rooms x {args.per_room} players in parallel: create p50 "
                f"{many['create_p50_ms']:.1f} ms, p99 {many['create_p99_ms']:.1f} ms; join p50 "
                f"{many['join_p50_ms']:.1f} ms, p99 {many['join_p99_ms']:.1f} ms; all in "
                f"{many['all_joined_s']:.2f} s; relay {many['relay_msgs_per_s']:.0f} msgs/s"
            )
            async with session.get(listening["url"] + "/metrics") as resp:
                counted = [
                    line
                    for line in (await resp.text()).splitlines()
                    if line.startswith("quibble_signaling_relayed_frames_total")
                ]
            print(f"server's own count: {counted[0]}")
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
        os.unlink(config.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=100, help="players in the one room")
    parser.add_argument("--rooms", type=int, default=100, help="rooms in parallel")
    parser.add_argument("--per-room", type=int, default=4, help="players per parallel room")
    parser.add_argument(
        "--multi-node",
        action="store_true",
        help="in-memory single node vs 1, 2, 3 Redis nodes (starts its own redis-server)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per setup (--multi-node)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
