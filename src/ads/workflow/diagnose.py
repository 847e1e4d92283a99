"""diagnose(incident) → Diagnosis: gather, analyse the code and its history, rank, explain.

1. Gather: the incident with its alerts and timeline, the service it maps to in ads.yaml, who is
   on call by level, the service's repository.
2. Code-change analysis: commits in the window before the incident that touch the service's
   sources or manifests, each described (removed a free, added an allocation, lowered a limit).
3. Leak and growth analysis of the current sources by each language's front end (corroborated
   by an established analyser where the language has one: gcc -fanalyzer for C), attributed to
   the commit that introduced each leak.
4. Rank by how well each finding explains this incident; impact and confidence with reasons.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ..actions.corroboration import checkable
from ..actions.corroboration import corroborate as corroborate_findings
from ..analysis.history import MANIFEST_SUFFIXES, describe_commit, rank_changes
from ..analysis.hypotheses import Evidence, ManifestContainer, Reproduction, judge_all
from ..analysis.languages import (
    Analysis,
    EditReader,
    FrontEnd,
    WorkingSet,
    front_ends,
    merge_suspects,
    suffixes,
)
from ..analysis.manifests import parse_manifests
from ..analysis.scope import BuildScope
from ..analysis.scoring import (
    IncidentSignal,
    challengers,
    impact_text,
    incident_signal,
    predict_seconds_to_oom,
    rank_findings,
)
from ..config import ServiceConfig
from ..errors import AdsError, AnalysisError, ConfigError
from ..json_input import JsonInputError, parse_json
from ..models import (
    CauseKind,
    Change,
    ChangeRole,
    Commit,
    Confidence,
    Diagnosis,
    Finding,
    Hypothesis,
    Incident,
    OnCall,
    Verdict,
)
from ..sources.pagerduty import incident_from_api
from ..sources.repository import GitRepository

if TYPE_CHECKING:  # the PagerDuty client and the store stay unloaded for offline analyses
    from .context import Context


__all__ = [
    "analyse",
    "changes_in_window",
    "diagnose",
    "diagnose_offline",
    "gather_evidence",
    "read_sources",
]

LEAK = CauseKind.LEAK
CORROBORATED = 2  # growth findings checked with gcc -fanalyzer, best first
GCC_BUDGET_SECONDS = 8.0
SKIP_DIRS = {".git", ".ads", "build", "node_modules", ".venv"}


def read_sources(root: Path, source_paths: list[str]) -> list[tuple[str, bytes]]:
    """The source files (of every language ADS reads) under ``source_paths`` (relative to
    ``root``), as (posix path, bytes)."""
    found: dict[str, bytes] = {}
    root = root.resolve()
    for spec in source_paths or ["."]:
        start = (root / spec).resolve()
        if not start.is_relative_to(root):
            raise ConfigError(f"source path {spec!r} is outside the repository {root}")
        if start.is_file():
            candidates = [start]
        elif start.is_dir():
            candidates = []
            for dirpath, dirnames, filenames in os.walk(start):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
                candidates += [Path(dirpath) / f for f in sorted(filenames)]
        else:
            raise ConfigError(f"source path {spec!r} does not exist in {root}")
        for path in candidates:
            if path.name.endswith(suffixes()) and path.is_file() and not path.is_symlink():
                found[path.relative_to(root).as_posix()] = path.read_bytes()
    return sorted(found.items())


def _revision(repo: GitRepository, incident: Incident) -> tuple[str, str]:
    """The commit to analyse: the build the incident's alerts name (``git_sha``) when the
    repository has it, else HEAD. The fix branch and its verification start from the same one."""
    shas = [
        str(a.custom_details["git_sha"])
        for a in incident.alerts
        if isinstance(a.custom_details.get("git_sha"), str)
    ]
    for sha in reversed(shas):
        if sha != "unknown" and repo.has_commit(sha):
            return sha, f"analysed {sha[:12]}, the build named in the incident's alerts"
    head = repo.head_sha()
    why = "no build sha in the alerts" if not shas else "the alerts' build sha is not in the repo"
    return head, f"analysed HEAD ({head[:12]}): {why}"


def _window(incident: Incident, service: ServiceConfig) -> tuple[datetime, datetime]:
    until = incident.created_at
    return until - timedelta(days=service.lookback_days), until


def changes_in_window(
    repo: GitRepository,
    service: ServiceConfig,
    since: datetime,
    until: datetime,
    *,
    paths: list[str] | None = None,
    readers: dict[str, EditReader] | None = None,
    described: list[str] | None = None,
    rev: str = "HEAD",
    commits: list[Commit] | None = None,
) -> list[Change]:
    """Commits in [since, until] touching ``paths`` (default: the service's sources and
    manifests; a source of ``.`` means the whole repository), each described against ``until``:
    removed releases, allocations, limit changes, read by each language's front end bound to
    the analysed program (``readers``), so the repository's own allocators and releasers
    count. ``described`` narrows
    which source files get the C-level description; every commit's files are listed either way.
    ``commits``: the window's commits when already read (``window_commits``)."""
    if commits is None:
        commits = window_commits(repo, service, since, until, paths=paths, rev=rev)
    return [
        describe_commit(
            commit,
            until,
            source_paths=described if described is not None else service.sources,
            manifest_dir=service.manifests,
            readers=readers,
        )
        for commit in commits
    ]


