"""Shared fixtures. Network tests need the namespace that scripts/test.sh makes."""

from __future__ import annotations

import os

import pytest

IN_TEST_NETNS = os.environ.get("QUIBBLE_TEST_NETNS") == "1"
TEST_ADDRS: tuple[str, ...] = tuple(
    a for a in os.environ.get("QUIBBLE_TEST_ADDRS", "").split(",") if a
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_TEST_NETNS:
        return
    skip = pytest.mark.skip(
        reason="needs the suite's own network namespace: run scripts/test.sh (root or sudo)"
    )
    for item in items:
        if "net" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def host_addr() -> str:
    """The test-only address the host side binds to inside the suite's namespace."""
    return TEST_ADDRS[0] if TEST_ADDRS else "127.0.0.1"
