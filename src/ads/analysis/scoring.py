"""Rank, explain, score: how well each leak candidate explains *this* incident.

A finding explains an OOMKilled incident when it can exhaust memory (a per-iteration leak in an
unbounded loop, or unbounded growth), when the growth it predicts reaches the limit in about the
time the kills were observed, when a recent commit introduced it, and when an established
analyser (gcc -fanalyzer) reports it too. Each of those is written out as a reason, so the
confidence is never a bare word.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..models import CodeEdit, CodeEditKind, Confidence, Finding, FindingKind, Incident, Support
from ..units import format_bytes, format_quantity, parse_quantity
from .languages import BULK_FILES

__all__ = [
    "IncidentSignal",
    "challengers",
    "impact_text",
    "incident_signal",
    "predict_seconds_to_oom",
    "rank_findings",
    "seen_at_run_time",
]

KIND_WEIGHT = {
    FindingKind.LOOP_LEAK: 1.0,
    FindingKind.UNBOUNDED_GROWTH: 0.9,
    FindingKind.UNCERTAIN: 0.3,
    FindingKind.ONE_OFF_LEAK: 0.1,
}
GROWS = (FindingKind.LOOP_LEAK, FindingKind.UNBOUNDED_GROWTH)
PREDICTION_FACTOR = 2.0  # predicted vs observed time to OOM "agree" within this factor


@dataclass(frozen=True)
class IncidentSignal:
    """What the incident itself says about memory: was it an OOM kill, at what limit, how fast."""

    oom: bool
    memory_limit: int | None = None
    observed_seconds_to_oom: float | None = None
    kills: int = 0
    notes: list[str] = field(default_factory=list)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _limit(details: dict[str, object]) -> int | None:
    raw = details.get("memory_limit_bytes")
    number = _number(raw)
    if number:
        return int(number)
    text = details.get("memory_limit")
    if isinstance(text, str) and text != "unknown":
        try:
            return parse_quantity(text)
        except ConfigError:  # an unparsable quantity is an unknown limit
            return None
    return None


def incident_signal(incident: Incident) -> IncidentSignal:
    """Read the OOM evidence from the incident's title and its alerts' ``custom_details``."""
    oom_alerts = [
        a
        for a in incident.alerts
        if str(a.custom_details.get("reason", "")).lower() == "oomkilled"
        or "oomkilled" in a.summary.lower()
        or a.custom_details.get("exit_code") == 137
    ]
    oom = bool(oom_alerts) or "oom" in incident.title.lower()
    limits = [lim for a in oom_alerts if (lim := _limit(a.custom_details)) is not None]
    times = [
        t
        for a in oom_alerts
        if (t := _number(a.custom_details.get("seconds_to_kill"))) is not None and t > 0
    ]
    notes: list[str] = []
    if not oom:
        notes.append(
            "the incident carries no OOM signal (no OOMKilled alert, exit code 137 or OOM in "
            "its title): findings below are leak candidates, not a confirmed cause"
        )
    return IncidentSignal(
        oom=oom,
        memory_limit=limits[-1] if limits else None,
        observed_seconds_to_oom=statistics.median(times) if times else None,
        kills=len(oom_alerts),
        notes=notes,
    )


def predict_seconds_to_oom(finding: Finding, limit: int | None) -> float | None:
    """Seconds from start until the leak alone fills ``limit``: the last allocation that fits
    is made after ``ceil(limit / bytes) - 1`` loop periods."""
    if not limit or finding.kind not in GROWS:
        return None
    if not finding.bytes_per_iteration or not finding.iterations_per_second:
        return None
    iterations = math.ceil(limit / finding.bytes_per_iteration)
    return max(0.0, (iterations - 1) / finding.iterations_per_second)


def _agree(predicted: float | None, observed: float | None) -> bool:
    if predicted is None or observed is None or predicted <= 0 or observed <= 0:
        return False
    ratio = predicted / observed
    return 1 / PREDICTION_FACTOR <= ratio <= PREDICTION_FACTOR


#: Kinds of support that count towards High: independent of each other. ANALYSER does not (see
#: ``models.Support``); it still raises the score.
INDEPENDENT = frozenset({Support.PATH, Support.CHANGE, Support.PREDICTION, Support.RUNTIME})
SUPPORT_WEIGHT = {
    Support.CHANGE: 1.0,
    Support.PREDICTION: 0.3,
    Support.RUNTIME: 0.3,
    Support.ANALYSER: 0.2,
}
OUT_OF_SCOPE_PENALTY = 0.5


def _explain(finding: Finding, signal: IncidentSignal, *, parse_problems: bool) -> Finding:
    reasons = list(finding.reasons)
    support = list(finding.support)
    if finding.introduced_by is not None and Support.CHANGE not in support:
        support.append(Support.CHANGE)
    predicted = predict_seconds_to_oom(finding, signal.memory_limit)
    if _agree(predicted, signal.observed_seconds_to_oom):
        assert predicted is not None and signal.observed_seconds_to_oom is not None
        reasons.append(
            f"predicted time to OOM {predicted:.1f} s matches the observed "
            f"{signal.observed_seconds_to_oom:.1f} s"
        )
        support.append(Support.PREDICTION)
    if finding.introduced_by is not None:
        change = finding.introduced_by
        hours = (change.before_incident_seconds or 0) / 3600
        reasons.append(
            f"introduced {hours:.1f} h before the incident by {change.sha[:7]} "
            f"({change.author}: {change.subject})"
        )
    if Support.ANALYSER in support:
        agreeing = [e for e in finding.evidence if e.startswith("corroborated")]
        reasons.append("; ".join(agreeing) or Support.ANALYSER.value)
    support = list(dict.fromkeys(support))
    score = KIND_WEIGHT.get(finding.kind, 0.0) * (1.0 if Support.PATH in support else 0.5)
    score += sum(SUPPORT_WEIGHT.get(kind, 0.0) for kind in support)
    if Support.CHANGE in support and not _removed_the_release(finding):
        # blame says the allocation came with a commit in the window (which added no free):
        # evidence, but weaker than a commit that took the release away, and none at all
        # from a bulk import that added the whole file
        score -= SUPPORT_WEIGHT[Support.CHANGE] * 0.6
        if _bulk(finding):
            support.remove(Support.CHANGE)
            reasons.append("the introducing commit added the whole file: not a change of it")
    if not finding.in_scope:
        score -= OUT_OF_SCOPE_PENALTY
        reasons.append(
            "outside what the service builds (tests, examples, vendored code or another program)"
        )
    independent = INDEPENDENT.intersection(support)
    proved_growth = finding.kind in GROWS and Support.PATH in support
    if not signal.oom:
        confidence = Confidence.LOW
        reasons.append("no OOM signal on the incident")
    elif (
        proved_growth
        and len(_for_high(finding, independent)) >= 2
        and not parse_problems
        and (finding.in_scope)
    ):
        confidence = Confidence.HIGH
    elif (len(independent) >= 2 and (proved_growth or _removed_the_release(finding))) or (
        _removed_the_release(finding) and not finding.refuted and finding.in_scope
    ):
        # Calibrated on bench/real_code.py: a release a recent commit removed, and that the
        # path analysis does not refute, is right far more often than the code alone.
        confidence = Confidence.MEDIUM
        if parse_problems:
            reasons.append("the parser failed inside this function: confidence lowered")
        if Support.PATH not in support:
            reasons.append("the change points here; the path analysis could not follow it")
    else:
        confidence = Confidence.LOW
        if finding.kind is FindingKind.ONE_OFF_LEAK and Support.CHANGE not in support:
            reasons.append("a one-off leak cannot exhaust memory by itself: not the OOM cause")
        elif finding.refuted:
            reasons.append("the path analysis finds the memory still released or kept")
        elif independent == {Support.PATH}:
            reasons.append(
                "only the path analysis points here: no recent change, predicted time to OOM "
                "or run-time growth site agrees"
            )
    return finding.model_copy(
        update={
            "reasons": reasons,
            "confidence": confidence,
            "score": round(score, 3),
            "support": support,
        }
    )


# Edits of a commit that explain a leak in the function they touch (the change-first suspects).
_EXPLAINING = (CodeEditKind.REMOVED_FREE, CodeEditKind.MOVED_FREE, CodeEditKind.ADDED_ALLOCATION)


def _removed_the_release(finding: Finding) -> bool:
    """Whether the finding's commit took the release away (or moved it, or added the leaking
    allocation) in the finding's own function — not just touched the file."""
    change = finding.introduced_by
    grows = finding.kind in GROWS
    return (
        change is not None
        and not _bulk(finding)
        and any(
            edit.kind in _EXPLAINING
            and (grows or edit.kind is not CodeEditKind.ADDED_ALLOCATION)  # added ≠ leak alone
            and edit.function == finding.function
            and (edit.file == finding.file or finding.file.endswith("/" + edit.file))
            and _same_block(edit, finding)
            for edit in change.edits
        )
    )