def window_commits(
    repo: GitRepository,
    service: ServiceConfig,
    since: datetime,
    until: datetime,
    *,
    paths: list[str] | None = None,
    rev: str = "HEAD",
) -> list[Commit]:
    """The commits ``changes_in_window`` describes, read from git (its own processes, so the
    read can run while the code is analysed)."""
    chosen = paths if paths is not None else [*service.sources, service.manifests]
    filters = [] if "." in chosen or "" in chosen else chosen
    return repo.commits(since, until, filters, rev=rev)


def _changes(
    repo: GitRepository,
    incident: Incident,
    service: ServiceConfig,
    readers: dict[str, EditReader],
    rev: str,
    commits: list[Commit],
) -> tuple[list[Change], list[str]]:
    since, until = _window(incident, service)
    changes = changes_in_window(
        repo, service, since, until, readers=readers, rev=rev, commits=commits
    )
    notes = [] if changes else [f"no commits between {since:%Y-%m-%d %H:%M} and the incident"]
    return changes, notes


#: parse problems listed one per note up to this many; more are one note with a count
PARSE_NOTES = 5


def _parse_notes(problems: list[str], analysed: int) -> list[str]:
    """One note per file the parser could not fully read, or one note with the count when
    there are many: a macro-heavy code base (haproxy's ``THREAD_LOCAL``, ``forceinline``,
    ``list_for_each_entry(...) { }``) has hundreds, and a diagnosis is read by a person."""
    if len(problems) <= PARSE_NOTES:
        return [f"did not fully parse: {problem}" for problem in problems]
    files = [problem.split(": ", 1)[0] for problem in problems]
    return [
        f"did not fully parse: {len(problems)} of {analysed} files, results for them are "
        f"partial (macros the parser cannot see expanded, usually): "
        + ", ".join(files[:PARSE_NOTES])
        + ", ..."
    ]


