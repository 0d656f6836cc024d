"""View deltas: what changed between two views of one player, and applying that change.

Pure functions on the wire shapes of peer/protocol.py. Field-level: a changed field is sent
whole, except a list field that kept or grew its length and whose old entries mostly stayed
the same (a table of 100 players where one got ready, or two more joined), which is sent as
``[index, entry]`` pairs: merge into the entry at ``index`` (an object entry gets only its
changed keys: ``[4, {"ready": true}]``), or append it when ``index`` is the list's length.
"""

from __future__ import annotations

from typing import Any

import msgspec

from game import PlayerView
from peer.protocol import ViewDelta, ViewFrame

VIEW_FIELDS: tuple[str, ...] = PlayerView.__struct_fields__
_MIN_LIST_FOR_ITEMS = 4


class DeltaError(ValueError):
    """A delta does not fit the view it claims to change."""


FieldDiffs = dict[tuple[int, int], tuple[bool, Any]]


def diff_views(
    old: PlayerView, new: PlayerView, cache: FieldDiffs | None = None
) -> tuple[dict[str, Any], dict[str, list[tuple[int, Any]]]]:
    """(whole fields, list entries) that turn ``old`` into ``new``; both empty if equal.

    ``cache`` (by the ids of the two field values) lets one host tick diff each shared
    public field once for every player instead of once per player: views of one state
    share those objects. Only valid while every view diffed with it is alive.
    """
    whole: dict[str, Any] = {}
    items: dict[str, list[tuple[int, Any]]] = {}
    for name in VIEW_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if a is b:
            continue
        if cache is not None:
            key = (id(a), id(b))
            found = cache.get(key)
            if found is None:
                found = cache[key] = _diff_field(a, b)
        else:
            found = _diff_field(a, b)
        is_items, value = found
        if value is _SAME:
            continue
        (items if is_items else whole)[name] = value
    return whole, items


_SAME: Any = object()


def _diff_field(a: Any, b: Any) -> tuple[bool, Any]:
    """(True, entries) or (False, whole value) for one field; ``_SAME`` if equal."""
    if a == b:
        return False, _SAME
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) <= len(b) and len(b) >= _MIN_LIST_FOR_ITEMS:
            changed = [
                (i, _entry_change(a[i], b[i]))
                for i in range(len(a))
                if a[i] is not b[i] and a[i] != b[i]
            ]
            changed.extend((i, b[i]) for i in range(len(a), len(b)))  # appended entries
            # Struct entries go as their changed fields, far smaller than the whole list
            # even when every entry changed (a new phase resets everyone's readiness).
            if isinstance(b[0], msgspec.Struct) or len(changed) * 2 <= len(b):
                return True, changed
    return False, b


def _entry_change(old: Any, new: Any) -> Any:
    """What to send for one changed list entry: a struct's changed fields, else all of it."""
    if type(old) is not type(new) or not isinstance(new, msgspec.Struct):
        return new
    fields = {
        name: getattr(new, name)
        for name in new.__struct_fields__
        if getattr(old, name) != getattr(new, name)
    }
    return fields if len(fields) < len(new.__struct_fields__) else new


def view_to_builtins(view: PlayerView) -> dict[str, Any]:
    """A view as plain JSON-shaped data, ready for deltas to be applied to."""
    # Through JSON, not msgspec.to_builtins: that keeps tuples as tuples, and entries of
    # list fields are replaced in place. This is exactly what a browser holds after JSON.parse.
    data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(view))
    return data


def apply_delta(
    current: dict[str, Any], whole: dict[str, Any], items: dict[str, list[tuple[int, Any]]]
) -> PlayerView:
    """Apply a delta to ``current`` (changed in place) and return the validated new view."""
    for name, value in whole.items():
        if name not in current:
            raise DeltaError(f"unknown view field {name!r}")
        current[name] = value
    for name, entries in items.items():
        target = current.get(name)
        if not isinstance(target, list):
            raise DeltaError(f"view field {name!r} is not a list")
        for index, value in entries:
            if 0 <= index < len(target):
                entry = target[index]
                if isinstance(entry, dict) and isinstance(value, dict):
                    entry.update(value)
                else:
                    target[index] = value
            elif index == len(target):
                target.append(value)
            else:
                raise DeltaError(f"index {index} outside {name!r}")
    try:
        return msgspec.convert(current, PlayerView)
    except msgspec.ValidationError as exc:
        raise DeltaError(str(exc)) from None


class ViewTracker:
    """The receiving side: follows one player's ``view`` and ``delta`` frames in order."""

    def __init__(self) -> None:
        self.view: PlayerView | None = None
        self.seq = -1
        self._data: dict[str, Any] | None = None

    def follow(self, frame: ViewFrame | ViewDelta) -> PlayerView:
        """The view after ``frame``; raises DeltaError if a delta does not follow the last."""
        if isinstance(frame, ViewFrame):
            self._data = view_to_builtins(frame.view)
            self.view = frame.view
        else:
            if self._data is None or frame.base != self.seq:
                raise DeltaError(f"delta on view {frame.base}, but the last one is {self.seq}")
            self.view = apply_delta(self._data, frame.set, frame.items)
        self.seq = frame.seq
        return self.view
