"""Exit codes shared by every `quibble` command, so scripts can tell failures apart."""

from __future__ import annotations

OK = 0
FAILURE = 1  # an unexpected error; the message says what
USAGE = 2  # bad arguments or a bad config file (argparse uses 2 as well)
ROOM_NOT_FOUND = 3
ROOM_FULL = 4
CONNECTION_FAILED = 5  # no path to the host, not even the WebSocket relay
NEEDS_RELAY = 6  # doctor: players outside could connect only through a TURN relay, none configured
NO_PATH = 7  # doctor: no path at all (nothing answers)
KICKED = 8  # the host dropped this player (e.g. for flooding)
HOST_GONE = 9  # the host left or the room ended before the game finished
INTERRUPTED = 130  # Ctrl-C
