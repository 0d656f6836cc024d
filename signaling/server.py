"""Run the signaling service in this process: ``async with SignalingServer(...) as server``.

``quibble host`` embeds it this way; tests use it with port 0 and read back the real port.
"""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from signaling.app import SERVICE, create_app
from signaling.backend import Backend, backend_for
from signaling.service import IceProvider, SignalingService
from signaling.settings import SignalingSettings


class SignalingServer:
    """The signaling app bound to an address; :attr:`port` is the real one once started."""

    def __init__(
        self,
        settings: SignalingSettings | None = None,
        *,
        ice_provider: IceProvider | None = None,
        host: str | None = None,
        port: int | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.settings = settings or SignalingSettings()
        self.host = host if host is not None else self.settings.bind
        self._wanted_port = port if port is not None else self.settings.port
        service = SignalingService(
            self.settings,
            ice_provider=ice_provider,
            backend=backend or backend_for(self.settings),
        )
        self.app = create_app(self.settings, service=service)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def service(self) -> SignalingService:
        """The service behind the app (rooms, clients, metrics)."""
        return self.app[SERVICE]

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The signaling WebSocket URL."""
        return "ws" + self.url[4:] + "/ws"

    async def start(self) -> None:
        """Connect the backend, bind and serve; raises BackendUnavailable (Redis not
        reachable) or OSError (the address is taken or not ours)."""
        runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=5.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._wanted_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every room and socket, then stop listening (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> SignalingServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
