"""Automatic pipelining: the Redis commands a node issues in one event-loop turn go in one
round trip.

Under load, hundreds of sockets each want one small script run (a relay frame's budget
check, a delivery to another node); awaiting a round trip each would make Redis latency,
not work, the limit. :class:`Batcher` queues each command, sends what has queued as one
non-transactional pipeline on the next loop turn, and, while ``max_in_flight`` pipelines
are already out, lets the queue grow, so batches get larger exactly when load rises. Each
caller still awaits its own command's result (or error); commands from one coroutine keep
their order because it awaits each before issuing the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, ResponseError

from signaling.backend import BackendUnavailable

# Queues one command on a pipeline (e.g. ``lambda pipe: pipe.hkeys(key)``).
Command = Callable[[Any], Any]
_MAX_BATCH = 1024


class Batcher:
    """Coalesces commands into pipelines; scripts run by SHA, loaded again if Redis lost them."""

    def __init__(
        self, client: aioredis.Redis, down: tuple[type[BaseException], ...], max_in_flight: int = 4
    ) -> None:
        self._redis = client
        self._down = down
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._queue: list[tuple[Command, asyncio.Future[Any]]] = []
        self._scheduled = False
        self._scripts: dict[str, str] = {}  # sha -> source
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, source: str) -> str:
        """Remember a Lua script; returns its SHA1 (for :meth:`script`)."""
        import hashlib

        sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        self._scripts[sha] = source
        return sha

    async def script(self, sha: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a registered script in the next batch."""
        return await self.run(lambda pipe: pipe.evalsha(sha, len(keys), *keys, *args))

    async def run(self, command: Command) -> Any:
        """Queue one command; returns its reply (raises its error, or BackendUnavailable)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((command, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if self._scheduled or not self._queue or self._in_flight >= self._max_in_flight:
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._queue or self._in_flight >= self._max_in_flight:
            return
        batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[Command, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._execute([c for c, _ in batch])
            if any(isinstance(r, NoScriptError) for r in results):
                # Redis restarted (or flushed its script cache): load them all, go again.
                for source in self._scripts.values():
                    await self._redis.script_load(source)
                again = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
                redone = await self._execute([batch[i][0] for i in again])
                for i, r in zip(again, redone, strict=True):
                    results[i] = r
        except self._down as exc:
            error = BackendUnavailable(f"Redis: {exc}")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, ResponseError):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            self._in_flight -= 1
            self._schedule()

    async def _execute(self, commands: list[Command]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for command in commands:
                command(pipe)
            return list(await pipe.execute(raise_on_error=False))

    def cancel(self) -> None:
        """Fail whatever is queued or in flight (shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        for _, future in self._queue:
            if not future.done():
                future.set_exception(BackendUnavailable("the node is stopping"))
        self._queue.clear()
