"""STUN/TURN configuration, expiring TURN credentials, coturn, and the NAT probes of `quibble doctor`.

May import only the standard library, msgspec, aioice and aiortc.
"""
