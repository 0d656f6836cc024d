"""Browsers hide their host candidates behind mDNS `.local` names: the host joins them anyway,
without stalling the join on names it cannot resolve.

aioice resolves each `.local` name with a 1 s timeout. Here a phone trickles six names
nobody answers for, ahead of Chromium's own (also `.local`) candidates, and a second phone
joins right after it; both allow ICE only 3 s before giving up on WebRTC. A host that waited
on those names one after the other (6 s), in its signaling loop or in ICE, would push one of
them onto the WS relay. Both must join over the data channel directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser.conftest import Phone
from tests.browser.harness import Host
from tests.browser.test_browser_game import join_by_link

pytestmark = [pytest.mark.net, pytest.mark.slow, pytest.mark.timeout(120)]

UNANSWERED = 6
FAKE_PREFIX = "00000000-0000-4000-8000-"
# Sent first, before the page's real candidates: `.local` names no responder will answer.
FAKE_MDNS_CANDIDATES = """
(() => {
  const FAKE = '__PREFIX__';
  const Base = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Base {
    async setLocalDescription(...args) {
      await super.setLocalDescription(...args);
      if (this.localDescription && this.localDescription.type === 'offer' && this.onicecandidate) {
        for (let i = 0; i < __COUNT__; i++) {
          const name = `${FAKE}${String(100000000000 + i)}.local`;
          const candidate = new RTCIceCandidate({
            candidate: `candidate:${900 + i} 1 udp 2122260223 ${name} ${40000 + i} typ host`,
            sdpMid: '0', sdpMLineIndex: 0,
          });
          this.onicecandidate({ candidate });
        }
      }
    }
  };
})();
""".replace("__PREFIX__", FAKE_PREFIX).replace("__COUNT__", str(UNANSWERED))


def test_the_host_joins_a_browser_whose_candidates_are_all_mdns_names_without_stalling(
    tmp_path: Path, phones: Callable[..., Phone]
) -> None:
    host = Host(tmp_path, "--bots", "1", "--phase-seconds", "60")
    try:
        moe, ned = phones("Moe"), phones("Ned")
        moe.page.context.add_init_script(FAKE_MDNS_CANDIDATES)
        opened = "window.quibble.link && window.quibble.link.status.stage === 'open'"
        started = time.monotonic()
        join_by_link(moe, host.base_url, host.code, "?ice_timeout=3000")
        moe.page.wait_for_function(opened, timeout=30_000)
        took = time.monotonic() - started
        # Moe's names went to the host with its answer; the host may still be resolving
        # them. Ned's offer must not wait behind them.
        join_by_link(ned, host.base_url, host.code, "?ice_timeout=3000")
        ned.page.wait_for_function(opened, timeout=30_000)
        print(f"Moe joined over the data channel {took:.2f} s after the page opened")
        for phone in (moe, ned):
            st = phone.state()
            # Over the data channel, not the WS-relay fallback, on the first attempt.
            assert [c["path"] for c in st["connections"]] == ["host"], st
            fakes = [c for c in st["local"] if c.split()[4].startswith(FAKE_PREFIX)]
            real = [c for c in st["local"] if c not in fakes]
            assert len(fakes) == (UNANSWERED if phone is moe else 0)
            # Chromium's own host candidates are mDNS names too (no media permission asked).
            assert real and all(c.split()[4].endswith(".local") for c in real), real
            assert not phone.errors, phone.errors
        status = host.wait_status(lambda s: sum(p["connected"] for p in s["players"]) == 3)
        for player in status["players"]:
            if player["name"] in ("Moe", "Ned"):
                assert player["path"] == "host", player
                assert player["connections"] == 1, player
    finally:
        host.stop()
