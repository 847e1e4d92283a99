"""Differential diagnosis: every cause of an OOM kill is a hypothesis judged on the evidence.

An OOMKilled container has more causes than a leak. For every incident ADS weighs, each with a
verdict (supported, undecided, rejected) and the reasons for it:

* ``LeakHypothesis``: a leak or unbounded growth in the code (the front ends' findings);
* ``LimitLowered``: a manifest change lowered the memory limit below what the service holds
  from start-up (the front end's held memory; the observed peak from the alerts);
* ``SizeRaised``: a size constant (``#define CACHE_MB 16 → 96``), an environment variable or a
  flag raised what the service holds past the limit;
* ``RuntimeHeap``: a runtime heap setting that lets the heap outgrow the limit (``-Xmx``,
  ``MaxRAMPercentage``, ``GOMEMLIMIT``, ``--max-old-space-size``, worker counts);
* ``Load``: no code or configuration change explains it.

Each is a small object behind the ``HypothesisJudge`` protocol, so a new cause plugs in by
adding one to ``HYPOTHESES``. The module is pure: the workflow gathers ``Evidence`` (from the
repository, the manifests, the incident and, where the service runs here, reproductions) and
``judge_all`` returns the hypotheses best-supported first. Confidence is High only when two
independent kinds of evidence agree (a change in the window and the code's own working set, or
a reproduction), as for the leak findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import ConfigError
from ..models import (
    CauseKind,
    Change,
    Confidence,
    Finding,
    FindingKind,
    Hypothesis,
    SettingEdit,
    Verdict,
)
from ..units import format_bytes, format_quantity, parse_quantity
from .manifests import ContainerMemory
from .settings import HeapSetting, heap_settings, numeric

__all__ = [
    "HYPOTHESES",
    "Evidence",
    "HypothesisJudge",
    "LeakHypothesis",
    "LimitLowered",
    "Load",
    "ManifestContainer",
    "Reproduction",
    "RuntimeHeap",
    "SizeRaised",
    "judge_all",
]

GROWING = (FindingKind.LOOP_LEAK, FindingKind.UNBOUNDED_GROWTH)
#: A JVM heap cap above this share of the container's limit leaves no room for the rest of the
#: process (metaspace, thread stacks, code cache, direct buffers).
HEAP_SHARE_TOO_HIGH = 0.9
#: Name fragments of settings that size a working set (cache, buffers, pools, batches, workers).
SIZE_WORDS = ("MB", "KB", "GB", "SIZE", "CACHE", "BUFFER", "POOL", "BATCH", "WORKER", "THREAD",
              "CONCURRENCY", "CAPACITY", "MAX", "PROCESSES")  # fmt: skip


@dataclass(frozen=True)
class ManifestContainer:
    """A container as the manifests at the analysed revision declare it, and where."""

    file: str
    container: ContainerMemory
    text: str = ""

    def line_of(self, *needles: str) -> tuple[int | None, str | None]:
        for number, line in enumerate(self.text.splitlines(), start=1):
            if all(n in line for n in needles):
                return number, line.strip()
        return None, None


@dataclass(frozen=True)
class Reproduction:
    """A run of the service here as evidence: which build, under which limit, and whether the
    kernel OOM-killed it. ``what`` is "current build at the previous limit", "parent of
    <sha> at the current limit"."""

    what: str
    rev: str
    limit: int
    killed: bool
    peak: int | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Evidence:
    """Everything the hypotheses are judged on, gathered by the workflow."""

    findings: Sequence[Finding] = ()  # ranked, best explanation first
    changes: Sequence[Change] = ()  # the window's commits, described
    limit: int | None = None  # the limit the incident ran under
    held: int | None = None  # bytes the service holds from start-up; None: no front end knows
    held_sites: Sequence[str] = ()
    held_before: Mapping[str, int] = field(default_factory=dict)  # sha → held at its parent
    observed_peak: int | None = None
    observed_seconds_to_oom: float | None = None
    containers: Sequence[ManifestContainer] = ()
    oom: bool = True
    reproductions: Sequence[Reproduction] = ()


class HypothesisJudge(Protocol):
    """One cause: judged on the evidence (and, for the causes of last resort, on what the
    others concluded)."""

    kind: CauseKind

    def judge(self, evidence: Evidence, others: Sequence[Hypothesis]) -> Hypothesis: ...


