"""The outbox: PagerDuty unreachable loses nothing and keeps order; a bad key is said once.

The sender here is a real implementation of the ``AlertSender`` protocol that the test controls
(it is down for a while, or rejects the key); it is the seam, not a mock of PagerDuty. The outbox
itself is the real SQLite file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ads.analysis.alert_rules import AlertEvent, build_alert_event
from ads.config import AlertRules
from ads.errors import ConfigError, PagerDutyAuthError, PagerDutyUnavailableError
from ads.models import OomEvent
from ads.sources.outbox import DeliveryStatus, Outbox


class FlakyPagerDuty:
    """Refuses with ``PagerDutyUnavailableError`` while ``down``; records what it accepted."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.accepted: list[AlertEvent] = []
        self.attempts = 0

    def send(self, alert: AlertEvent) -> None:
        self.attempts += 1
        if self.down:
            raise PagerDutyUnavailableError("connection refused by events.pagerduty.com", delay=5)
        self.accepted.append(alert)


class WrongRoutingKey:
    """PagerDuty's answer to an unknown integration key: 400, permanently."""

    def __init__(self) -> None:
        self.attempts = 0

    def send(self, alert: AlertEvent) -> None:
        self.attempts += 1
        raise PagerDutyAuthError("Events API rejected the routing key (400 Invalid routing key)")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _alert(restarts: int) -> AlertEvent:
    event = OomEvent(
        service="ads-demo-service",
        namespace="default",
        workload="ads-demo-service",
        container="worker",
        memory_limit=64 * 1024 * 1024,
        restart_count=restarts,
        killed_at=datetime(2026, 11, 25, 5, restarts, 0, tzinfo=UTC),
    )
    return build_alert_event(event, AlertRules())


def test_alerts_queue_while_pagerduty_is_down_and_go_out_in_order(tmp_path: Path) -> None:
    notices: list[str] = []
    clock = Clock()
    outbox = Outbox(tmp_path / "outbox.db", notify=notices.append, clock=clock)
    pagerduty = FlakyPagerDuty(down=True)

    statuses = [outbox.deliver(_alert(n), pagerduty) for n in (1, 2, 3)]

    assert statuses == [DeliveryStatus.QUEUED] * 3
    assert pagerduty.attempts == 1  # within the back-off the others wait without trying
    assert len(notices) == 1 and "unreachable" in notices[0] and "queued" in notices[0]
    assert [p.alert.custom_details["restart_count"] for p in outbox.queued()] == [1, 2, 3]

    pagerduty.down = False
    result = outbox.flush(pagerduty)

    assert (result.sent, result.queued, result.rejected) == (3, 0, 0)
    assert [a.custom_details["restart_count"] for a in pagerduty.accepted] == [1, 2, 3]
    assert pagerduty.accepted[0] == _alert(1)  # the stored JSON is the same event
    assert "reachable again" in notices[-1]
    assert outbox.queued() == []


def test_a_new_alert_never_overtakes_queued_ones(tmp_path: Path) -> None:
    clock = Clock()
    outbox = Outbox(tmp_path / "outbox.db", clock=clock)
    pagerduty = FlakyPagerDuty(down=True)
    outbox.deliver(_alert(1), pagerduty)
    pagerduty.down = False
    clock.now = 10  # past the 5 s back-off

    assert outbox.deliver(_alert(2), pagerduty) is DeliveryStatus.SENT
    assert [a.custom_details["restart_count"] for a in pagerduty.accepted] == [1, 2]


def test_flush_stops_at_the_first_failure_and_keeps_the_rest(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", clock=Clock())
    pagerduty = FlakyPagerDuty(down=True)
    for n in (1, 2, 3):
        outbox.deliver(_alert(n), pagerduty)
    attempts = pagerduty.attempts

    result = outbox.flush(pagerduty)

    assert (result.sent, result.queued) == (0, 3)
    assert pagerduty.attempts == attempts + 1  # one try, not one per queued alert
    assert [p.attempts for p in outbox.queued()] == [2, 0, 0]


def test_queued_alerts_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    Outbox(path, clock=Clock()).deliver(_alert(1), FlakyPagerDuty(down=True))

    pagerduty = FlakyPagerDuty()
    reopened = Outbox(path, clock=Clock())
    assert reopened.deliver(_alert(2), pagerduty) is DeliveryStatus.SENT
    assert [a.custom_details["restart_count"] for a in pagerduty.accepted] == [1, 2]


def test_flush_if_due_waits_for_the_back_off(tmp_path: Path) -> None:
    clock = Clock()
    outbox = Outbox(tmp_path / "outbox.db", clock=clock)
    pagerduty = FlakyPagerDuty(down=True)
    outbox.deliver(_alert(1), pagerduty)
    pagerduty.down = False

    assert outbox.flush_if_due(pagerduty) is None
    clock.now = 6
    result = outbox.flush_if_due(pagerduty)
    assert result is not None and result.sent == 1
    assert outbox.flush_if_due(pagerduty) is None  # nothing waiting any more


def test_an_invalid_routing_key_is_one_clear_message_and_no_retry(tmp_path: Path) -> None:
    notices: list[str] = []
    outbox = Outbox(tmp_path / "outbox.db", notify=notices.append, clock=Clock())
    sender = WrongRoutingKey()

    statuses = [outbox.deliver(_alert(n), sender) for n in (1, 2, 3)]
    outbox.flush(sender)

    assert statuses == [DeliveryStatus.REJECTED] * 3
    assert sender.attempts == 3  # each alert tried once; flush does not retry rejected ones
    assert len(notices) == 1
    assert "routing key" in notices[0] and "rejected" in notices[0]
    parked = outbox.rejected()
    assert [p.alert.custom_details["restart_count"] for p in parked] == [1, 2, 3]
    assert parked[0].last_error is not None and "Invalid routing key" in parked[0].last_error


def test_queued_alert_rejected_on_flush_is_parked(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", clock=Clock())
    outbox.deliver(_alert(1), FlakyPagerDuty(down=True))

    result = outbox.flush(WrongRoutingKey())

    assert (result.sent, result.queued, result.rejected) == (0, 0, 1)
    assert len(outbox.rejected()) == 1


def test_an_unusable_outbox_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "outbox.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match=r"outbox .* cannot be used"):
        Outbox(bad)
