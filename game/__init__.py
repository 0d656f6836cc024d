"""The Quibble Race rules engine: pure, deterministic, hidden information per seat.

May import only the standard library (no asyncio, sockets or clocks) and msgspec.
"""
