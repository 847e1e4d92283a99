"""ADS's own state in SQLite: diagnoses, remediations and webhook jobs.

One file (``<state_dir>/ads.db``), opened per operation with WAL so the webhook server, its
worker and the CLI can share it. Jobs are unique per incident: a webhook delivered twenty times
(or concurrently) inserts one job, and a worker claims it atomically; a job left ``running`` by a
crash is handed out again after its lease expires (at once when the process that held it is
gone: a claim carries its owner tag), so it is resumed, not lost or duplicated.

A remediation in progress keeps a *checkpoint* per incident: the stages it has completed and the
partial ``Remediation`` they produced, so a retry after a crash or a temporary error resumes after
the last completed stage instead of repeating it (``ads.workflow.remediate``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..models import Diagnosis, Remediation
from .owner import Owner, current_owner

__all__ = ["MAX_ATTEMPTS", "Checkpoint", "Job", "Store"]

MAX_ATTEMPTS = 5

SCHEMA = """
CREATE TABLE IF NOT EXISTS diagnoses (
    incident_id TEXT PRIMARY KEY, body TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS remediations (
    incident_id TEXT PRIMARY KEY, body TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    incident_id TEXT PRIMARY KEY, stages TEXT NOT NULL, remediation TEXT, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    error TEXT,
    deliveries INTEGER NOT NULL DEFAULT 1,
    claim TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL);
"""


@dataclass(frozen=True)
class Job:
    """One incident's work item, as the webhook worker sees it."""

    id: int
    incident_id: str
    event_type: str
    payload: dict[str, object]
    status: str
    attempts: int
    deliveries: int
    error: str | None
    created: float
    updated: float
    claim: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """The stages of a remediation completed so far, and the remediation as they left it."""

    stages: tuple[str, ...]
    remediation: Remediation | None


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        incident_id=row["incident_id"],
        event_type=row["event_type"],
        payload=json.loads(row["payload"]),
        status=row["status"],
        attempts=row["attempts"],
        deliveries=row["deliveries"],
        error=row["error"],
        created=row["created"],
        updated=row["updated"],
        claim=row["claim"],
    )


