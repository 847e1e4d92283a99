"""SQLite persistence of the local PagerDuty account: directory objects, incidents and events.

Objects are kept as the JSON documents the API returns (without the URL fields, which depend on
where the server listens) plus the few columns that requests filter on. One connection guarded by
a lock serves the event loop and the escalation/webhook tasks; every write is one transaction, so
a rejected request never leaves half a change behind.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["IncidentQuery", "Store"]

Doc = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, id TEXT NOT NULL, position INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, number INTEGER UNIQUE NOT NULL, service_id TEXT NOT NULL,
    status TEXT NOT NULL, dedup_key TEXT, urgency TEXT NOT NULL, created_at TEXT NOT NULL,
    level INTEGER NOT NULL, level_since REAL NOT NULL, assignees TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS incidents_dedup ON incidents (service_id, dedup_key, status);
CREATE INDEX IF NOT EXISTS incidents_created ON incidents (created_at);
CREATE INDEX IF NOT EXISTS incidents_escalation ON incidents (status, level_since, level);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, incident_id TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts (incident_id);
CREATE TABLE IF NOT EXISTS log_entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, incident_id TEXT NOT NULL,
    created_at TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS log_entries_incident ON log_entries (incident_id);
CREATE TABLE IF NOT EXISTS notes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, incident_id TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS change_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, service_id TEXT NOT NULL,
    timestamp TEXT NOT NULL, data TEXT NOT NULL);
"""


# ``sort_by`` fields of ``GET /incidents`` → the column (or JSON field) ordering them
SORTABLE = {
    "incident_number": "number",
    "created_at": "created_at",
    "urgency": "urgency",
    "resolved_at": "json_extract(data, '$.resolved_at')",
}