def _for_high(finding: Finding, independent: frozenset[Support]) -> frozenset[Support]:
    """The independent kinds that may make a finding High. A commit counts only when it took
    the release away or added the allocation there: blame alone says a commit last wrote the
    allocation's line, which on a real history is often a refactor or a merge that touched it
    (bench (b3): redis's squashed "Lazyfree" commit and merge 2db302a were named High)."""
    if Support.CHANGE in independent and not _removed_the_release(finding):
        return independent - {Support.CHANGE}
    return independent


def _same_block(edit: CodeEdit, finding: Finding) -> bool:
    """Whether a removed or moved release was of the variable the finding follows (when both
    are known): redis's merge 2db302a moved ``decrRefCount(obja)`` in stralgoLCS(), and a leak
    of another block there is not what that commit did."""
    if edit.kind is CodeEditKind.ADDED_ALLOCATION or not edit.variable or not finding.variable:
        return True
    return "".join(edit.variable.split()) == "".join(finding.variable.split())


def _bulk(finding: Finding) -> bool:
    change = finding.introduced_by
    return change is not None and len(change.files) >= BULK_FILES


def _order(finding: Finding) -> tuple[float, ...]:
    """Best explanation first. Change-first: a release that a commit in the window removed,
    and that the path analysis does not refute, comes before anything the code alone
    suggests; then score, how many independent kinds agree, whether the function releases
    the block on its other paths (it owns the memory: the path without the release is the
    classic error-path leak, where a block no path releases is more often handed over in a
    way the analysis did not follow), whether the service's main loop reaches it (per
    request or event, rather than only per element of a data walk), the rate of growth, and
    how early in the file (a deterministic last resort that is not a name)."""
    rate = float(finding.bytes_per_iteration or 0) * (finding.iterations_per_second or 1.0)
    independent = len(INDEPENDENT.intersection(finding.support))
    changed = Support.CHANGE in finding.support and _removed_the_release(finding)
    first = changed and not finding.refuted and finding.in_scope
    owned = 0 if finding.released_elsewhere else 1
    main_loop = 0 if finding.main_loop else 1
    return (0 if first else 1, -finding.score, -independent, owned, main_loop, -rate, finding.line)