class Store:
    """The SQLite file; safe to use from several threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            columns = {r["name"] for r in db.execute("PRAGMA table_info(jobs)")}
            if "claim" not in columns:  # a store made before claims existed
                db.execute("ALTER TABLE jobs ADD COLUMN claim TEXT")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One writer at a time inside this process: SQLite's own busy handler sleeps in steps
        # of up to 100 ms, which is what a burst of webhooks would otherwise wait on.
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            try:
                yield db
            finally:
                db.close()

    # -- diagnoses and remediations ---------------------------------------------------------------

    def save_diagnosis(self, diagnosis: Diagnosis) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO diagnoses VALUES (?, ?, ?)",
                (diagnosis.incident.id, diagnosis.model_dump_json(), time.time()),
            )

    def diagnosis(self, incident_id: str) -> Diagnosis | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT body FROM diagnoses WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        return Diagnosis.model_validate_json(row["body"]) if row else None

    def diagnosis_by_number(self, number: int) -> Diagnosis | None:
        """The stored diagnosis of incident number ``number`` (``#1``), the newest if several
        accounts' incidents share it."""
        with self._connect() as db:
            row = db.execute(
                "SELECT body FROM diagnoses WHERE json_extract(body, '$.incident.number') = ? "
                "ORDER BY updated DESC LIMIT 1",
                (number,),
            ).fetchone()
        return Diagnosis.model_validate_json(row["body"]) if row else None

    def latest_diagnosis(self) -> Diagnosis | None:
        with self._connect() as db:
            row = db.execute("SELECT body FROM diagnoses ORDER BY updated DESC LIMIT 1").fetchone()
        return Diagnosis.model_validate_json(row["body"]) if row else None

    def save_remediation(self, remediation: Remediation) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO remediations VALUES (?, ?, ?)",
                (remediation.incident_id, remediation.model_dump_json(), time.time()),
            )

    def remediation(self, incident_id: str) -> Remediation | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT body FROM remediations WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        return Remediation.model_validate_json(row["body"]) if row else None

    def remediations(self) -> list[Remediation]:
        with self._connect() as db:
            rows = db.execute("SELECT body FROM remediations ORDER BY updated").fetchall()
        return [Remediation.model_validate_json(r["body"]) for r in rows]

    # -- checkpoints of remediations in progress -------------------------------------------------

    def save_checkpoint(
        self, incident_id: str, stages: list[str], remediation: Remediation | None
    ) -> None:
        body = remediation.model_dump_json() if remediation is not None else None
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
                (incident_id, json.dumps(stages), body, time.time()),
            )

    def checkpoint(self, incident_id: str) -> Checkpoint | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT stages, remediation FROM checkpoints WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        if row is None:
            return None
        body = row["remediation"]
        return Checkpoint(
            stages=tuple(json.loads(row["stages"])),
            remediation=Remediation.model_validate_json(body) if body else None,
        )

    def clear_checkpoint(self, incident_id: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM checkpoints WHERE incident_id = ?", (incident_id,))

    # -- jobs -------------------------------------------------------------------------------------

    def enqueue_job(self, incident_id: str, event_type: str, payload: dict[str, object]) -> bool:
        """Store a job for the incident; ``False`` when one exists (a repeated delivery)."""
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            existing = db.execute(
                "SELECT id FROM jobs WHERE incident_id = ?", (incident_id,)
            ).fetchone()
            if existing is not None:
                db.execute(
                    "UPDATE jobs SET deliveries = deliveries + 1 WHERE id = ?", (existing["id"],)
                )
            else:
                db.execute(
                    "INSERT INTO jobs (incident_id, event_type, payload, created, updated) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (incident_id, event_type, json.dumps(payload), now, now),
                )
            db.execute("COMMIT")
        return existing is None

    def claim_job(self, lease_seconds: float = 300.0) -> Job | None:
        """Atomically take the oldest queued job, or a running one whose lease expired.

        The job gets a fresh claim token: only the holder of the current claim can renew the
        lease or finish the job, so a worker that lost its lease (it was too slow, or another
        took the job over) cannot overwrite the new holder's result. A job that has been
        attempted ``MAX_ATTEMPTS`` times is marked failed instead of handed out again.
        """
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT * FROM jobs WHERE status = 'queued' "
                "OR (status = 'running' AND lease_until < ?) ORDER BY id LIMIT 1",
                (now,),
            ).fetchone()
            if row is not None and row["attempts"] >= MAX_ATTEMPTS:
                db.execute(
                    "UPDATE jobs SET status = 'failed', claim = NULL, updated = ?, error = ? "
                    "WHERE id = ?",
                    (now, f"gave up after {row['attempts']} attempts: {row['error']}", row["id"]),
                )
                db.execute("COMMIT")
                return self.claim_job(lease_seconds)
            if row is None:
                db.execute("COMMIT")
                return None
            db.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, "
                "updated = ?, claim = ? WHERE id = ?",
                (now + lease_seconds, now, f"{current_owner().tag}-{uuid.uuid4().hex}", row["id"]),
            )
            db.execute("COMMIT")
            claimed = db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return _job(claimed)

    def release_abandoned_jobs(self) -> list[str]:
        """Make running jobs whose claiming process is gone claimable now; their incidents.

        Their lease would expire anyway; this just saves the wait after a crash and restart.
        """
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT id, incident_id, claim FROM jobs WHERE status = 'running' "
                "AND claim IS NOT NULL AND lease_until > ?",
                (time.time(),),
            ).fetchall()
            released = []
            for row in rows:
                owner = Owner.parse(str(row["claim"]).partition("-")[0])
                if owner is None or owner == current_owner() or owner.alive():
                    continue
                db.execute("UPDATE jobs SET lease_until = 0 WHERE id = ?", (row["id"],))
                released.append(str(row["incident_id"]))
            db.execute("COMMIT")
        return released

    def renew_lease(self, job: Job, lease_seconds: float) -> bool:
        """Extend the lease of a job still held under ``job.claim``; ``False`` if it was lost."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND claim = ? AND status = 'running'",
                (time.time() + lease_seconds, job.id, job.claim),
            )
            return cursor.rowcount == 1

    def finish_job(self, job: Job, *, error: str | None = None) -> bool:
        """Record the outcome, if ``job.claim`` still holds it; ``False`` when it was lost."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, error = ?, lease_until = 0, claim = NULL, updated = ? "
                "WHERE id = ? AND claim IS ?",
                ("failed" if error else "done", error, time.time(), job.id, job.claim),
            )
            return cursor.rowcount == 1

    def retry_job(self, job: Job, *, error: str, delay: float) -> bool:
        """Put a job back for a later attempt (a temporary failure), if still held."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = 'running', error = ?, lease_until = ?, claim = NULL, "
                "updated = ? WHERE id = ? AND claim IS ?",
                (error, time.time() + delay, time.time(), job.id, job.claim),
            )
            return cursor.rowcount == 1

    def jobs(self) -> list[Job]:
        with self._connect() as db:
            return [_job(r) for r in db.execute("SELECT * FROM jobs ORDER BY id").fetchall()]

    def job(self, incident_id: str) -> Job | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE incident_id = ?", (incident_id,)).fetchone()
        return _job(row) if row else None
