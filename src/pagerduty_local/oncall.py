"""Who is on call: a schedule's rotation turned into on-call spans, as ``GET /oncalls`` reports.

A schedule layer starts at ``rotation_virtual_start`` and hands over every
``rotation_turn_length_seconds`` to the next user in its list, round and round. That is all the
demo account needs (no restrictions, no overrides), and it is the rule PagerDuty applies.

Rendering is bounded: a window longer than ``MAX_WINDOW`` is refused by the routes, and one
that would still produce more than ``MAX_TURNS`` turns (a one-second rotation) raises
``TooManyTurns`` before building them, so no request can keep the server busy for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["MAX_TURNS", "MAX_WINDOW", "TooManyTurns", "Turn", "format_time", "parse_time", "turns"]

MAX_WINDOW = timedelta(days=90)  # PagerDuty: "on-call shifts are limited to 90 days"
MAX_TURNS = 10_000  # per layer and window


class TooManyTurns(ValueError):
    """The window holds more than ``MAX_TURNS`` turns of a layer."""


@dataclass(frozen=True)
class Turn:
    """One user on call from ``start`` to ``end``."""

    user: dict[str, Any]
    start: datetime
    end: datetime


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; naive times are UTC. A ``+`` that a query string turned into a space is
    put back. ``ValueError`` for anything else."""
    value = datetime.fromisoformat(text.strip().replace(" ", "+").replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def turns(schedule: dict[str, Any], since: datetime, until: datetime) -> list[Turn]:
    """Every turn of the schedule's layers that overlaps ``[since, until]``, clipped to each
    layer's ``start`` / ``end`` (a layer that has not started yet puts nobody on call)."""
    found: list[Turn] = []
    for layer in schedule.get("schedule_layers", []):
        users = [u["user"] for u in layer["users"]]
        if not users:
            continue
        origin = parse_time(layer["rotation_virtual_start"])
        layer_start = parse_time(layer["start"]) if layer.get("start") else None
        layer_end = parse_time(layer["end"]) if layer.get("end") else None
        length = timedelta(seconds=int(layer["rotation_turn_length_seconds"]))
        if (until - since) // length > MAX_TURNS:
            raise TooManyTurns(
                f"the range holds more than {MAX_TURNS} on-call turns of schedule "
                f"{schedule.get('id', '?')}; narrow since/until"
            )
        index = (since - origin) // length
        while True:
            start = origin + index * length
            if start > until:
                break
            begin = max(start, layer_start) if layer_start else start
            finish = min(start + length, layer_end) if layer_end else start + length
            if begin < finish and finish > since:
                found.append(Turn(users[index % len(users)], begin, finish))
            index += 1
            if start + length > until:
                break
    return _overridden(found, schedule.get("overrides", []), since, until)


def _overridden(
    found: list[Turn], overrides: list[dict[str, Any]], since: datetime, until: datetime
) -> list[Turn]:
    """The turns with each override's user on call for its window instead (``POST
    /schedules/{id}/overrides``), as PagerDuty's final schedule shows them."""
    for override in overrides:
        start, end = parse_time(override["start"]), parse_time(override["end"])
        if end <= since or start > until:
            continue
        kept: list[Turn] = []
        for turn in found:
            if turn.end <= start or turn.start >= end:
                kept.append(turn)
                continue
            if turn.start < start:
                kept.append(Turn(turn.user, turn.start, start))
            if turn.end > end:
                kept.append(Turn(turn.user, end, turn.end))
        kept.append(Turn(override["user"], start, end))
        found = sorted(kept, key=lambda t: t.start)
    return [t for t in found if t.end > since and t.start <= until]
