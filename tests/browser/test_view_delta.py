"""The browser applies view deltas exactly as peer/view_delta.py does.

Real deltas: a whole bot game played by the engine, each seat's views diffed by the host's
own diff_views and encoded as the host encodes them; the page's delta.js and the Python
player's ViewTracker rebuild every view from the same frames. Malformed deltas are refused
by both, with the same reason where Python's is an apply or validation error; odd but valid
ones give both the same view. The page is the `page` fixture (tests/browser/conftest.py):
signaling/static/ served through Playwright's router, no server needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from game import GameConfig, PlayerView, apply, new_game, view_for
from game.actions import Action
from game.selfplay import play_game
from peer import protocol as p
from peer.view_delta import DeltaError, ViewTracker, diff_views
from scripts import view_schema

pytestmark = [pytest.mark.net, pytest.mark.timeout(120)]

STATIC = Path(__file__).resolve().parents[2] / "signaling" / "static"


def plain(value: Any) -> Any:
    """A Struct as the JSON data a page holds (tuples are lists there)."""
    return json.loads(msgspec.json.encode(value))


def seat_views(seats: int, seed: int) -> dict[int, list[PlayerView]]:
    """Every distinct view each seat had through a whole bot game (as a host would send)."""
    journal: list[tuple[Action, int | None]] = []
    config = GameConfig(seed=seed, rounds=2)
    play_game(config, seats, "mixed", journal)
    state = new_game(config)
    views: dict[int, list[PlayerView]] = {seat: [] for seat in range(seats)}
    for action, actor in journal:
        state = apply(state, action, actor).state
        for seat in views:
            if seat < len(state.players):
                view = view_for(state, seat)
                if not views[seat] or views[seat][-1] != view:
                    views[seat].append(view)
    return views


def host_frames(views: list[PlayerView]) -> list[str]:
    """The frames a host sends one seat: a whole view, then a delta per change."""
    frames = [p.encode(p.ViewFrame(view=views[0], seq=0, deadline_ms=5000)).decode()]
    for seq in range(1, len(views)):
        whole, items = diff_views(views[seq - 1], views[seq])
        delta = p.ViewDelta(seq=seq, base=seq - 1, set=whole, items=items, deadline_ms=1000)
        frames.append(p.encode(delta).decode())
    return frames


def python_follows(frames: list[str]) -> list[Any]:
    """What the Python player (peer/view_delta.py ViewTracker) rebuilds from the frames;
    the refusal's text in place of a view it refused (decoding or applying)."""
    tracker = ViewTracker()
    out: list[Any] = []
    for text in frames:
        try:
            frame = p.decode_host_frame(text)
            assert isinstance(frame, (p.ViewFrame, p.ViewDelta))
            out.append(plain(tracker.follow(frame)))
        except (p.FrameError, DeltaError) as exc:
            out.append({"refused": str(exc)})
    return out


FOLLOW_ALL = """async (frames) => {
    const { ViewTracker } = await import('/static/delta.js');
    const tracker = new ViewTracker();
    return frames.map((text) => {
        const f = JSON.parse(text);
        try { return f.type === 'view' ? tracker.full(f) : tracker.delta(f); }
        catch (e) { if (e.name !== 'DeltaError') throw e; return { refused: e.message }; }
    });
}"""