def analyse(
    incident: Incident,
    service: ServiceConfig,
    repo: GitRepository,
    *,
    oncall: list[OnCall] | None = None,
    corroborate: bool = True,
    reproductions: list[Reproduction] | None = None,
) -> Diagnosis:
    """The diagnosis of ``incident`` from ``service``'s code in ``repo`` (no PagerDuty calls);
    ``reproductions`` are runs of the service here that the hypotheses are judged on too."""
    signal = incident_signal(incident)
    notes = list(signal.notes)
    revision, revision_note = _revision(repo, incident)
    notes.append(revision_note)
    files, too_large = repo.files_at(revision, service.sources, suffixes())
    notes += [f"skipped: {path} (larger than the analysis reads)" for path in too_large]
    sources = sorted(files.items())
    if not sources and not _has_workloads(repo, revision, service):
        raise AnalysisError(
            f"no source files under {', '.join(service.sources)} in {repo.path}"
            f" (ADS reads {', '.join(suffixes())} files)",
            hint="set services.<name>.sources in ads.yaml",
        )
    if not sources:
        notes.append(
            f"no {', '.join(suffixes())} sources: the code was not analysed, the manifests were"
        )
    built, scope_note = repo.built_files()
    notes.append(scope_note)
    scope = BuildScope.from_build(
        built,
        service.sources,
        licensed=repo.licensed_directories(revision),
        analysed=[path for path, _ in sources],
        service=service.name,
    )
    if scope.vendored and built is None:
        shown = ", ".join(scope.vendored[:5]) + (" ..." if len(scope.vendored) > 5 else "")
        notes.append(f"scope: left out as vendored code (own licence file): {shown}")
    with ThreadPoolExecutor(max_workers=1) as history:
        # git reads the window's history on the other core while the code is analysed
        since, until = _window(incident, service)
        reading = history.submit(window_commits, repo, service, since, until, rev=revision)
        analyses: dict[str, tuple[FrontEnd, Analysis]] = {}
        for front_end in front_ends():  # each language analyses its own files
            mine = [(path, data) for path, data in sources if path.endswith(front_end.suffixes)]
            if mine:
                analyses[front_end.name] = (front_end, front_end.analyse(mine, scope))
        window = reading.result()
    analysed = [analysis for _, analysis in analyses.values()]
    damaged = {pair for analysis in analysed for pair in analysis.damaged}
    wrappers = sorted({w for analysis in analysed for w in analysis.allocator_wrappers})
    notes += [n for a in analysed for n in a.scope_notes]
    notes += _parse_notes([p for a in analysed for p in a.parse_problems], len(sources))
    notes += [f"skipped: {s}" for a in analysed for s in a.skipped]
    # Change-first: every commit in the window is read in the program's own vocabulary; the
    # releases they removed are the prime suspects, judged by the path analysis of this code.
    readers = {name: fe.edit_reader(analysis) for name, (fe, analysis) in analyses.items()}
    changes, change_notes = _changes(repo, incident, service, readers, revision, window)
    notes += change_notes
    suspects = [s for fe, analysis in analyses.values() for s in fe.suspects(changes, analysis)]
    findings = merge_suspects([f for a in analysed for f in a.findings], suspects)
    leading = rank_findings(findings, signal, damaged=damaged)
    growing = challengers(leading, limit=CORROBORATED)
    if corroborate and not growing and checkable(leading):
        notes.append(
            "gcc -fanalyzer not run: its agreement raises a rank, never a confidence, and no "
            "finding it could raise would overtake the first"
        )
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = (
            pool.submit(
                corroborate_findings,
                repo.path,
                growing,
                [path for path, _ in sources],
                wrappers,
                timeout=GCC_BUDGET_SECONDS,
            )
            if corroborate and growing
            else None
        )
        # History for every finding: the change-first suspects already carry the commit that
        # removed (or moved) a release or added a leaking allocation, for every finding the
        # window's commits explain; no per-finding blame is needed.
        corroboration = pending.result() if pending is not None else None
        if corroboration is not None:
            agreed = {(f.file, f.line): f for f in corroboration.findings}
            findings = [
                f.model_copy(update={"evidence": g.evidence, "support": g.support})
                if (g := agreed.get((f.file, f.line))) is not None
                else f
                for f in findings
            ]
            notes += corroboration.notes
    ranked = rank_findings(findings, signal, damaged=damaged)
    problems = [p for a in analysed for p in a.parse_problems]
    if not ranked and problems:
        # Code that does not parse, and nothing found: a clean "no leak" would be a lie. With a
        # finding, the diagnosis stands (confidence lowered) and the note names the file.
        more = f" (and {len(problems) - 1} more file(s))" if len(problems) > 1 else ""
        raise AnalysisError(
            f"nothing could be diagnosed: {problems[0]}{more}",
            hint="fix the syntax, or leave the file out of services.<name>.sources",
        )
    top = ranked[0] if ranked else None
    limit = signal.memory_limit or service.memory_limit_bytes
    evidence = gather_evidence(
        incident, service, repo, revision, analyses, ranked, changes, limit, scope, reproductions
    )
    hypotheses = judge_all(evidence)
    winner = hypotheses[0] if hypotheses else None
    if winner is not None and winner.verdict is Verdict.SUPPORTED and winner.kind is not LEAK:
        return _non_code_diagnosis(
            incident, service, oncall, changes, ranked, notes, revision, signal, hypotheses
        )
    if top is not None and top.introduced_by is None:
        notes.append("the leak predates the window: a pre-existing bug, no rollback target")
    return Diagnosis(
        incident=incident,
        service=service.name,
        severity=incident.severity,
        oncall=oncall or [],
        changes=rank_changes(
            changes,
            finding_file=top.file if top else None,
            finding_function=top.function if top else None,
            introducing_sha=top.introduced_by.sha if top and top.introduced_by else None,
        ),
        findings=ranked,
        impact=impact_text(top, signal) if top else None,
        predicted_seconds_to_oom=predict_seconds_to_oom(top, limit) if top else None,
        observed_seconds_to_oom=signal.observed_seconds_to_oom,
        confidence=top.confidence if top else Confidence.LOW,
        notes=notes,
        revision=revision,
        created_at=datetime.now(UTC),
        hypotheses=hypotheses,
    )


