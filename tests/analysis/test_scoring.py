"""Ranking and confidence: the leak that explains the OOM comes first, with written reasons."""

from __future__ import annotations

from datetime import UTC, datetime

from ads.analysis.scoring import (
    challengers,
    impact_text,
    incident_signal,
    predict_seconds_to_oom,
    rank_findings,
)
from ads.models import (
    Alert,
    Change,
    CodeEdit,
    CodeEditKind,
    Confidence,
    Finding,
    FindingKind,
    Incident,
    Support,
)

MiB = 1024 * 1024
NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def incident(*, oom: bool = True, seconds: float = 1.8) -> Incident:
    details: dict[str, object] = (
        {
            "reason": "OOMKilled",
            "exit_code": 137,
            "memory_limit": "64Mi",
            "seconds_to_kill": seconds,
        }
        if oom
        else {"reason": "Error", "exit_code": 1}
    )
    return Incident(
        id="PINC1",
        number=7,
        title="ads-demo-service OOMKilled" if oom else "ads-demo-service is slow",
        status="triggered",
        created_at=NOW,
        alerts=[Alert(id="A1", summary="x", custom_details=details)],
    )


def loop_leak(**fields: object) -> Finding:
    body: dict[str, object] = {
        "file": "worker.c",
        "function": "controller",
        "line": 26,
        "end_line": 27,
        "kind": FindingKind.LOOP_LEAK,
        "issue": "memory allocation without corresponding free",
        "allocation": "malloc(...)",
        "bytes_per_iteration": 8 * MiB,
        "iterations_per_second": 4.0,
        "support": [Support.PATH],  # as the path analysis reports it
    }
    body.update(fields)
    return Finding.model_validate(body)


def test_signal_reads_limit_and_observed_time_from_alerts() -> None:
    signal = incident_signal(incident())
    assert signal.oom and signal.memory_limit == 64 * MiB
    assert signal.observed_seconds_to_oom == 1.8


def test_prediction_for_the_demo_is_close_to_what_the_kernel_did() -> None:
    predicted = predict_seconds_to_oom(loop_leak(), 64 * MiB)
    assert predicted is not None and 0.9 <= predicted <= 3.6  # observed ~1.8 s, factor 2


def test_loop_leak_with_matching_prediction_and_commit_is_high_and_first() -> None:
    commit = Change(
        sha="abc1234def",
        author="Sam",
        authored_at=NOW,
        subject="drop free",
        before_incident_seconds=7200,
    )
    one_off = loop_leak(kind=FindingKind.ONE_OFF_LEAK, line=50, end_line=50, function="main")
    ranked = rank_findings([one_off, loop_leak(introduced_by=commit)], incident_signal(incident()))
    top = ranked[0]
    assert (top.function, top.confidence) == ("controller", Confidence.HIGH)
    assert any("abc1234" in reason and "2.0 h" in reason for reason in top.reasons)
    assert any("matches the observed" in reason for reason in top.reasons)
    assert ranked[1].confidence is Confidence.LOW
    assert any("not the OOM cause" in reason for reason in ranked[1].reasons)


def test_without_an_oom_signal_confidence_is_low_and_said_why() -> None:
    signal = incident_signal(incident(oom=False))
    (finding,) = rank_findings([loop_leak()], signal)
    assert finding.confidence is Confidence.LOW
    assert signal.notes and "no OOM signal" in signal.notes[0]


def test_parse_problems_lower_confidence() -> None:
    (finding,) = rank_findings([loop_leak()], incident_signal(incident()), parse_problems=True)
    assert finding.confidence is Confidence.MEDIUM


def test_impact_names_the_growth_and_the_prediction() -> None:
    text = impact_text(loop_leak(), incident_signal(incident()))
    assert text.startswith("continuous memory growth until OOMKilled")
    assert "8.0 MiB per iteration" in text and "observed 1.8 s" in text


def test_parse_problems_in_another_file_do_not_lower_confidence() -> None:
    signal = incident_signal(incident())
    commit = Change(
        sha="abc1234def", author="Sam", authored_at=NOW, subject="drop free",
        before_incident_seconds=7200,
    )  # fmt: skip
    (elsewhere,) = rank_findings(
        [loop_leak(introduced_by=commit)], signal, unparsed_files={"generated/other.c"}
    )
    (here,) = rank_findings([loop_leak(introduced_by=commit)], signal, unparsed_files={"worker.c"})
    assert (elsewhere.confidence, here.confidence) == (Confidence.HIGH, Confidence.MEDIUM)


def test_an_analyser_is_asked_only_where_its_agreement_could_change_the_first_finding() -> None:
    signal = incident_signal(incident())
    commit = Change(sha="abc1234def", author="Sam", authored_at=NOW, subject="reuse buffer",
                    before_incident_seconds=7200)  # fmt: skip
    decided = rank_findings(
        [loop_leak(introduced_by=commit), loop_leak(function="other", line=90, end_line=90)],
        signal,
    )
    assert decided[0].function == "controller"
    assert challengers(decided, limit=2) == []  # +0.2 cannot beat a proved leak with its commit

    tied = rank_findings(
        [loop_leak(), loop_leak(function="other", line=90, end_line=90),
         loop_leak(function="third", line=120, end_line=120)],
        signal,
    )  # fmt: skip
    asked = challengers(tied, limit=2)
    assert [f.function for f in asked] == ["controller", "other"]  # the leader keeps its chance


def _proved(change: Change, variable: str = "obja") -> Finding:
    return Finding(
        file="t.c", function="lcs", line=5, end_line=5, kind=FindingKind.LOOP_LEAK,
        issue="leak", allocation="make()", variable=variable, introduced_by=change,
        support=[Support.PATH],
    )  # fmt: skip


def _commit(*edits: CodeEdit) -> Change:
    return Change(sha="a" * 40, author="x", authored_at=NOW, subject="s", files=["t.c"],
                  edits=list(edits), before_incident_seconds=3600)  # fmt: skip


def _moved(variable: str) -> CodeEdit:
    return CodeEdit(kind=CodeEditKind.MOVED_FREE, file="t.c", function="lcs",
                    call=f"decrRefCount({variable})", variable=variable, line=10)  # fmt: skip


def test_high_needs_a_commit_that_took_the_release_away_not_one_that_touched_the_line() -> None:
    signal = incident_signal(incident())
    # bench (b3): on real history, blame names whatever commit last wrote the allocation's
    # line (a refactor, a merge); that is no second kind of evidence for High
    (touched,) = rank_findings([_proved(_commit())], signal)
    assert touched.confidence is Confidence.MEDIUM, touched.reasons
    (moved,) = rank_findings([_proved(_commit(_moved("obja")))], signal)
    assert moved.confidence is Confidence.HIGH, moved.reasons
    # a commit that moved the release of another block in the function did not bring this one
    (other,) = rank_findings([_proved(_commit(_moved("objb")))], signal)
    assert other.confidence is Confidence.MEDIUM, other.reasons
