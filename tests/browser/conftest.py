"""Browser fixtures: one headless Debian Chromium for tests/browser, one context per player."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, PHONE, ensure_default_route
from tests.conftest import IN_TEST_NETNS

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
except ImportError:  # the README's test command installs it (pip install -e '.[test]')
    sync_playwright = None  # type: ignore[assignment]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded browser), launched once for tests/browser.

    Package scope, not session: Playwright's sync API keeps an event loop running in this
    thread until it stops, and the asyncio tests collected after tests/browser need it gone.
    """
    if sync_playwright is None:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed: run scripts/install-system-deps.sh")
    undo_route = ensure_default_route() if IN_TEST_NETNS else (lambda: None)
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        undo_route()


# Installed in every page before its scripts run: keeps every text frame the page receives
# and sends on a data channel, and every signaling WebSocket message, exactly as the bytes
# went by (the app's own code is not involved), so tests can check the wire itself.
WIRE_RECORDER = """
(() => {
  const wire = { dcIn: [], dcOut: [], wsIn: [] };
  Object.defineProperty(window, '__wire', { value: wire });
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = create.apply(this, args);
    channel.addEventListener('message', (e) => wire.dcIn.push(e.data));
    const send = channel.send.bind(channel);
    channel.send = (data) => { wire.dcOut.push(data); return send(data); };
    return channel;
  };
  const Socket = window.WebSocket;
  window.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => wire.wsIn.push(e.data));
    }
  };
})();
"""


class Phone:
    """A player's page in its own browser context (its own localStorage), phone-sized."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def phase(self) -> str:
        return str(self.page.evaluate("document.body.dataset.phase"))

    def wait_phase(self, phase: str, within_s: float = 60.0) -> None:
        self.page.wait_for_function(
            "p => document.body.dataset.phase === p", arg=phase, timeout=within_s * 1000
        )

    def wire(self) -> dict[str, list[str]]:
        """Every frame this page received (dcIn) and sent (dcOut) on a data channel, and
        every signaling message it received (wsIn), since it was last loaded."""
        return self.page.evaluate("window.__wire")  # type: ignore[no-any-return]

    def state(self) -> dict[str, Any]:
        """What the page's link and UI know (seat, path, the last view)."""
        return self.page.evaluate(  # type: ignore[no-any-return]
            """() => ({
                seat: window.quibble.link?.seat ?? null,
                stage: window.quibble.link?.status.stage ?? null,
                path: window.quibble.link?.status.path ?? null,
                detail: window.quibble.link?.status.detail ?? [],
                connections: window.quibble.link?.connections ?? [],
                local: window.quibble.link?.localCandidates ?? [],
                view: window.quibble.view,
                rejections: window.quibble.ui?.rejections ?? [],
            })"""
        )


@pytest.fixture
def phones(browser: Browser) -> Iterator[Callable[..., Phone]]:
    """Factory: phones(name) -> a Phone with a fresh context; all closed after the test."""
    contexts = []

    def make(name: str, **context_args: Any) -> Phone:
        context = browser.new_context(
            **{"viewport": PHONE, "device_scale_factor": 1, **context_args}
        )
        context.add_init_script(WIRE_RECORDER)
        contexts.append(context)
        return Phone(context.new_page(), name)

    yield make
    for context in contexts:
        context.close()


STATIC = Path(__file__).resolve().parents[2] / "signaling" / "static"
ORIGIN = "http://static.quibble.test"


@pytest.fixture(scope="module")
def module_page(browser: Any) -> Iterator[Phone]:
    """A blank page of our origin that can import /static/*.js (served from the checkout).

    One for the module (closed with it, long before the package's browser): its modules
    are stateless, and a context per case would cost more than the cases themselves.
    """
    context = browser.new_context()
    phone = Phone(context.new_page(), "Delta")

    def serve(route: Any) -> None:
        name = route.request.url.split("/static/", 1)[-1].split("?")[0]
        path = STATIC / name
        if "/" in name or not path.is_file():
            route.fulfill(status=404, body="not found")
            return
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith(".js"):
            kind = "text/javascript"
        route.fulfill(status=200, body=path.read_bytes(), content_type=kind)

    phone.page.route(f"{ORIGIN}/static/**", serve)
    phone.page.route(
        f"{ORIGIN}/", lambda r: r.fulfill(status=200, body="<!doctype html><title>t</title>")
    )
    phone.page.goto(f"{ORIGIN}/")
    yield phone
    context.close()


@pytest.fixture
def page(module_page: Phone) -> Iterator[Any]:
    """The module's page, checked for errors after each test."""
    module_page.errors.clear()
    yield module_page.page
    assert not module_page.errors, module_page.errors