class IncidentQuery:
    """Filters of ``GET /incidents``; ``None`` means not filtered."""

    def __init__(
        self,
        *,
        statuses: list[str] | None = None,
        service_ids: list[str] | None = None,
        user_ids: list[str] | None = None,
        urgencies: list[str] | None = None,
        dedup_key: str | None = None,
        since: str | None = None,
        until: str | None = None,
        order: str = "number",
        descending: bool = False,
    ) -> None:
        if order not in SORTABLE.values():
            raise ValueError(f"cannot sort incidents by {order}")
        self.order = order
        self.descending = descending
        self.statuses = statuses
        self.service_ids = service_ids
        self.user_ids = user_ids
        self.urgencies = urgencies
        self.dedup_key = dedup_key
        self.since = since
        self.until = until

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for column, values in (
            ("status", self.statuses),
            ("service_id", self.service_ids),
            ("urgency", self.urgencies),
        ):
            if values:
                clauses.append(f"{column} IN ({','.join('?' * len(values))})")
                args.extend(values)
        if self.user_ids:
            clauses.append(
                "EXISTS (SELECT 1 FROM json_each(incidents.assignees) WHERE value IN "
                f"({','.join('?' * len(self.user_ids))}))"
            )
            args.extend(self.user_ids)
        if self.dedup_key is not None:
            clauses.append("dedup_key = ?")
            args.append(self.dedup_key)
        if self.since is not None:
            clauses.append("created_at >= ?")
            args.append(self.since)
        if self.until is not None:
            clauses.append("created_at < ?")
            args.append(self.until)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class Store:
    """The account's state in one SQLite file (``:memory:`` for throw-away servers)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside happen, or none (the lock makes it one writer at a time)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _exec(self, sql: str, args: list[Any] | tuple[Any, ...] = ()) -> None:
        with self._lock:
            self._db.execute(sql, args)

    # meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # directory objects --------------------------------------------------------------------
    def put_object(self, kind: str, doc: Doc, position: int = 0) -> None:
        self._exec(
            "INSERT OR REPLACE INTO objects (kind, id, position, data) VALUES (?, ?, ?, ?)",
            (kind, doc["id"], position, json.dumps(doc)),
        )

    def get_object(self, kind: str, object_id: str) -> Doc | None:
        rows = self._rows("SELECT data FROM objects WHERE kind = ? AND id = ?", (kind, object_id))
        return json.loads(rows[0][0]) if rows else None

    def list_objects(self, kind: str) -> list[Doc]:
        rows = self._rows("SELECT data FROM objects WHERE kind = ? ORDER BY position, id", (kind,))
        return [json.loads(r[0]) for r in rows]

    # incidents ----------------------------------------------------------------------------
    def next_incident_number(self) -> int:
        rows = self._rows("SELECT COALESCE(MAX(number), 0) + 1 FROM incidents")
        return int(rows[0][0])

    def insert_incident(self, doc: Doc, *, level: int, level_since: float) -> None:
        self._exec(
            "INSERT INTO incidents (id, number, service_id, status, dedup_key, urgency, "
            "created_at, level, level_since, assignees, data) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc["id"],
                doc["incident_number"],
                doc["service"]["id"],
                doc["status"],
                doc.get("incident_key"),
                doc["urgency"],
                doc["created_at"],
                level,
                level_since,
                json.dumps([a["assignee"]["id"] for a in doc["assignments"]]),
                json.dumps(doc),
            ),
        )

    def update_incident(self, doc: Doc, *, level: int, level_since: float) -> None:
        self._exec(
            "UPDATE incidents SET status = ?, urgency = ?, level = ?, level_since = ?, "
            "assignees = ?, data = ? WHERE id = ?",
            (
                doc["status"],
                doc["urgency"],
                level,
                level_since,
                json.dumps([a["assignee"]["id"] for a in doc["assignments"]]),
                json.dumps(doc),
                doc["id"],
            ),
        )

    def get_incident(self, incident_id: str) -> tuple[Doc, int, float] | None:
        """The incident document, its escalation level and when that level started."""
        rows = self._rows(
            "SELECT data, level, level_since FROM incidents WHERE id = ? OR number = ?",
            (incident_id, _as_number(incident_id)),
        )
        return (json.loads(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    def open_incident_for_dedup(self, service_id: str, dedup_key: str) -> str | None:
        rows = self._rows(
            "SELECT id FROM incidents WHERE service_id = ? AND dedup_key = ? "
            "AND status != 'resolved' ORDER BY number DESC LIMIT 1",
            (service_id, dedup_key),
        )
        return rows[0][0] if rows else None

    def query_incidents(
        self, query: IncidentQuery, offset: int, limit: int
    ) -> tuple[list[Doc], int]:
        where, args = query.where()
        total = self._rows(f"SELECT COUNT(*) FROM incidents{where}", args)[0][0]
        rows = self._rows(
            f"SELECT data FROM incidents{where} ORDER BY {query.order}"
            f"{' DESC' if query.descending else ''}, number LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [json.loads(r[0]) for r in rows], int(total)

    def escalation_candidates(
        self, level_since_before: float, below_level: int
    ) -> list[tuple[Doc, int, float]]:
        """Triggered (unacknowledged) incidents whose level began before the given time: the
        ones that may have outlived their escalation delay (an index keeps this cheap)."""
        rows = self._rows(
            "SELECT data, level, level_since FROM incidents "
            "WHERE status = 'triggered' AND level_since <= ? AND level < ?",
            (level_since_before, below_level),
        )
        return [(json.loads(r[0]), r[1], r[2]) for r in rows]

    def count(self, table: str) -> int:
        if table not in ("incidents", "alerts", "log_entries", "notes", "change_events"):
            raise ValueError(f"unknown table {table}")
        return int(self._rows(f"SELECT COUNT(*) FROM {table}")[0][0])

    # alerts, log entries, notes, change events --------------------------------------------
    def add_alert(self, incident_id: str, doc: Doc) -> None:
        self._exec(
            "INSERT INTO alerts (id, incident_id, data) VALUES (?, ?, ?)",
            (doc["id"], incident_id, json.dumps(doc)),
        )

    def update_alert(self, doc: Doc) -> None:
        self._exec("UPDATE alerts SET data = ? WHERE id = ?", (json.dumps(doc), doc["id"]))

    def move_alert(self, doc: Doc, incident_id: str) -> None:
        """The alert now belongs to ``incident_id`` (a merge)."""
        self._exec(
            "UPDATE alerts SET data = ?, incident_id = ? WHERE id = ?",
            (json.dumps(doc), incident_id, doc["id"]),
        )

    def delete_object(self, kind: str, object_id: str) -> bool:
        """Remove a directory object; whether there was one."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM objects WHERE kind = ? AND id = ?", (kind, object_id)
            )
            return cursor.rowcount > 0

    def get_change_event(self, event_id: str) -> Doc | None:
        rows = self._rows("SELECT data FROM change_events WHERE id = ?", (event_id,))
        return json.loads(rows[0][0]) if rows else None

    def get_alert(self, alert_id: str) -> Doc | None:
        rows = self._rows("SELECT data FROM alerts WHERE id = ?", (alert_id,))
        return json.loads(rows[0][0]) if rows else None

    def recent_incidents(self, limit: int) -> list[Doc]:
        """The newest ``limit`` incidents, newest first (the web list page)."""
        rows = self._rows("SELECT data FROM incidents ORDER BY number DESC LIMIT ?", (limit,))
        return [json.loads(r[0]) for r in rows]

    def list_alerts(self, incident_id: str) -> list[Doc]:
        rows = self._rows(
            "SELECT data FROM alerts WHERE incident_id = ? ORDER BY seq", (incident_id,)
        )
        return [json.loads(r[0]) for r in rows]

    def add_log_entry(self, incident_id: str, doc: Doc) -> None:
        self._exec(
            "INSERT INTO log_entries (id, incident_id, created_at, data) VALUES (?, ?, ?, ?)",
            (doc["id"], incident_id, doc["created_at"], json.dumps(doc)),
        )

    def get_log_entry(self, entry_id: str) -> Doc | None:
        rows = self._rows("SELECT data FROM log_entries WHERE id = ?", (entry_id,))
        return json.loads(rows[0][0]) if rows else None

    def list_log_entries(
        self,
        incident_id: str | None,
        *,
        since: str | None = None,
        until: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[Doc], int]:
        where, args = _where(
            ("incident_id = ?", incident_id), ("created_at >= ?", since), ("created_at < ?", until)
        )
        total = self._rows(f"SELECT COUNT(*) FROM log_entries{where}", args)[0][0]
        rows = self._rows(
            f"SELECT data FROM log_entries{where} ORDER BY seq DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [json.loads(r[0]) for r in rows], int(total)

    def add_note(self, incident_id: str, doc: Doc) -> None:
        self._exec(
            "INSERT INTO notes (id, incident_id, data) VALUES (?, ?, ?)",
            (doc["id"], incident_id, json.dumps(doc)),
        )

    def list_notes(self, incident_id: str) -> list[Doc]:
        rows = self._rows(
            "SELECT data FROM notes WHERE incident_id = ? ORDER BY seq", (incident_id,)
        )
        return [json.loads(r[0]) for r in rows]

    def add_change_event(self, service_id: str, doc: Doc) -> None:
        self._exec(
            "INSERT INTO change_events (id, service_id, timestamp, data) VALUES (?, ?, ?, ?)",
            (doc["id"], service_id, doc["timestamp"], json.dumps(doc)),
        )

    def list_change_events(
        self,
        service_id: str | None = None,
        *,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Doc]:
        where, args = _where(
            ("service_id = ?", service_id), ("timestamp >= ?", since), ("timestamp <= ?", until)
        )
        rows = self._rows(f"SELECT data FROM change_events{where} ORDER BY timestamp DESC", args)
        return [json.loads(r[0]) for r in rows]


def _as_number(incident_id: str) -> int:
    """PagerDuty accepts an incident's number in place of its id."""
    return int(incident_id) if incident_id.isdigit() else -1


def _where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """`` WHERE a = ? AND b >= ?`` and its arguments, from the conditions whose value is set."""
    chosen = [(clause, value) for clause, value in conditions if value is not None]
    where = (" WHERE " + " AND ".join(c for c, _ in chosen)) if chosen else ""
    return where, [value for _, value in chosen]