def _bytes(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_quantity(value)
    except ConfigError:
        return None


def _when(change: Change) -> str:
    hours = (change.before_incident_seconds or 0) / 3600
    who = change.author.split(" <")[0]
    return f"by {change.sha[:7]} ({change.subject}, {who}) {hours:.1f} h before the incident"


def _recent_first(changes: Sequence[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: c.before_incident_seconds or 0)


def _held_text(evidence: Evidence) -> str:
    return f"≥ {format_bytes(evidence.held or 0)}"


def _rejected(kind: CauseKind, summary: str, *reasons: str) -> Hypothesis:
    return Hypothesis(kind=kind, verdict=Verdict.REJECTED, summary=summary, reasons=list(reasons))


# --- the leak ----------------------------------------------------------------------------------


class LeakHypothesis:
    """The code leaks or grows without bound: the front ends' best finding, as ranked."""

    kind = CauseKind.LEAK

    def judge(self, evidence: Evidence, others: Sequence[Hypothesis]) -> Hypothesis:
        candidates = [f for f in evidence.findings if not f.refuted]
        top = candidates[0] if candidates else None
        if top is None or top.kind is FindingKind.ONE_OFF_LEAK:
            why = (
                "the only candidates are one-off leaks, which cannot exhaust memory by themselves"
                if top is not None
                else "the analysed code has no allocation that grows without a release"
            )
            return _rejected(self.kind, "no leak in the analysed code", why)
        where = f"{top.function}() ({top.file}:{top.line})"
        summary = f"{top.issue} in {where}"
        if top.introduced_by is not None:
            summary += f", introduced by {top.introduced_by.sha[:7]}"
        strong = top.kind in GROWING and top.confidence in (Confidence.HIGH, Confidence.MEDIUM)
        return Hypothesis(
            kind=self.kind,
            verdict=Verdict.SUPPORTED if strong else Verdict.UNDECIDED,
            summary=summary,
            reasons=list(top.reasons) or [top.kind.value],
            score={Confidence.HIGH: 3.0, Confidence.MEDIUM: 2.0}.get(top.confidence, 0.5),
            confidence=top.confidence,
            change=top.introduced_by,
            file=top.file,
            line=top.line,
            issue=top.issue,
        )


# --- the limit lowered -------------------------------------------------------------------------


def _lowerings(changes: Sequence[Change]) -> list[tuple[Change, SettingEdit]]:
    found = []
    for change in _recent_first(changes):
        for edit in change.settings:
            old, new = _bytes(edit.from_), _bytes(edit.to)
            if edit.kind == "limit" and old is not None and new is not None and new < old:
                found.append((change, edit))
    return found


def _reproduced(evidence: Evidence, prefix: str) -> list[Reproduction]:
    return [r for r in evidence.reproductions if r.what.startswith(prefix)]


class LimitLowered:
    """A manifest change lowered the memory limit below what the service holds."""

    kind = CauseKind.LIMIT_LOWERED

    def judge(self, evidence: Evidence, others: Sequence[Hypothesis]) -> Hypothesis:
        lowered = _lowerings(evidence.changes)
        if not lowered:
            return _rejected(
                self.kind,
                "no change lowered the memory limit",
                "no commit in the window lowered a container's memory limit",
            )
        change, edit = lowered[0]
        old, new = _bytes(edit.from_) or 0, _bytes(edit.to) or 0
        head = f"memory limit lowered {edit.from_} → {edit.to} {_when(change)}"
        base = Hypothesis(
            kind=self.kind,
            verdict=Verdict.UNDECIDED,
            summary=head,
            change=change,
            setting=edit,
            file=edit.file,
            line=edit.line,
            text=edit.text,
            held_bytes=evidence.held,
            safe_limit=edit.from_,
            issue=f"memory limit of {edit.container} lowered from {edit.from_} to {edit.to}",
        )
        reasons = [f"{change.sha[:7]} changed {edit.file}: {edit.from_} → {edit.to}"]
        at_old = _reproduced(evidence, "current build at the previous limit")
        survived = [r for r in at_old if not r.killed]
        killed_at_old = [r for r in at_old if r.killed]
        holds = evidence.held is not None and evidence.held >= new
        peak_over = evidence.observed_peak is not None and evidence.observed_peak >= new
        if holds:
            reasons.append(
                f"the service holds {_held_text(evidence)} from start-up "
                f"({'; '.join(evidence.held_sites[:3])}), more than the new {edit.to}"
            )
            if evidence.held is not None and evidence.held < old:
                reasons.append(f"which fitted under the previous {edit.from_}")
        if peak_over and evidence.observed_peak is not None:
            reasons.append(f"the observed peak {format_bytes(evidence.observed_peak)} reached it")
        for run in survived:
            reasons.append(
                f"reproduced: the current build ran {run.seconds:.0f} s under the previous "
                f"{format_quantity(run.limit)} with no OOM kill"
            )
        for run in _reproduced(evidence, "current build at the current limit"):
            if run.killed:
                reasons.append(
                    "reproduced: the current build was OOM-killed under "
                    f"{format_quantity(run.limit)}"
                )
        if killed_at_old:
            reasons.append(
                "but the current build is OOM-killed at the previous limit too: the limit "
                "change is not the cause"
            )
            return base.model_copy(update={"verdict": Verdict.REJECTED, "reasons": reasons})
        if holds or survived:
            kinds = 1 + int(holds) + int(bool(survived)) + int(peak_over)
            tail = (
                f", while the service holds {_held_text(evidence)} from start-up" if holds else ""
            )
            impact = (
                f"OOMKilled as soon as start-up allocations are touched: the service holds "
                f"{_held_text(evidence)} from start-up, the limit is {edit.to}"
                if holds
                else f"the service needs more than {edit.to} (it runs under {edit.from_})"
            )
            if evidence.observed_seconds_to_oom is not None:
                impact += f" (observed {evidence.observed_seconds_to_oom:.1f} s to the kill)"
            return base.model_copy(
                update={
                    "verdict": Verdict.SUPPORTED,
                    "summary": head + tail,
                    "reasons": reasons,
                    "score": 3.5,
                    "confidence": Confidence.HIGH if kinds >= 2 else Confidence.MEDIUM,
                    "impact": impact,
                }
            )
        leak = next((h for h in others if h.kind is CauseKind.LEAK), None)
        if evidence.held is not None:
            reasons.append(
                f"the service holds only {_held_text(evidence)} from start-up, below the new "
                f"{edit.to}"
                + (
                    ": the lower limit makes the leak reach it sooner (contributing)"
                    if leak is not None and leak.verdict is Verdict.SUPPORTED
                    else ""
                )
            )
            return base.model_copy(update={"verdict": Verdict.REJECTED, "reasons": reasons})
        reasons.append("what the service holds is not known (no front end sizes it)")
        return base.model_copy(update={"reasons": reasons, "score": 1.0})


# --- a size or configuration raised ------------------------------------------------------------


def _sizes(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SIZE_WORDS)


HEAP_FLAGS = ("-Xmx", "-Xms", "-XX:MaxRAMPercentage", "-XX:MaxRAMFraction", "GOMEMLIMIT",
              "--max-old-space-size")  # fmt: skip


def _raised(edit: SettingEdit) -> bool:
    before, after = numeric(edit.from_), numeric(edit.to)
    return before is not None and after is not None and after > before


class SizeRaised:
    """A size constant, environment variable or flag raised what the service holds."""

    kind = CauseKind.SIZE_RAISED

    def judge(self, evidence: Evidence, others: Sequence[Hypothesis]) -> Hypothesis:
        raised = [
            (change, edit)
            for change in _recent_first(evidence.changes)
            for edit in change.settings
            if edit.kind in ("constant", "env", "arg")
            and edit.name not in HEAP_FLAGS
            and _raised(edit)
            and (edit.kind == "constant" or _sizes(edit.name))
        ]
        if not raised:
            return _rejected(
                self.kind,
                "no size or configuration raised",
                "no commit in the window raised a size constant, variable or flag",
            )
        limit = evidence.limit
        for change, edit in raised:
            if edit.kind != "constant" or change.sha not in evidence.held_before:
                continue
            before = evidence.held_before[change.sha]
            now = evidence.held or 0
            if limit is not None and now >= limit > before:
                return self._supported(evidence, change, edit, before, now, limit)
        change, edit = raised[0]
        where = f"{edit.file}" + (f":{edit.line}" if edit.line else "")
        summary = f"{edit.name} raised {edit.from_} → {edit.to} {_when(change)}"
        base = Hypothesis(
            kind=self.kind,
            verdict=Verdict.UNDECIDED,
            summary=summary,
            change=change,
            setting=edit,
            file=edit.file,
            line=edit.line,
            text=edit.text,
            issue=f"{edit.name} raised from {edit.from_} to {edit.to} ({where})",
            held_bytes=evidence.held,
            score=1.5,
        )
        if edit.kind == "constant" and change.sha in evidence.held_before and limit is not None:
            reason = (
                f"what the service holds from start-up went from ≥ "
                f"{format_bytes(evidence.held_before[change.sha])} to {_held_text(evidence)}, "
                f"which does not cross the {format_quantity(limit)} limit"
            )
            return base.model_copy(update={"verdict": Verdict.REJECTED, "reasons": [reason]})
        reasons = [
            f"{change.sha[:7]} raised {edit.name} in {where}; ADS cannot size what the service "
            "does with it: running the parent of that commit under the current limit would tell"
        ]
        parent_runs = _reproduced(evidence, f"parent of {change.sha[:7]}")
        if parent_runs and not parent_runs[0].killed:
            reasons.append(
                f"reproduced: the parent of {change.sha[:7]} ran under the current limit with no "
                "OOM kill"
            )
            return base.model_copy(
                update={
                    "verdict": Verdict.SUPPORTED,
                    "reasons": reasons,
                    "score": 3.0,
                    "confidence": Confidence.HIGH,
                }
            )
        return base.model_copy(update={"reasons": reasons})

    def _supported(
        self,
        evidence: Evidence,
        change: Change,
        edit: SettingEdit,
        before: int,
        now: int,
        limit: int,
    ) -> Hypothesis:
        reasons = [
            f"{change.sha[:7]} raised {edit.name} from {edit.from_} to {edit.to} in {edit.file}",
            f"the service now holds ≥ {format_bytes(now)} from start-up "
            f"({'; '.join(evidence.held_sites[:3])}), over the {format_quantity(limit)} limit",
            f"before that commit it held ≥ {format_bytes(before)}, under the limit",
        ]
        return Hypothesis(
            kind=self.kind,
            verdict=Verdict.SUPPORTED,
            summary=(
                f"{edit.name} raised {edit.from_} → {edit.to} {_when(change)}, so the service "
                f"holds ≥ {format_bytes(now)} from start-up, over the "
                f"{format_quantity(limit)} limit"
            ),
            reasons=reasons,
            score=3.4,
            confidence=Confidence.HIGH,
            change=change,
            setting=edit,
            file=edit.file,
            line=edit.line,
            text=edit.text,
            issue=f"size constant {edit.name} raised from {edit.from_} to {edit.to}",
            impact=(
                f"OOMKilled as soon as start-up allocations are touched: ≥ {format_bytes(now)} "
                f"held against a {format_quantity(limit)} limit"
            ),
            held_bytes=now,
        )


# --- runtime heap settings ---------------------------------------------------------------------


def _too_big(setting: HeapSetting, limit: int, held: int | None) -> str | None:
    """Why ``setting`` lets the process outgrow ``limit``, or None."""
    if setting.count is not None:
        if held and setting.count > 1 and setting.count * held >= limit:
            return (
                f"{setting.count} workers × ≥ {format_bytes(held)} each is more than the "
                f"{format_quantity(limit)} limit"
            )
        return None
    if setting.heap_bytes is None:
        return None
    if setting.name in ("-XX:MaxRAMPercentage", "-XX:MaxRAMFraction"):
        if setting.heap_bytes >= HEAP_SHARE_TOO_HIGH * limit:
            return (
                f"{setting.name}={setting.value} lets the heap take "
                f"{format_bytes(setting.heap_bytes)} of the {format_quantity(limit)} limit, "
                "leaving nothing for the rest of the process"
            )
        return None
    if setting.heap_bytes >= limit:
        return (
            f"{setting.name}{'' if setting.name == '-Xmx' else '='}{setting.value} lets the "
            f"heap grow to {format_bytes(setting.heap_bytes)}, more than the "
            f"{format_quantity(limit)} limit: the kernel kills it before the runtime collects"
        )
    return None


class RuntimeHeap:
    """A runtime's heap setting (or worker count) in the manifest is larger than the limit."""

    kind = CauseKind.RUNTIME_HEAP

    def judge(self, evidence: Evidence, others: Sequence[Hypothesis]) -> Hypothesis:
        for entry in evidence.containers:
            container = entry.container
            limit = _bytes(container.limit)
            if container.init or limit is None:
                continue
            for setting in heap_settings(container):
                why = _too_big(setting, limit, evidence.held)
                if why is None:
                    continue
                return self._supported(evidence, entry, setting, limit, why)
        return _rejected(
            self.kind,
            "no runtime heap setting exceeds the limit",
            "no -Xmx, MaxRAMPercentage, GOMEMLIMIT, --max-old-space-size or worker count in the "
            "manifests lets the process outgrow its limit",
        )

    def _supported(
        self,
        evidence: Evidence,
        entry: ManifestContainer,
        setting: HeapSetting,
        limit: int,
        why: str,
    ) -> Hypothesis:
        container = entry.container
        names = {setting.name, setting.where, container.container}
        change = next(
            (
                c
                for c in _recent_first(evidence.changes)
                for e in c.settings
                if e.file == entry.file and (e.name in names or e.kind == "limit")
            ),
            None,
        )
        line, text = entry.line_of(setting.name.lstrip("-").split(":")[-1], setting.value)
        reasons = [why]
        if change is not None:
            reasons.append(f"set or made incompatible {_when(change)}")
        else:
            reasons.append("the setting predates the window: no commit in it changed it")
        summary = (
            f"{setting.name} {setting.value} in {entry.file} ({container.workload_ref}, "
            f"container {container.container}) against a {format_quantity(limit)} limit"
            + (f", by {change.sha[:7]}" if change is not None else "")
        )
        return Hypothesis(
            kind=self.kind,
            verdict=Verdict.SUPPORTED,
            summary=summary,
            reasons=reasons,
            score=3.2,
            confidence=Confidence.HIGH if change is not None else Confidence.MEDIUM,
            change=change,
            file=entry.file,
            line=line,
            text=text,
            issue=f"runtime heap setting {setting.name} {setting.value} is larger than the limit",
            impact=(
                f"the runtime may grow to {format_bytes(setting.heap_bytes)} before it collects: "
                f"OOMKilled at {format_quantity(limit)} under load"
                if setting.heap_bytes is not None
                else f"{setting.count} processes share the {format_quantity(limit)} limit"
            ),
            held_bytes=evidence.held,
            safe_limit=None,
        )


# --- load --------------------------------------------------------------------------------------


class Load:
    """Nothing in the code or configuration explains it: the growth is load."""

    kind = CauseKind.LOAD
    CONFIRM = (
        "what would confirm it: the request rate or queue depth at the time of the kills, and "
        "the same build surviving under the same limit with less traffic"
    )

    def judge(self, evidence: Evidence, others: Sequence[Hypothesis]) -> Hypothesis:
        summary = "no code or configuration change explains it: the growth is load"
        supported = [h for h in others if h.verdict is Verdict.SUPPORTED]
        if supported:
            return _rejected(self.kind, summary, f"{supported[0].kind.value} explains it")
        open_ = [h for h in others if h.verdict is Verdict.UNDECIDED]
        reasons = [f"{h.kind.value}: {h.reasons[-1] if h.reasons else h.summary}" for h in others]
        if open_:
            return Hypothesis(
                kind=self.kind,
                verdict=Verdict.UNDECIDED,
                summary=summary,
                reasons=[f"not excluded: {open_[0].kind.value} is undecided", self.CONFIRM],
                score=0.4,
            )
        quiet = not evidence.changes
        return Hypothesis(
            kind=self.kind,
            verdict=Verdict.SUPPORTED,
            summary=summary,
            reasons=[*reasons, self.CONFIRM],
            score=1.0,
            confidence=Confidence.MEDIUM if quiet and evidence.oom else Confidence.LOW,
            issue="no code or configuration change explains it",
            impact=(
                "memory grows with the work the service is given; no commit in the window "
                "changed its code, limits or settings"
                if quiet
                else "memory grows with the work the service is given; the changes in the "
                "window do not explain it"
            ),
            held_bytes=evidence.held,
        )


HYPOTHESES: tuple[HypothesisJudge, ...] = (
    LeakHypothesis(),
    LimitLowered(),
    SizeRaised(),
    RuntimeHeap(),
    Load(),
)

_ORDER = {Verdict.SUPPORTED: 0, Verdict.UNDECIDED: 1, Verdict.REJECTED: 2}


def judge_all(
    evidence: Evidence, judges: Sequence[HypothesisJudge] = HYPOTHESES
) -> list[Hypothesis]:
    """Every hypothesis judged, the best-supported first (then undecided, then rejected)."""
    judged: list[Hypothesis] = []
    for judge in judges:
        judged.append(judge.judge(evidence, list(judged)))
    return sorted(judged, key=lambda h: (_ORDER[h.verdict], -h.score))