def _non_code_diagnosis(
    incident: Incident,
    service: ServiceConfig,
    oncall: list[OnCall] | None,
    changes: list[Change],
    findings: list[Finding],
    notes: list[str],
    revision: str,
    signal: IncidentSignal,
    hypotheses: list[Hypothesis],
) -> Diagnosis:
    """The diagnosis when a manifest, a size or a runtime setting (or load) is the cause: the
    leak candidates stay listed, the changes lead with the one that caused it."""
    cause = hypotheses[0]
    ranked = rank_changes(changes)
    if cause.change is not None:
        ranked = sorted(ranked, key=lambda c: c.sha != cause.change.sha)  # type: ignore[union-attr]
        ranked[0] = ranked[0].model_copy(update={"role": ChangeRole.CAUSED})
    return Diagnosis(
        incident=incident,
        service=service.name,
        severity=incident.severity,
        oncall=oncall or [],
        changes=ranked,
        findings=findings,
        impact=cause.impact,
        predicted_seconds_to_oom=None,
        observed_seconds_to_oom=signal.observed_seconds_to_oom,
        confidence=cause.confidence,
        notes=notes,
        revision=revision,
        created_at=datetime.now(UTC),
        hypotheses=hypotheses,
    )


def _has_workloads(repo: GitRepository, revision: str, service: ServiceConfig) -> bool:
    """Whether the manifests at ``revision`` declare a container (a service in a language no
    front end reads is still judged on its limits and runtime settings)."""
    try:
        manifests, _ = repo.files_at(revision, [service.manifests], MANIFEST_SUFFIXES)
    except AdsError:
        return False
    return any(
        parse_manifests(data.decode("utf-8", "replace"), path).containers
        for path, data in manifests.items()
    )


def _observed_peak(incident: Incident) -> int | None:
    peaks = [
        int(raw)
        for alert in incident.alerts
        if isinstance(raw := alert.custom_details.get("peak_usage_bytes"), int | float)
        and not isinstance(raw, bool)
        and raw > 0
    ]
    return max(peaks) if peaks else None


