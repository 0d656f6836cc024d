"""The signaling service: rooms by code, offer/answer/ICE relay, ICE config, static files, WS relay.

Never sees game state. May import turn/ (for ICE configuration and TURN credentials).

Modules: ``protocol`` (the wire messages; start here), ``service`` (the logic),
``rooms`` (codes, tokens, seats; the RoomStore interface), ``routing`` (delivery; the Router
interface), ``relay`` (the relay's byte-rate cap), ``limits`` (token buckets), ``settings``
(limits and the TOML config), ``metrics`` (Prometheus text), ``app`` (the aiohttp app),
``server`` (run it embedded), ``client`` (a small Python client), ``cli`` (`quibble signal`).
"""