def test_the_page_rebuilds_every_view_of_a_whole_game_from_the_hosts_deltas(page: Any) -> None:
    views = seat_views(seats=5, seed=11)
    seen = {"set": 0, "merge": 0, "replace": 0, "append": 0}
    for seat in (0, 3):
        frames = host_frames(views[seat])
        assert all(len(f.encode()) <= p.MAX_FRAME_BYTES for f in frames)
        for seq, text in enumerate(frames[1:], start=1):
            delta = json.loads(text)
            seen["set"] += len(delta.get("set", {}))
            for name, entries in delta.get("items", {}).items():
                before = plain(getattr(views[seat][seq - 1], name))
                for index, value in entries:
                    kind = "append" if index >= len(before) else "replace"
                    seen["merge" if kind == "replace" and isinstance(value, dict) else kind] += 1
                    if isinstance(value, dict) and index < len(before):
                        assert len(value) < len(before[index]) or value != before[index]
        rebuilt = page.evaluate(FOLLOW_ALL, frames)
        python = python_follows(frames)
        expected = [plain(v) for v in views[seat]]
        assert python == expected
        assert len(rebuilt) == len(expected) > 50
        for i, (got, want) in enumerate(zip(rebuilt, expected, strict=True)):
            assert got == want, (seat, i)
    # Every kind of change happened: whole fields, list entries merged (objects, only their
    # changed keys) and appended (players joining a table of four or more).
    assert seen["set"] and seen["merge"] and seen["append"], seen


BASE: dict[str, Any] = {}


def _last_view() -> dict[str, Any]:
    """A mid-size view (four players, a finished game) to aim deltas at, as page data."""
    if not BASE:
        BASE.update(plain(seat_views(seats=4, seed=3)[0][-1]))
    copy: dict[str, Any] = json.loads(json.dumps(BASE))
    return copy


def _delta(**fields: Any) -> dict[str, Any]:
    return {"type": "delta", "seq": 1, "base": 0, **fields}


SEAT = {
    "seat": 4,
    "name": "Bo",
    "connected": True,
    "ready": False,
    "hand_count": 0,
    "stupified": False,
}

# Deltas that must be refused. `same` = both sides give the very same reason (apply and
# validation errors: delta.js reproduces peer/view_delta.py's and msgspec's messages);
# the frame-shape ones are msgspec decode errors in Python, DeltaError on the page.
REFUSED: list[tuple[dict[str, Any], bool]] = [
    (_delta(set={"no_such_field": 1}), True),
    (_delta(items={"coins": [[0, 1]]}), True),
    (_delta(items={"no_such_list": [[0, 1]]}), True),
    (_delta(items={"players": [[99, {}]]}), True),
    (_delta(items={"players": [[5, SEAT]]}), True),  # past the end, not at it
    (_delta(items={"players": [[-1, {}]]}), True),
    (_delta(items={"players": [[4, {"ready": True}]]}), True),  # an append must be whole
    (_delta(items={"players": [[0, {"ready": "yes"}]]}), True),
    (_delta(items={"players": [[0, 5]]}), True),
    (_delta(items={"players": [[1, {"ready": True}], [0, []]]}), True),
    (_delta(set={"coins": "many"}), True),
    (_delta(set={"coins": 1.5}), True),
    (_delta(set={"coins": True}), True),
    (_delta(set={"coins": None}), True),
    (_delta(set={"hand": {}}), True),
    (_delta(set={"phase": "nope"}), True),
    (_delta(set={"phase": 3}), True),
    (_delta(set={"bet": "x"}), True),
    (_delta(set={"bet": {"quibble": 1}}), True),
    (_delta(set={"race": {"order": [], "ticks": [[1, "a"]], "winner": None}}), True),
    (_delta(set={"race": {"order": [], "ticks": [], "winner": "x"}}), True),
    (_delta(set={"log": ["ok", 1]}), True),
    (
        _delta(set={"stacks": [{"quibble": 0, "size": 1, "cards": [{"id": 1, "kind": "gun"}]}]}),
        True,
    ),
    (_delta(items={"players": [[0]]}), False),
    (_delta(items={"players": [["0", {}]]}), False),
    (_delta(items={"players": [[0.5, {}]]}), False),
    (_delta(items={"players": {"0": {}}}), False),
    (_delta(items=[]), False),
    (_delta(set=[]), False),
    (_delta(set=None), False),
    (_delta(set={"x" * 33: 1}), False),
    (_delta(set={f"f{i}": 1 for i in range(65)}), False),
    (_delta(items={"log": [[0, "x"]] * 1001}), False),
    ({"type": "delta", "seq": 1, "base": -1}, False),
    ({"type": "delta", "seq": "1", "base": 0}, False),
    ({"type": "delta", "base": 0}, False),
    (_delta(deadline_ms=-5), False),
]