def gather_evidence(
    incident: Incident,
    service: ServiceConfig,
    repo: GitRepository,
    revision: str,
    analyses: dict[str, tuple[FrontEnd, Analysis]],
    findings: list[Finding],
    changes: list[Change],
    limit: int | None,
    scope: BuildScope,
    reproductions: list[Reproduction] | None = None,
) -> Evidence:
    """What the hypotheses are judged on: the findings and changes, what the service holds
    from start-up (and before each commit that changed a size constant), the containers the
    manifests at ``revision`` declare, the incident's observed peak."""
    held: int | None = None
    sites: list[str] = []
    working = [(fe, analysis) for fe, analysis in analyses.values() if isinstance(fe, WorkingSet)]
    for fe, analysis in working:
        assert isinstance(fe, WorkingSet)
        memory = fe.held_memory(analysis)
        held = (held or 0) + memory.bytes
        sites += memory.lines()
    held_before: dict[str, int] = {}
    for change in changes:
        if not working or not any(e.kind == "constant" for e in change.settings):
            continue
        if not repo.has_commit(f"{change.sha}^"):
            continue
        files, _ = repo.files_at(f"{change.sha}^", service.sources, suffixes())
        total = 0
        for fe, _analysis in working:
            assert isinstance(fe, WorkingSet)
            mine = [(p, d) for p, d in sorted(files.items()) if p.endswith(fe.suffixes)]
            total += fe.held_in(mine, scope).bytes
        held_before[change.sha] = total
    containers: list[ManifestContainer] = []
    try:
        manifests, _ = repo.files_at(revision, [service.manifests], MANIFEST_SUFFIXES)
    except AdsError:
        manifests = {}
    for path, data in sorted(manifests.items()):
        text = data.decode("utf-8", "replace")
        scan = parse_manifests(text, path)
        containers += [ManifestContainer(path, c, text) for c in scan.containers]
    signal = incident_signal(incident)
    return Evidence(
        findings=findings,
        changes=changes,
        limit=limit,
        held=held,
        held_sites=sites,
        held_before=held_before,
        observed_peak=_observed_peak(incident),
        observed_seconds_to_oom=signal.observed_seconds_to_oom,
        containers=containers,
        oom=signal.oom,
        reproductions=reproductions or [],
    )


def diagnose(ctx: Context, incident_id: str, *, store: bool = True) -> Diagnosis:
    """Diagnose a PagerDuty incident (real account or the local server) and store the result
    (unless ``store`` is false: a read-only caller that only looks)."""
    pagerduty = ctx.pagerduty
    incident = pagerduty.get_incident(incident_id)
    if not incident.service_name:
        raise AnalysisError(f"incident {incident_id} has no service")
    service = ctx.settings.service_for_pagerduty(incident.service_name)
    oncall = pagerduty.oncalls_for_service(incident.service_id or "")
    oncall = [
        o.model_copy(update={"github": service.github_handles.get(o.email or "", o.github)})
        for o in oncall
    ]
    diagnosis = analyse(incident, service, ctx.repository(service), oncall=oncall)
    for event in pagerduty.related_change_events(incident.id):
        when = event.get("timestamp", "?")
        diagnosis.notes.append(f"PagerDuty change event {when}: {event.get('summary', '')}")
    if store:
        ctx.store.save_diagnosis(diagnosis)
    return diagnosis


def diagnose_offline(
    incident_file: Path, repo_dir: Path, *, service: ServiceConfig | None = None
) -> Diagnosis:
    """Diagnose a saved ``GET /incidents/{id}`` body against a repository, no ads.yaml needed."""
    try:
        document = parse_json(incident_file.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"incident file {incident_file} does not exist") from None
    except JsonInputError as exc:
        raise ConfigError(f"{incident_file} is not a JSON document ({exc})") from None
    incident = incident_from_api(document)
    chosen = service or ServiceConfig(name=incident.service_name or "unknown-service")
    return analyse(incident, chosen, GitRepository(repo_dir))
