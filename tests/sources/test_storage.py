"""The SQLite store: one job per incident however often it is delivered, resumed after a crash."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from ads.models import Diagnosis, Incident
from ads.sources.storage import MAX_ATTEMPTS, Store


def test_repeated_and_concurrent_deliveries_make_one_job(tmp_path: Path) -> None:
    store = Store(tmp_path / "ads.db")
    results: list[bool] = []

    def deliver() -> None:
        results.append(store.enqueue_job("PINC1", "incident.triggered", {"n": 1}))

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
    (job,) = store.jobs()
    assert job.deliveries == 20 and job.status == "queued"


def test_claimed_job_is_not_handed_out_twice_until_its_lease_expires(tmp_path: Path) -> None:
    store = Store(tmp_path / "ads.db")
    store.enqueue_job("PINC1", "incident.triggered", {})
    first = store.claim_job(lease_seconds=0.2)
    assert first is not None and first.attempts == 1
    assert store.claim_job() is None  # running, lease valid
    time.sleep(0.3)  # the worker "crashed": the lease runs out
    again = Store(tmp_path / "ads.db").claim_job()  # a restarted worker, fresh connection
    assert again is not None and again.id == first.id and again.attempts == 2
    assert not store.finish_job(first)  # the crashed worker's claim is void
    assert store.finish_job(again)
    assert store.claim_job() is None
    assert store.job("PINC1") is not None and store.job("PINC1").status == "done"  # type: ignore[union-attr]


def test_diagnosis_round_trips(tmp_path: Path) -> None:
    store = Store(tmp_path / "ads.db")
    now = datetime(2026, 11, 25, tzinfo=UTC)
    incident = Incident(id="PINC1", number=1, title="OOMKilled", status="triggered", created_at=now)
    diagnosis = Diagnosis(incident=incident, service="svc", created_at=now)
    store.save_diagnosis(diagnosis)
    assert store.diagnosis("PINC1") == diagnosis
    assert store.latest_diagnosis() == diagnosis
    assert store.diagnosis("nope") is None


def test_lease_renewal_keeps_a_long_job_and_attempts_are_capped(tmp_path: Path) -> None:
    store = Store(tmp_path / "ads.db")
    store.enqueue_job("PINC2", "incident.triggered", {})
    job = store.claim_job(lease_seconds=0.2)
    assert job is not None
    for _ in range(3):
        time.sleep(0.1)
        assert store.renew_lease(job, 0.2)
    assert store.claim_job() is None  # still held: renewed
    for _ in range(MAX_ATTEMPTS - 1):  # every later worker "crashes" too
        time.sleep(0.25)
        assert store.claim_job(lease_seconds=0.2) is not None
    time.sleep(0.25)
    assert store.claim_job() is None
    final = store.job("PINC2")
    assert final is not None and final.status == "failed" and "gave up" in (final.error or "")
