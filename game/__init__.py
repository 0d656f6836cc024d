"""The Quibble Race rules engine: pure, deterministic, hidden information per seat.

May import only the standard library (no asyncio, sockets or clocks) and msgspec.

API (rules and numbers: game/RULES.md)::

    state = new_game(GameConfig(seed=7))                  # lobby
    r = apply(state, AddPlayer(seat=0, name="Ana"), None)   # actor None = host/system
    r.state, r.events, r.rejection                        # rejection: Rejection(code, message)
    r = apply(r.state, PlaceBet(seat=0, quibble=2, amount=50), 0)  # actor 0 = seat 0
    view_for(r.state, 0)   # PlayerView: only what seat 0 may see (msgspec-encodable)
    encode_view(r.state, 0)  # == msgspec.json.encode(view_for(...)), faster at big tables
    public_view(r.state)   # PublicView: what a spectator/board may see
    phase_key(r.state)     # (round, phase): send Timeout(round=..., phase=...) at the deadline
    r.state.phase_seconds  # the current phase's duration (0 = no deadline)
    decode_action(b'{"type":"Ready","seat":0}')
    HeuristicBot(seed=1).decide(view_for(state, 0))  # -> list[Action]
"""

from game.actions import (
    Action,
    AddPlayer,
    Borrow,
    BuyCard,
    PlaceBet,
    PlayCard,
    Ready,
    SetConnected,
    StartGame,
    Timeout,
    decode_action,
    encode_action,
)
from game.bots import Bot, HeuristicBot, RandomBot
from game.cards import CARD_KINDS, CARD_PHASE, PRICES, Card, CardKind
from game.engine import ApplyResult, Rejection, RejectionCode, apply, new_game, phase_key
from game.events import Event
from game.state import PHASES, GameConfig, GameState, Phase, PhaseSeconds
from game.views import (
    PlayerView,
    PublicView,
    encode_view,
    public_view,
    view_for,
    views_for_all,
)

__all__ = [
    "CARD_KINDS",
    "CARD_PHASE",
    "PHASES",
    "PRICES",
    "Action",
    "AddPlayer",
    "ApplyResult",
    "Borrow",
    "Bot",
    "BuyCard",
    "Card",
    "CardKind",
    "Event",
    "GameConfig",
    "GameState",
    "HeuristicBot",
    "Phase",
    "PhaseSeconds",
    "PlaceBet",
    "PlayCard",
    "PlayerView",
    "PublicView",
    "RandomBot",
    "Ready",
    "Rejection",
    "RejectionCode",
    "SetConnected",
    "StartGame",
    "Timeout",
    "apply",
    "decode_action",
    "encode_action",
    "encode_view",
    "new_game",
    "phase_key",
    "public_view",
    "view_for",
    "views_for_all",
]
