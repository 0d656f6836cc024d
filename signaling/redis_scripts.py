"""Redis key names and the Lua scripts that make each shared step atomic.

Keys (``P`` = the configured prefix, ``quibble:`` by default)::

    P room:CODE       hash   host_token, max_players, next_seat        (expires when idle)
    P seats:CODE      hash   seat -> "token\\nfolded name\\nname"
    P names:CODE      hash   folded name -> seat                        (unique names)
    P conn:CODE       hash   seat (0 = host) -> node id holding its socket
    P rooms           zset   code -> expiry (ms), for counting rooms
    P node:ID         string set while node ID is alive (short expiry, renewed by it)
    P nodes           set    node ids that have been alive
    P nodeconns:ID    set    "CODE SEAT" entries node ID holds
    P reap:ID         string the node that took dead node ID's clients over
    P rl:KIND:KEY     hash   a token bucket (tokens, ts), KIND create/join/guess/relay
    channel P to:ID   node ID's inbox (signaling/redis_protocol.py)

Every script runs atomically in Redis, so two nodes can never hand out one room code or
one seat twice, nor both believe they hold a seat's socket.
"""

from __future__ import annotations

from typing import Final


class Keys:
    """Key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.rooms = f"{prefix}rooms"
        self.nodes = f"{prefix}nodes"
        self.channel_prefix = f"{prefix}to:"
        self.nodeconns_prefix = f"{prefix}nodeconns:"

    def room(self, code: str) -> str:
        """The room's own hash."""
        return f"{self.prefix}room:{code}"

    def seats(self, code: str) -> str:
        """The room's seats."""
        return f"{self.prefix}seats:{code}"

    def names(self, code: str) -> str:
        """The room's taken names (folded)."""
        return f"{self.prefix}names:{code}"

    def conn(self, code: str) -> str:
        """Which node holds each connected seat of the room."""
        return f"{self.prefix}conn:{code}"

    def room_keys(self, code: str) -> list[str]:
        """Every key of a room that expires with it."""
        return [self.room(code), self.seats(code), self.names(code), self.conn(code)]

    def node(self, node_id: str) -> str:
        """Set while the node is alive."""
        return f"{self.prefix}node:{node_id}"

    def nodeconns(self, node_id: str) -> str:
        """The (code, seat) entries the node holds."""
        return f"{self.nodeconns_prefix}{node_id}"

    def reap(self, node_id: str) -> str:
        """The claim on a dead node's clients."""
        return f"{self.prefix}reap:{node_id}"

    def channel(self, node_id: str) -> str:
        """The node's pub/sub inbox."""
        return f"{self.channel_prefix}{node_id}"

    def bucket(self, kind: str, key: str) -> str:
        """One token bucket."""
        return f"{self.prefix}rl:{kind}:{key}"


# KEYS: room, seats, names, conn, rooms. ARGV: code, host_token, max_players, ttl_ms, now_ms,
# next_seat, then (seat, value, folded name) triples. 0 when the code is taken.
CREATE_ROOM: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'host_token', ARGV[2], 'max_players', ARGV[3], 'next_seat', ARGV[6])
redis.call('DEL', KEYS[2], KEYS[3])
for i = 7, #ARGV, 3 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i + 2], ARGV[i])
end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
redis.call('ZADD', KEYS[5], tonumber(ARGV[5]) + tonumber(ARGV[4]), ARGV[1])
return 1
"""

# KEYS: room, seats. {room hash as a flat list, seats hash as a flat list}: one snapshot.
GET_ROOM: Final = """
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""

