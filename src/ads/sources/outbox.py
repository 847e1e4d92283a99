"""An on-disk outbox: alerts survive PagerDuty being unreachable, and a bad key is said once.

Every alert goes through ``Outbox.deliver``. When PagerDuty takes it, it is gone. When PagerDuty
cannot be reached (``TemporaryError``, e.g. ``PagerDutyUnavailableError``) the alert is written
to SQLite and the operator is told once per outage; queued alerts are sent in the order they
were raised, by ``flush`` or by the next ``deliver`` once the back-off has passed, and a new
alert never overtakes a queued one. When PagerDuty refuses the alert for good
(``PermanentError``, e.g. an invalid routing key) it is parked as ``rejected`` on disk for
inspection, the operator is told once per distinct reason, and it is never retried by itself:
no retry storm.

The sender is a small protocol (``AlertSender``) so that this module needs nothing from the
PagerDuty facade: anything with ``send(alert)`` that raises those errors will do.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from ..analysis.alert_rules import AlertEvent
from ..errors import ConfigError, PermanentError, TemporaryError

__all__ = ["AlertSender", "DeliveryStatus", "FlushResult", "Outbox", "ParkedAlert"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,           -- 'queued' or 'rejected'
    dedup_key TEXT NOT NULL,
    alert TEXT NOT NULL,            -- the AlertEvent as JSON
    queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
)
"""


class AlertSender(Protocol):
    """Sends one alert; raises ``TemporaryError`` (retry later) or ``PermanentError`` (don't)."""

    def send(self, alert: AlertEvent) -> None: ...


class DeliveryStatus(StrEnum):
    SENT = "sent"
    QUEUED = "queued"  # on disk, will be sent when PagerDuty is back
    REJECTED = "rejected"  # refused for good; on disk for inspection, not retried


@dataclass(frozen=True)
class FlushResult:
    sent: int
    queued: int  # still waiting (PagerDuty still unreachable)
    rejected: int  # refused during this flush


@dataclass(frozen=True)
class ParkedAlert:
    """An alert kept on disk: queued or rejected, with the last error it met."""

    id: int
    status: DeliveryStatus
    alert: AlertEvent
    attempts: int
    last_error: str | None


def _to_json(alert: AlertEvent) -> str:
    data = asdict(alert)
    data["timestamp"] = alert.timestamp.isoformat()
    return json.dumps(data, sort_keys=True, default=str)


def _from_json(text: str) -> AlertEvent:
    data: dict[str, Any] = json.loads(text)
    data["timestamp"] = datetime.fromisoformat(data["timestamp"])
    return AlertEvent(**data)


class Outbox:
    """The SQLite outbox at ``path``; ``notify`` receives the operator's one-line messages."""

    def __init__(
        self,
        path: Path,
        *,
        notify: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.notify = notify or (lambda message: None)
        self.clock = clock
        self._lock = threading.RLock()
        self._retry_at = 0.0
        self._outage = False
        self._reported: set[str] = set()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as conn:
                conn.execute(_SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise ConfigError(f"outbox {path}: cannot be used ({exc})") from None
        if self.queued_count():
            self._outage = True  # a previous run left alerts behind: send them first

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    # -- reading -----------------------------------------------------------------------------

    def _parked(self, status: DeliveryStatus) -> list[ParkedAlert]:
        with self._db() as conn:
            rows = conn.execute(
                "SELECT id, alert, attempts, last_error FROM outbox WHERE status = ? ORDER BY id",
                (status.value,),
            ).fetchall()
        return [ParkedAlert(row[0], status, _from_json(row[1]), row[2], row[3]) for row in rows]

    def queued(self) -> list[ParkedAlert]:
        return self._parked(DeliveryStatus.QUEUED)

    def rejected(self) -> list[ParkedAlert]:
        return self._parked(DeliveryStatus.REJECTED)

    def queued_count(self) -> int:
        with self._db() as conn:
            row = conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'queued'").fetchone()
        return int(row[0])

    # -- writing -----------------------------------------------------------------------------

    def _store(
        self, alert: AlertEvent, status: DeliveryStatus, error: str | None, attempts: int = 1
    ) -> None:
        with self._db() as conn:
            conn.execute(
                "INSERT INTO outbox (status, dedup_key, alert, queued_at, attempts, last_error)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (status.value, alert.dedup_key, _to_json(alert), time.time(), attempts, error),
            )

    def _reject(self, error: PermanentError) -> None:
        reason = str(error)
        if reason not in self._reported:
            self._reported.add(reason)
            self.notify(
                f"PagerDuty refused the alert: {reason}. It is kept in {self.path} with status "
                "'rejected' and will not be retried; fix the cause and send it again."
            )

    def _went_down(self, error: TemporaryError) -> None:
        self._retry_at = self.clock() + error.delay
        if not self._outage:
            self._outage = True
            self.notify(
                f"PagerDuty is unreachable ({error}); alerts are queued in {self.path} and will "
                "be sent in order when it is back."
            )

    def deliver(self, alert: AlertEvent, sender: AlertSender) -> DeliveryStatus:
        """Send ``alert`` now, or queue it behind earlier ones; never lose it, never reorder."""
        with self._lock:
            if self._outage:
                if self.clock() >= self._retry_at:
                    self.flush(sender)
                if self._outage:
                    self._store(alert, DeliveryStatus.QUEUED, "waiting behind queued alerts", 0)
                    return DeliveryStatus.QUEUED
            try:
                sender.send(alert)
            except TemporaryError as exc:
                self._store(alert, DeliveryStatus.QUEUED, str(exc))
                self._went_down(exc)
                return DeliveryStatus.QUEUED
            except PermanentError as exc:
                self._store(alert, DeliveryStatus.REJECTED, str(exc))
                self._reject(exc)
                return DeliveryStatus.REJECTED
            return DeliveryStatus.SENT

    def flush_if_due(self, sender: AlertSender) -> FlushResult | None:
        """``flush`` when alerts wait and the last failure's back-off has passed; for timers."""
        with self._lock:
            if not self._outage or self.clock() < self._retry_at:
                return None
            return self.flush(sender)

    def flush(self, sender: AlertSender) -> FlushResult:
        """Send queued alerts oldest first; stop at the first temporary failure."""
        with self._lock:
            sent = rejected = 0
            for parked in self.queued():
                try:
                    sender.send(parked.alert)
                except TemporaryError as exc:
                    with self._db() as conn:
                        conn.execute(
                            "UPDATE outbox SET attempts = attempts + 1, last_error = ?"
                            " WHERE id = ?",
                            (str(exc), parked.id),
                        )
                    self._went_down(exc)
                    break
                except PermanentError as exc:
                    with self._db() as conn:
                        conn.execute(
                            "UPDATE outbox SET status = 'rejected', attempts = attempts + 1,"
                            " last_error = ? WHERE id = ?",
                            (str(exc), parked.id),
                        )
                    self._reject(exc)
                    rejected += 1
                    continue
                with self._db() as conn:
                    conn.execute("DELETE FROM outbox WHERE id = ?", (parked.id,))
                sent += 1
            remaining = self.queued_count()
            if remaining == 0 and self._outage:
                self._outage = False
                self.notify(f"PagerDuty is reachable again: sent {sent} queued alert(s).")
            return FlushResult(sent=sent, queued=remaining, rejected=rejected)
