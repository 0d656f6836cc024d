"""The host's durable journal: a SQLite database in WAL mode that a crashed host resumes from.

It holds the game config (seed included), the room code and host token, every seat token the
host issued, and every accepted action in order. The host commits before any player can see
an action's effect, so replaying the journal rebuilds the exact state players last saw.

Durability: WAL with ``synchronous=FULL``: each commit fsyncs the WAL, so an accepted action
survives a power cut as well as a killed process. ``NORMAL`` would survive only the latter,
and a host laptop's battery running out is the crash we most expect. The cost (one fsync per
commit) is paid once per host tick, not per action: the host groups every action accepted
in a tick into one transaction (group commit) and sends views only after it commits.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Final

import msgspec

from game import GameConfig, GameState, apply, new_game
from game.actions import Action, decode_action, encode_action

SCHEMA_VERSION: Final = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS seats (
    seat INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE, name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    seq INTEGER PRIMARY KEY, actor INTEGER, action BLOB NOT NULL
);
"""


class JournalError(RuntimeError):
    """The journal cannot be used: missing, from another version, or does not replay."""


class SeatRecord(msgspec.Struct, frozen=True):
    """A seat the host handed out: the token its player presents to get it back."""

    seat: int
    token: str
    name: str


def state_digest(state: GameState) -> str:
    """A short fingerprint of a whole state (secrets included), to compare two states."""
    return hashlib.sha256(msgspec.json.encode(state)).hexdigest()[:16]


class Journal:
    """Append-only record of one hosted game. Not thread-safe: the host's loop owns it."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._in_transaction = False

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        return db

    @classmethod
    def create(cls, path: Path, config: GameConfig, room: str, host_token: str) -> Journal:
        """A new journal for a new game; refuses to overwrite one that already has a game."""
        db = cls._connect(path)
        if db.execute("SELECT 1 FROM meta LIMIT 1").fetchone() is not None:
            db.close()
            raise JournalError(f"{path} already holds a game: use --resume {path}")
        journal = cls(db, path)
        with db:
            db.execute("BEGIN")
            for key, value in (
                ("schema", str(SCHEMA_VERSION).encode()),
                ("config", msgspec.json.encode(config)),
                ("room", room.encode()),
                ("host_token", host_token.encode()),
            ):
                db.execute("INSERT INTO meta VALUES (?, ?)", (key, value))
        return journal

    @classmethod
    def open(cls, path: Path) -> Journal:
        """An existing journal, to resume its game."""
        if not path.exists():
            raise JournalError(f"no journal at {path}")
        try:
            db = cls._connect(path)
            schema = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{path} is not a journal: {exc}") from None
        if schema is None or bytes(schema[0]) != str(SCHEMA_VERSION).encode():
            db.close()
            raise JournalError(f"{path} is not a journal of schema {SCHEMA_VERSION}")
        return cls(db, path)

    def _meta(self, key: str) -> bytes:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is None:
            raise JournalError(f"journal has no {key}")
        return bytes(row[0])

    @property
    def config(self) -> GameConfig:
        """The game's config, seed included."""
        return msgspec.json.decode(self._meta("config"), type=GameConfig)

    @property
    def room(self) -> str:
        """The room code players know the game by."""
        return self._meta("room").decode()

    @property
    def host_token(self) -> str:
        """The signaling host token, to reclaim the room after a restart."""
        return self._meta("host_token").decode()

    def _begin(self) -> None:
        if not self._in_transaction:
            self._db.execute("BEGIN")
            self._in_transaction = True

    def add_seat(self, record: SeatRecord) -> None:
        """Record a seat token (committed with the next :meth:`commit`)."""
        self._begin()
        self._db.execute(
            "INSERT OR REPLACE INTO seats VALUES (?, ?, ?)",
            (record.seat, record.token, record.name),
        )

    def append(self, action: Action, actor: int | None) -> None:
        """Record one accepted action (committed with the next :meth:`commit`)."""
        self._begin()
        self._db.execute(
            "INSERT INTO actions (actor, action) VALUES (?, ?)", (actor, encode_action(action))
        )

    @property
    def pending(self) -> bool:
        """True while appended records wait for a commit."""
        return self._in_transaction

    def commit(self) -> None:
        """Make everything appended durable (fsync of the WAL)."""
        if self._in_transaction:
            self._db.execute("COMMIT")
            self._in_transaction = False

    def seats(self) -> list[SeatRecord]:
        """Every seat issued so far."""
        rows = self._db.execute("SELECT seat, token, name FROM seats ORDER BY seat").fetchall()
        return [SeatRecord(int(s), str(t), str(n)) for s, t, n in rows]

    def action_count(self) -> int:
        """How many actions the journal holds."""
        return int(self._db.execute("SELECT COUNT(*) FROM actions").fetchone()[0])

    def replay(self, limit: int | None = None) -> GameState:
        """Rebuild the state by applying the journaled actions (the first ``limit``) in order."""
        state = new_game(self.config)
        rows = self._db.execute(
            "SELECT seq, actor, action FROM actions ORDER BY seq LIMIT ?",
            (-1 if limit is None else limit,),
        )
        for seq, actor, blob in rows:
            action = decode_action(bytes(blob))
            result = apply(state, action, actor)
            if result.rejection is not None:
                raise JournalError(
                    f"journal action {seq} no longer applies ({result.rejection.code}): "
                    "written by a different engine version?"
                )
            state = result.state
        return state

    def close(self) -> None:
        """Commit what is pending and close the database."""
        self.commit()
        self._db.close()
