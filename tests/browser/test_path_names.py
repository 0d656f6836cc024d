"""The page names a connection's path by the same rule as the Python peers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.peer.test_path_classify import PAIRS

pytestmark = [pytest.mark.net]


def test_the_page_classifies_candidate_pairs_as_peer_webrtc_does(page: Any) -> None:
    got = page.evaluate(
        """async (pairs) => {
          const rtc = await import("/static/rtc.js");
          return pairs.map(([l, r, a]) => rtc.classifyPair(l, r, a));
        }""",
        [[local, remote, address] for local, remote, address, _ in PAIRS],
    )
    assert got == [path for *_, path in PAIRS]
