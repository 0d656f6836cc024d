"""The aiohttp application: ``GET /ws`` (signaling), static pages, ``/healthz``, ``/metrics``.

:func:`create_app` builds it; :mod:`signaling.server` runs it embedded, :mod:`signaling.cli`
standalone. The WebSocket handler only moves frames: the logic is in signaling/service.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
from aiohttp import WSMsgType, web

from signaling import protocol as p
from signaling.backend import BackendHealth, backend_for
from signaling.service import IceProvider, SignalingService
from signaling.settings import SignalingSettings

log = logging.getLogger("quibble.signaling")

SERVICE = web.AppKey("signaling_service", SignalingService)
STARTED_AT = web.AppKey("started_at", float)
PACKAGE_STATIC = Path(__file__).with_name("static")
# How long a closing handshake may take before the connection is simply dropped.
CLOSE_TIMEOUT = 3.0
WS_TRY_AGAIN_LATER = 1013


class Health(msgspec.Struct, frozen=True):
    """``GET /healthz``: ``status`` is "ok", or "degraded" (HTTP 503) when the backend is not
    usable (Redis down: clients already in rooms keep their sockets, but joins fail)."""

    status: str
    version: int
    rooms: int
    clients: int
    uptime_s: float
    backend: BackendHealth


class WebSocketOutbox:
    """A client's outgoing frames, written by its own task so no sender ever waits on it.

    A client that stops reading while frames pile up past ``max_bytes`` is dropped, so one
    stalled phone cannot stall its host (or the relay) for everyone else.
    """

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, max_bytes: int) -> None:
        self._ws = ws
        self._request = request
        self._max_bytes = max_bytes
        self._frames: deque[str] = deque()
        self._bytes = 0
        self._wakeup = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, frame: str) -> bool:
        """Queue ``frame``; False when closing or when the client is too slow (then dropped)."""
        if self._closing is not None:
            return False
        if self._bytes + len(frame) > self._max_bytes:
            log.warning("dropping a client that does not read (%d bytes queued)", self._bytes)
            self._frames.clear()
            self._bytes = 0
            self._abort()
            return False
        self._frames.append(frame)
        self._bytes += len(frame)
        self._wakeup.set()
        return True

    def close(self, code: int = 1000, message: str = "") -> None:
        """Close once the queued frames are written."""
        if self._closing is None:
            self._closing = (code, message)
            self._wakeup.set()

    @property
    def closing(self) -> bool:
        """True once close() was called (or the client was dropped)."""
        return self._closing is not None

    def _abort(self) -> None:
        self._closing = (WS_TRY_AGAIN_LATER, "too slow")
        self._task.cancel()
        transport = self._request.transport
        if transport is not None:
            transport.abort()

    async def _run(self) -> None:
        ws = self._ws
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._frames:
                    frame = self._frames.popleft()
                    self._bytes -= len(frame)
                    await ws.send_str(frame)
                if self._closing is not None:
                    code, message = self._closing
                    await asyncio.wait_for(
                        ws.close(code=code, message=message.encode()), CLOSE_TIMEOUT
                    )
                    return
        except (ConnectionError, RuntimeError, TimeoutError):
            transport = self._request.transport
            if transport is not None:
                transport.abort()
        finally:
            if self._closing is None:  # the link failed: refuse further frames
                self._closing = (1006, "")
            self._frames.clear()
            self._bytes = 0

    async def finish(self) -> None:
        """Close (if not yet) and wait for the writer, dropping the connection if it hangs."""
        self.close()
        if self._task.done():
            return
        done, _ = await asyncio.wait({self._task}, timeout=CLOSE_TIMEOUT + 1)
        if not done:
            self._abort()


def client_address(request: web.Request, settings: SignalingSettings) -> str:
    """The client's IP: the socket's peer, or the last X-Forwarded-For hop if trusted."""
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return request.remote or "unknown"


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    """``GET /ws``: one client's signaling socket, from handshake to close."""
    service = request.app[SERVICE]
    settings = service.settings
    origin = request.headers.get("Origin")
    if settings.allowed_origins and origin is not None and origin not in settings.allowed_origins:
        service.metrics.rejected["origin"] += 1
        raise web.HTTPForbidden(text=f"origin {origin[:100]} is not allowed here\n")
    ip = client_address(request, settings)
    refusal = service.refusal(ip)
    if refusal is not None:
        service.metrics.rejected[refusal] += 1
        raise web.HTTPServiceUnavailable(text=f"refused: {refusal}\n")
    ws = web.WebSocketResponse(
        heartbeat=settings.heartbeat,
        max_msg_size=settings.max_frame_bytes * 2,
        timeout=CLOSE_TIMEOUT,
        compress=False,
    )
    await ws.prepare(request)
    outbox = WebSocketOutbox(ws, request, settings.max_outbox_bytes)
    client = service.connect(ip, outbox)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.handshake_timeout
    try:
        while True:
            timeout = None if client.role is not None else deadline - loop.time()
            try:
                if timeout is not None and timeout <= 0:
                    raise TimeoutError
                msg = await ws.receive(timeout=timeout)
            except TimeoutError:
                service.handshake_timed_out(client)
                break
            if msg.type is WSMsgType.TEXT:
                await service.handle_frame(client, msg.data)
            elif msg.type is WSMsgType.BINARY:
                service.refuse_frame(
                    client, p.ProtocolError("bad_json", "send JSON text frames, not binary")
                )
            else:
                if msg.type is WSMsgType.ERROR:
                    service.metrics.rejected["ws_error"] += 1
                    log.info("%s: WebSocket error: %s", client.label(), ws.exception())
                break
    finally:
        await service.disconnect(client)
        await outbox.finish()
    return ws


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: liveness plus a few figures, as JSON."""
    service = request.app[SERVICE]
    backend = await service.backend.health()
    service.metrics.backend_up = backend.ok
    health = Health(
        status="ok" if backend.ok else "degraded",
        version=p.PROTOCOL_VERSION,
        rooms=service.room_count,
        clients=len(service.clients),
        uptime_s=round(time.monotonic() - request.app[STARTED_AT], 3),
        backend=backend,
    )
    return web.Response(
        body=msgspec.json.encode(health),
        content_type="application/json",
        status=200 if backend.ok else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: Prometheus text format."""
    text = request.app[SERVICE].metrics.render()
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


