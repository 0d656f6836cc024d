"""STUN/TURN configuration, expiring TURN credentials, coturn, and the `quibble doctor` probes.

May import only the standard library, msgspec, aioice and aiortc.
"""
