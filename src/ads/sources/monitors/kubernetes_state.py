"""What the Kubernetes watcher has already paged for, kept in SQLite so a restart repeats nothing.

One row per (namespace, pod, container): the last kill alerted, identified by the pod's uid, the
container's restartCount, the dead container's ID and its finishedAt. ``is_new`` decides whether
a kill seen in a pod (from a list, a watch event, a replayed event after a reconnect, or a re-list
after ``410 Gone``) is one the watcher has not paged for yet. Kills only move forward in time, so
an older one that reappears (a replayed watch event) is never new.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ...errors import ConfigError
from .kubernetes_pods import ContainerKill

__all__ = ["AlertedKills", "SeenKill", "is_new"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerted_kills (
    namespace TEXT NOT NULL,
    pod TEXT NOT NULL,
    container TEXT NOT NULL,
    pod_uid TEXT,
    restart_count INTEGER NOT NULL,
    container_id TEXT,
    finished_at TEXT,
    PRIMARY KEY (namespace, pod, container)
)
"""


@dataclass(frozen=True)
class SeenKill:
    """The last kill paged for (or deliberately skipped) for one container."""

    pod_uid: str | None
    restart_count: int
    container_id: str | None
    finished_at: datetime | None


def is_new(kill: ContainerKill, seen: SeenKill | None) -> bool:
    """True when ``kill`` happened after the one recorded in ``seen``."""
    if seen is None:
        return True
    if kill.pod_uid and seen.pod_uid and kill.pod_uid != seen.pod_uid:
        return True  # same name, new pod (e.g. a StatefulSet replica recreated)
    if kill.container_id and kill.container_id == seen.container_id:
        return False
    if kill.finished_at and seen.finished_at and kill.finished_at != seen.finished_at:
        return kill.finished_at > seen.finished_at
    return kill.restart_count > seen.restart_count


class AlertedKills:
    """The watcher's memory: in a dict, and in SQLite at ``path`` when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._seen: dict[tuple[str, str, str], SeenKill] = {}
        if path is not None:
            self._load(path)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        assert self.path is not None
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def _load(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as conn:
                conn.execute(_SCHEMA)
                rows = conn.execute(
                    "SELECT namespace, pod, container, pod_uid, restart_count, container_id,"
                    " finished_at FROM alerted_kills"
                ).fetchall()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise ConfigError(
                f"watcher state {path}: cannot be used ({exc})",
                hint="pass --state with a writable path, or remove the damaged file",
            ) from None
        for ns, pod, container, uid, restarts, cid, finished in rows:
            self._seen[(ns, pod, container)] = SeenKill(
                pod_uid=uid,
                restart_count=int(restarts),
                container_id=cid,
                finished_at=datetime.fromisoformat(finished) if finished else None,
            )

    def get(self, key: tuple[str, str, str]) -> SeenKill | None:
        return self._seen.get(key)

    def is_new(self, kill: ContainerKill) -> bool:
        return is_new(kill, self._seen.get(kill.key))

    def record(self, kill: ContainerKill) -> None:
        """Remember ``kill`` as handled, in memory and on disk, before the next one is looked at."""
        seen = SeenKill(kill.pod_uid, kill.restart_count, kill.container_id, kill.finished_at)
        self._seen[kill.key] = seen
        if self.path is None:
            return
        with self._db() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO alerted_kills VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    *kill.key,
                    seen.pod_uid,
                    seen.restart_count,
                    seen.container_id,
                    seen.finished_at.isoformat() if seen.finished_at else None,
                ),
            )

    def __len__(self) -> int:
        return len(self._seen)