# KEYS: room, seats, names. ARGV: token, ttl_ms, then (name, folded name) candidates in
# order. {seat, name}; {-1} no room, {-2} full, {-3} every candidate name taken.
ADD_SEAT: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local max = tonumber(redis.call('HGET', KEYS[1], 'max_players'))
if redis.call('HLEN', KEYS[2]) >= max then return {-2} end
for i = 3, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[3], ARGV[i + 1]) == 0 then
    local seat = redis.call('HINCRBY', KEYS[1], 'next_seat', 1) - 1
    redis.call('HSET', KEYS[2], seat, ARGV[1] .. '\\n' .. ARGV[i + 1] .. '\\n' .. ARGV[i])
    redis.call('HSET', KEYS[3], ARGV[i + 1], seat)
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then
      redis.call('PEXPIRE', KEYS[2], ttl)
      redis.call('PEXPIRE', KEYS[3], ttl)
    end
    return {seat, ARGV[i]}
  end
end
return {-3}
"""

# KEYS: seats, names. ARGV: seat. 1 when the seat was there.
REMOVE_SEAT: Final = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local folded = string.match(v, '^[^\\n]*\\n([^\\n]*)\\n')
if folded and redis.call('HGET', KEYS[2], folded) == ARGV[1] then
  redis.call('HDEL', KEYS[2], folded)
end
return 1
"""

# KEYS: room, seats, names, conn, rooms. ARGV: code, ttl_ms, now_ms. Pushes expiry back.
TOUCH: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
redis.call('ZADD', KEYS[5], tonumber(ARGV[3]) + tonumber(ARGV[2]), ARGV[1])
return 1
"""

# KEYS: conn, nodeconns of this node. ARGV: seat, node id, "CODE SEAT", ttl_ms,
# channel prefix, nodeconns prefix, CloseSeat payload for the previous holder.
# Returns how many nodes received the close (0: nobody held it, or its node is dead).
ATTACH: Final = """
local prev = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[3])
if prev and prev ~= ARGV[2] then
  redis.call('SREM', ARGV[6] .. prev, ARGV[3])
  return redis.call('PUBLISH', ARGV[5] .. prev, ARGV[7])
end
return 0
"""

# KEYS: conn, nodeconns of node. ARGV: seat, node id, "CODE SEAT".
# Forget the seat's socket only if ``node`` still holds it. 1 when it did.
DETACH: Final = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[3])
  return 1
end
redis.call('SREM', KEYS[2], ARGV[3])
return 0
"""

# KEYS: the conn hash of each frame's room. ARGV: channel prefix, then (seat, bus item) per
# frame. Frames for one node go out as one message (their items concatenated, in order).
# Per frame: -1 when nobody holds the seat, else how many nodes received it (0: dead node).
DELIVER_MANY: Final = """
local groups, order, target = {}, {}, {}
for i = 1, #KEYS do
  local node = redis.call('HGET', KEYS[i], ARGV[2 * i])
  if node then
    local g = groups[node]
    if not g then
      g = {}
      groups[node] = g
      order[#order + 1] = node
    end
    g[#g + 1] = ARGV[2 * i + 1]
    target[i] = node
  end
end
local received = {}
for _, node in ipairs(order) do
  received[node] = redis.call('PUBLISH', ARGV[1] .. node, table.concat(groups[node]))
end
local out = {}
for i = 1, #KEYS do
  if target[i] then out[i] = received[target[i]] else out[i] = -1 end
end
return out
"""

# KEYS: conn. ARGV: seat, channel prefix, CloseSeat payload, nodeconns prefix, "CODE SEAT".
# Forget the seat's socket and tell its node to close it; -1 when nobody held it.
CLOSE_SEAT: Final = """
local node = redis.call('HGET', KEYS[1], ARGV[1])
if not node then return -1 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', ARGV[4] .. node, ARGV[5])
return redis.call('PUBLISH', ARGV[2] .. node, ARGV[3])
"""

# KEYS: bucket. ARGV: rate/s, burst, least, most, take (1) or only look (0), ttl_ms.
# Takes as much as is there up to ``most`` if at least ``least`` is; returns the amount
# taken as a string ("0": refused, nothing taken). Server time, so nodes with skewed clocks
# still share one budget.
TOKEN_BUCKET: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local least, most = tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = 0
if tokens >= least then granted = math.max(least, math.min(tokens, most)) end
if ARGV[5] == '1' then tokens = tokens - granted end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return string.format('%.17g', granted)
"""
