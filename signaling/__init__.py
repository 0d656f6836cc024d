"""The signaling service: rooms by code, offer/answer/ICE relay, ICE config, static files, WS relay.

Never sees game state. May import turn/ (for ICE configuration and TURN credentials).

Modules: ``protocol`` (the wire messages; start here), ``service`` (the logic),
``rooms`` (codes, tokens, seats; the RoomStore interface), ``routing`` (delivery; the Router
interface), ``relay`` (the relay's byte-rate cap), ``limits`` (token buckets), ``settings``
(limits and the TOML config), ``metrics`` (Prometheus text), ``app`` (the aiohttp app),
``server`` (run it embedded), ``client`` (a small Python client), ``cli`` (`quibble signal`).
``backend`` (the Backend interface: store + router + shared limiters; in memory by default).
Several nodes sharing rooms through Redis (`quibble signal --redis URL`): ``redis_backend``
(the node's loops), ``redis_store``, ``redis_router``, ``redis_limits``, ``redis_batch``
(automatic pipelining), ``redis_scripts`` (keys and Lua), ``redis_protocol`` (node-to-node
messages). Only those import ``redis``, and only when a Redis URL is given.
"""
