"""The signaling service: rooms by code, offer/answer/ICE relay, ICE config, static files, WS relay.

Never sees game state. May import turn/ (for ICE configuration and TURN credentials).
"""