def rank_findings(
    findings: list[Finding],
    signal: IncidentSignal,
    *,
    parse_problems: bool = False,
    unparsed_files: Collection[str] = (),
    damaged: Collection[tuple[str, str]] | None = None,
) -> list[Finding]:
    """Findings scored and explained, best explanation of this incident first.

    ``parse_problems`` lowers every finding's confidence; ``unparsed_files`` only those in a
    file that did not fully parse (a broken file elsewhere says nothing about this leak), and
    ``damaged`` (when given) only those in a function the parser failed inside.
    """

    def weakened(finding: Finding) -> bool:
        if parse_problems:
            return True
        if damaged is not None:
            return (finding.file, finding.function) in damaged
        return finding.file in unparsed_files

    scored = [_explain(f, signal, parse_problems=weakened(f)) for f in findings]
    return sorted(scored, key=_order)


def challengers(ranked: list[Finding], *, limit: int) -> list[Finding]:
    """The growth findings an analyser's agreement could still put first, with the leader, or
    ``[]`` when the leader stands whatever the analyser says.

    An analyser's agreement adds ``SUPPORT_WEIGHT[ANALYSER]`` to a finding's score and never
    its confidence (``INDEPENDENT``), so it can only matter where it reorders: a growth finding
    below the leader that would sort before it with the weight added while the leader's stays.
    Asking the analyser anything else costs the incident seconds (gcc -fanalyzer on a real
    file takes several) and changes neither the cause named nor its confidence.
    """
    if len(ranked) < 2:
        return []
    leader, weight = ranked[0], SUPPORT_WEIGHT[Support.ANALYSER]
    rising = [
        f
        for f in ranked[1:]
        if f.kind in GROWS
        and Support.ANALYSER not in f.support
        and _order(f.model_copy(update={"score": f.score + weight})) < _order(leader)
    ]
    if not rising:
        return []
    asked = [leader] if leader.kind in GROWS else []  # its agreement keeps the lead
    return (asked + rising)[:limit]


def impact_text(finding: Finding, signal: IncidentSignal) -> str:
    """The brief's Impact line, with the figures behind it."""
    if finding.kind not in GROWS:
        return "memory leaked once; does not grow by itself"
    parts = ["continuous memory growth until OOMKilled"]
    if finding.bytes_per_iteration and finding.iterations_per_second:
        rate = finding.bytes_per_iteration * finding.iterations_per_second
        parts.append(
            f"{format_bytes(finding.bytes_per_iteration)} per iteration × "
            f"{finding.iterations_per_second:g}/s = {format_bytes(rate)}/s"
        )
    predicted = predict_seconds_to_oom(finding, signal.memory_limit)
    if predicted is not None and signal.memory_limit:
        text = (
            f"predicted OOM {predicted:.1f} s after start at {format_quantity(signal.memory_limit)}"
        )
        if signal.observed_seconds_to_oom is not None:
            text += f" (observed {signal.observed_seconds_to_oom:.1f} s)"
        parts.append(text)
    return "; ".join(parts)


def seen_at_run_time(finding: Finding, site: str) -> Finding:
    """``finding`` once a run-time probe (LeakSanitizer, tracemalloc) saw memory grow at its
    site: one more independent kind of evidence, so the confidence the rules above give with
    it (path-proved growth in the service's code and a second kind: High)."""
    if Support.RUNTIME in finding.support:
        return finding
    support = [*finding.support, Support.RUNTIME]
    reasons = [*finding.reasons, f"{Support.RUNTIME.value}: {site}"]
    confidence = finding.confidence
    independent = INDEPENDENT.intersection(support)
    proved_growth = finding.kind in GROWS and Support.PATH in support
    if proved_growth and len(independent) >= 2 and finding.in_scope and not finding.refuted:
        confidence = Confidence.HIGH
    elif confidence is Confidence.LOW and len(independent) >= 2 and finding.in_scope:
        confidence = Confidence.MEDIUM
    return finding.model_copy(
        update={
            "support": support,
            "reasons": reasons,
            "confidence": confidence,
            "score": round(finding.score + SUPPORT_WEIGHT[Support.RUNTIME], 3),
        }
    )