def _page(path: Path) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return serve


def create_app(
    settings: SignalingSettings | None = None,
    ice_provider: IceProvider | None = None,
    *,
    service: SignalingService | None = None,
) -> web.Application:
    """The signaling service as an aiohttp application (pass ``service`` to share one)."""
    settings = settings or SignalingSettings()
    service = service or SignalingService(
        settings, ice_provider=ice_provider, backend=backend_for(settings)
    )
    static_dir = Path(settings.static_dir) if settings.static_dir else PACKAGE_STATIC
    app = web.Application(client_max_size=64 * 1024)
    app[SERVICE] = service
    app[STARTED_AT] = time.monotonic()
    code = "{code:[A-Za-z]{4,8}}"
    app.router.add_get("/ws", websocket_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", _page(static_dir / "index.html"))
    app.router.add_get(f"/r/{code}", _page(static_dir / "index.html"))
    app.router.add_get(f"/board/{code}", _page(static_dir / "board.html"))
    if static_dir.is_dir():
        app.router.add_static("/static/", static_dir, follow_symlinks=False)
    app.cleanup_ctx.append(_backend)
    app.cleanup_ctx.append(_idle_sweeper)
    app.on_shutdown.append(_close_everything)
    return app


async def _backend(app: web.Application) -> AsyncIterator[None]:
    """Connect the backend before serving (raises BackendUnavailable), close it last."""
    service = app[SERVICE]
    await service.start()
    yield
    await service.backend.close()


async def _idle_sweeper(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    period = min(30.0, max(0.05, service.settings.idle_timeout / 4))

    async def sweep() -> None:
        while True:
            await asyncio.sleep(period)
            try:
                await service.sweep_idle()
            except Exception:
                log.exception("idle sweep failed")

    task = asyncio.get_running_loop().create_task(sweep())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_everything(app: web.Application) -> None:
    await app[SERVICE].close_all()