@pytest.mark.parametrize(("frame", "same"), REFUSED, ids=[str(i) for i in range(len(REFUSED))])
def test_a_delta_that_does_not_fit_is_refused_by_the_page_as_by_python(
    page: Any, frame: dict[str, Any], same: bool
) -> None:
    view = {"type": "view", "seq": 0, "view": _last_view()}
    frames = [json.dumps(view), json.dumps(frame)]
    python = python_follows(frames)
    assert python[0] == view["view"]
    assert "refused" in python[1], python[1]
    got = page.evaluate(
        """async (frames) => {
            const { ViewTracker } = await import('/static/delta.js');
            const t = new ViewTracker();
            const view = t.full(JSON.parse(frames[0]));
            const before = JSON.stringify(view);
            try { t.delta(JSON.parse(frames[1])); return null; }
            catch (e) {
                return [e.name, e.message, JSON.stringify(view) === before, t.view === view,
                        t.seq];
            }
        }""",
        frames,
    )
    assert got is not None, f"the page applied {frame}"
    name, message, untouched, kept, seq = got
    assert name == "DeltaError"
    if same:
        assert message == python[1]["refused"]
    # The view the page holds is never half-changed, and it is still the last one applied.
    assert untouched and kept and seq == 0


ACCEPTED: list[dict[str, Any]] = [
    _delta(set={"bet": {"quibble": 1, "amount": 5}}),  # optional fields come...
    _delta(set={"bet": None, "race": None}),  # ...and go
    _delta(items={"players": [[4, SEAT]]}),  # a fifth player, appended
    _delta(items={"players": [[4, SEAT], [4, {"ready": True}]]}),  # appended, then merged
    _delta(items={"players": [[0, {"ready": True, "extra": 1}]]}),  # unknown keys: dropped
    _delta(items={"players": [[0, {"__proto__": {"ready": 1}}]]}),  # a plain key, dropped
    _delta(items={"players": [[1, dict(SEAT, seat=1)]]}),  # a whole entry replaces
    _delta(set={"stacks": [{"quibble": 0, "size": 1}]}),  # defaults filled in (cards)
    _delta(set={"log": ["a"]}, items={"log": [[0, "b"], [1, "c"]]}),  # set, then items on it
    _delta(deadline_ms=None),
    _delta(),
]


@pytest.mark.parametrize("frame", ACCEPTED, ids=[str(i) for i in range(len(ACCEPTED))])
def test_odd_but_valid_deltas_give_the_same_view_on_both_sides(
    page: Any, frame: dict[str, Any]
) -> None:
    frames = [json.dumps({"type": "view", "seq": 0, "view": _last_view()}), json.dumps(frame)]
    python = python_follows(frames)
    assert "refused" not in python[1], python[1]
    assert page.evaluate(FOLLOW_ALL, frames) == python


def test_a_delta_on_the_wrong_base_means_a_lost_frame(page: Any) -> None:
    views = seat_views(seats=3, seed=4)[1][:4]
    frames = host_frames(views)
    for sequence in ([frames[0], frames[2]], [frames[1]], [frames[0], frames[1], frames[1]]):
        # A frame lost on the way, a delta before any whole view, one applied twice.
        python = python_follows(sequence)
        assert "delta on view" in python[-1]["refused"]
        assert page.evaluate(FOLLOW_ALL, sequence) == python


def test_the_pages_view_schema_is_the_one_of_game_views() -> None:
    # delta.js validates against view-schema.js; a stale one would accept or refuse what
    # msgspec does not. Regenerate it with scripts/view_schema.py.
    assert (STATIC / "view-schema.js").read_text() == view_schema.render()
