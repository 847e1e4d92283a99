"""The nouns of ADS, shared by every layer.

They are pydantic models so that the same objects are validated when read from SQLite or JSON,
rendered as the documented JSON schema of a diagnosis, and returned as structured output by the
MCP tools. Times are timezone-aware UTC ``datetime``s; sizes are bytes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Alert",
    "BisectResult",
    "BisectRun",
    "CauseKind",
    "Change",
    "ChangeKind",
    "ChangeRole",
    "CodeEdit",
    "CodeEditKind",
    "Commit",
    "Confidence",
    "Diagnosis",
    "FileChange",
    "Finding",
    "FindingKind",
    "Hypothesis",
    "Incident",
    "LogEntry",
    "MemorySample",
    "Note",
    "OnCall",
    "OomEvent",
    "Remediation",
    "ReproductionMode",
    "RunResult",
    "SettingEdit",
    "Verdict",
    "VerificationOutcome",
    "VerificationResult",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=False, extra="forbid", defer_build=True)


class ReproductionMode(StrEnum):
    """How a memory limit was enforced: a real cgroup, or the weaker ``RLIMIT_AS`` fallback."""

    CGROUP_V1 = "cgroup-v1"
    CGROUP_V2 = "cgroup-v2"
    RLIMIT_AS = "rlimit-as (weaker: allocation failure, not a kernel OOM kill)"


class MemorySample(_Model):
    """Memory charged to the service at one moment, seconds since its run started."""

    t: float
    bytes: int
    restart: int = 0


class OomEvent(_Model):
    """One OOM kill, as a kubelet would report a container's ``lastState.terminated``."""

    service: str
    reason: str = "OOMKilled"
    exit_code: int = 137
    pid: int | None = None
    memory_limit: int | None = None
    peak_usage: int | None = None
    killed_at: datetime
    started_at: datetime | None = None
    restart_count: int = 0
    git_sha: str | None = None
    mode: ReproductionMode = ReproductionMode.CGROUP_V1
    oom_kill_count: int | None = None
    namespace: str | None = None
    workload: str | None = None
    pod: str | None = None
    container: str | None = None
    node: str | None = None
    image: str | None = None

    @property
    def seconds_to_kill(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.killed_at - self.started_at).total_seconds()


class RunResult(_Model):
    """What one ``ads run`` saw: the kills, the memory curve, and how the limit was enforced."""

    service: str
    mode: ReproductionMode
    memory_limit: int
    git_sha: str | None = None
    events: list[OomEvent] = Field(default_factory=list)
    samples: list[MemorySample] = Field(default_factory=list)
    duration: float = 0.0
    exited_normally: bool = False
    last_exit_code: int | None = None


class OnCall(_Model):
    """Who is on call for a service at one escalation level."""

    level: int
    user_id: str
    name: str
    email: str | None = None
    github: str | None = None
    schedule: str | None = None


class Alert(_Model):
    id: str
    summary: str
    severity: str | None = None
    created_at: datetime | None = None
    dedup_key: str | None = None
    custom_details: dict[str, object] = Field(default_factory=dict)


class LogEntry(_Model):
    id: str
    type: str
    summary: str
    created_at: datetime | None = None


class Note(_Model):
    """A note on an incident's timeline (ADS writes its diagnosis and PR link as one)."""

    id: str
    content: str
    created_at: datetime | None = None
    user: str | None = None


class Incident(_Model):
    """A PagerDuty incident with what the diagnosis reads from it."""

    id: str
    number: int | None = None
    title: str
    status: str
    urgency: str | None = None
    priority: str | None = None
    severity: str | None = None
    service_id: str | None = None
    service_name: str | None = None
    escalation_policy_id: str | None = None
    html_url: str | None = None
    created_at: datetime
    alerts: list[Alert] = Field(default_factory=list)
    log_entries: list[LogEntry] = Field(default_factory=list)
    assignees: list[str] = Field(default_factory=list)  # user ids
    assigned_to: list[str] = Field(default_factory=list)  # their names, as PagerDuty shows them


class ChangeKind(StrEnum):
    COMMIT = "commit"
    MANIFEST = "manifest"
    DEPLOY = "deploy"


class CodeEditKind(StrEnum):
    """What a commit did to C code that matters for a memory leak."""

    REMOVED_FREE = "removed free"
    MOVED_FREE = "moved free"  # the same release elsewhere in the function: paths changed
    ADDED_FREE = "added free"
    ADDED_ALLOCATION = "added allocation"
    CHANGED_ALLOCATION = "changed allocation"
    CHANGED_LOOP = "changed loop"


class CodeEdit(_Model):
    """One leak-relevant edit in one function, so attribution need not re-read prose notes."""

    kind: CodeEditKind
    file: str
    function: str | None = None
    call: str
    variable: str | None = None
    line: int
    in_loop: bool = False  # the call sat in a loop body of its function
    new_line: int | None = None  # for a removed call: where it was, in the new file's lines


class ChangeRole(StrEnum):
    """Why a change is listed in a diagnosis, set by ranking."""

    INTRODUCED = "introduced the leak"
    TOUCHES_FINDING = "touches the leaking code"
    CONTRIBUTING = "contributing"
    CAUSED = "caused the OOM"
    OTHER = "other"


class SettingEdit(_Model):
    """One changed setting that can move a service's memory: a manifest's memory limit or
    request, an environment variable or a command-line flag in a manifest, a size constant in
    the code (``#define CACHE_MB 16`` → ``96``). ``line``/``text`` are the changed line in the
    new file, so a diagnosis can name it the way it names a function and line for a leak."""

    kind: str  # "limit", "request", "env", "arg", "constant"
    file: str
    name: str  # the container's limit ("worker"), the variable or flag, the constant
    from_: str | None = None
    to: str | None = None
    line: int | None = None
    text: str | None = None
    container: str | None = None
    workload: str | None = None


class Change(_Model):
    """A commit (or a deploy) in the window before an incident, with what mattered in it."""

    kind: ChangeKind = ChangeKind.COMMIT
    sha: str
    author: str
    authored_at: datetime
    subject: str
    files: list[str] = Field(default_factory=list)
    before_incident_seconds: float | None = None
    notes: list[str] = Field(default_factory=list)
    memory_limit_from: str | None = None
    memory_limit_to: str | None = None
    edits: list[CodeEdit] = Field(default_factory=list)
    role: ChangeRole | None = None
    functions: list[str] = Field(default_factory=list)  # edited C functions, "worker.c:controller"
    settings: list[SettingEdit] = Field(default_factory=list)  # limits, env, flags, constants


class FindingKind(StrEnum):
    LOOP_LEAK = "per-iteration leak in an unbounded loop"
    UNBOUNDED_GROWTH = "unbounded growth"
    ONE_OFF_LEAK = "one-off leak"
    UNCERTAIN = "uncertain"


class Support(StrEnum):
    """The independent kinds of evidence a finding can have; confidence counts kinds, not lines.

    ``ANALYSER`` (gcc/clang agreeing) is listed but never counts towards High on its own: the
    analysers share this analysis's false-positive families (tagged pointers, members escaping
    in returned structs), so their agreement is not independent there.
    """

    PATH = "path analysis of the current code"
    CHANGE = "a recent change removed the release or added the allocation"
    PREDICTION = "predicted time to OOM matches the observed one"
    RUNTIME = "growth site seen at run time"
    ANALYSER = "an established analyser agrees"


class Confidence(StrEnum):
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"


class Finding(_Model):
    """One leak candidate: where it is, what it is, and why ADS thinks so."""

    file: str
    function: str
    line: int
    end_line: int
    kind: FindingKind
    issue: str
    allocation: str
    variable: str | None = None
    bytes_per_iteration: int | None = None
    iterations_per_second: float | None = None
    loop_line: int | None = None
    use_line: int | None = None
    evidence: list[str] = Field(default_factory=list)
    confidence: Confidence = Confidence.LOW
    reasons: list[str] = Field(default_factory=list)
    introduced_by: Change | None = None
    score: float = 0.0
    support: list[Support] = Field(default_factory=list)
    in_scope: bool = True  # part of what the service builds (not tests, examples, vendored)
    #: the function itself releases the block on its other paths: it owns the memory, so the
    #: path that skips the release is a leak, not a hand-over the analysis failed to follow
    released_elsewhere: bool = False
    #: reached per turn of the service's main loop (an infinite or flag-driven loop, or a
    #: handler it dispatches), not only from a loop over data that ends with the data
    main_loop: bool = False
    refuted: bool = False  # a change's suspect that the path analysis finds released or kept


class BisectRun(_Model):
    """One candidate commit's build run under the limit during a bisection."""

    sha: str
    subject: str
    verdict: str  # "bad" (OOM-killed or grew past the threshold), "good", "skip" (no build)
    detail: str = ""
    seconds: float = 0.0  # build and run
    samples: list[MemorySample] = Field(default_factory=list)
    peak_bytes: int | None = None
    events: list[OomEvent] = Field(default_factory=list)  # the kill(s), for the report's chart
    mode: ReproductionMode | None = None  # how the limit was enforced (None: not run)
    duration: float = 0.0  # the run alone, without the build


class BisectResult(_Model):
    """What ``ads bisect`` found: the first bad commit, and every run as evidence."""

    service: str
    good: str
    bad: str
    memory_limit: int
    candidates: int  # commits between good (exclusive) and bad (inclusive)
    first_bad: str | None = None
    first_bad_subject: str | None = None
    runs: list[BisectRun] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    ambiguous: list[str] = Field(default_factory=list)  # skipped commits just before first_bad
    seconds: float = 0.0
    error: str | None = None  # good is not good, bad is not bad: one line


class CauseKind(StrEnum):
    """The competing explanations of an OOM kill that every diagnosis weighs."""

    LEAK = "code leak"
    LIMIT_LOWERED = "memory limit lowered"
    SIZE_RAISED = "size or configuration raised"
    RUNTIME_HEAP = "runtime heap setting incompatible with the limit"
    LOAD = "load"
    BISECTED = "first bad commit found by bisection"


class Verdict(StrEnum):
    SUPPORTED = "supported"
    UNDECIDED = "undecided"
    REJECTED = "rejected"


class Hypothesis(_Model):
    """One cause judged on the evidence: the verdict, why, and where it points.

    For a non-code cause ``file``/``line``/``text`` name the manifest (or constant) and its
    changed line instead of a function; ``change`` is the commit that made it."""

    kind: CauseKind
    verdict: Verdict
    summary: str
    reasons: list[str] = Field(default_factory=list)
    score: float = 0.0
    confidence: Confidence = Confidence.LOW
    change: Change | None = None
    setting: SettingEdit | None = None
    file: str | None = None
    line: int | None = None
    text: str | None = None
    issue: str | None = None
    impact: str | None = None
    held_bytes: int | None = None  # what the service holds from start-up, when known
    safe_limit: str | None = None  # the limit the evidence says is enough ("128Mi")
    bisection: BisectResult | None = None  # the runs, when reproduction found the commit


class Diagnosis(_Model):
    """The answer for one incident: ranked findings with evidence, and the context used."""

    incident: Incident
    service: str
    severity: str | None = None
    oncall: list[OnCall] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    impact: str | None = None
    predicted_seconds_to_oom: float | None = None
    observed_seconds_to_oom: float | None = None
    confidence: Confidence = Confidence.LOW
    notes: list[str] = Field(default_factory=list)
    created_at: datetime
    revision: str | None = None  # the commit analysed; the fix and its verification start there
    hypotheses: list[Hypothesis] = Field(default_factory=list)  # the winner first

    @property
    def cause(self) -> Hypothesis | None:
        """The winning hypothesis, when one is supported."""
        top = self.hypotheses[0] if self.hypotheses else None
        return top if top is not None and top.verdict is Verdict.SUPPORTED else None

    @property
    def non_code_cause(self) -> Hypothesis | None:
        """The winner when it is not a leak in the code (then the findings are not the cause)."""
        cause = self.cause
        return cause if cause is not None and cause.kind is not CauseKind.LEAK else None


class VerificationOutcome(StrEnum):
    VERIFIED = "verified"
    NOT_REPRODUCED = "not reproduced"
    FIX_FAILED = "fix failed"
    CANNOT_BUILD = "cannot build here"
    REPRODUCED = "reproduced (no fix to verify)"


class VerificationResult(_Model):
    outcome: VerificationOutcome
    before: RunResult | None = None
    after: RunResult | None = None
    runtime_leak_site: str | None = None
    site_matches_finding: bool | None = None
    detail: str = ""
    growth_before: float | None = None  # bytes/s, least-squares slope of the current build's run
    growth_after: float | None = None  # bytes/s, same for the patched build
    flat_threshold: float | None = None  # bytes/s below which the patched run counts as flat
    timings: dict[str, float] = Field(default_factory=dict)  # stage → seconds


class Remediation(_Model):
    """What ADS proposes for a diagnosis: the fix, how it was verified, and the alternatives."""

    incident_id: str
    fix_diff: str | None = None
    fix_summary: str
    verification: VerificationResult | None = None
    branch: str | None = None
    pr_url: str | None = None
    pr_title: str | None = None
    pr_body: str | None = None
    rollback: str | None = None
    mitigation: str | None = None
    note_id: str | None = None
    pr_file: str | None = None
    pushed: bool = False
    notes: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    noted_at: datetime | None = None
    escalated_to: int | None = None
    escalated_at: datetime | None = None
    started_at: dict[str, datetime] = Field(default_factory=dict)  # stage → when it started


class FileChange(_Model):
    """One file in a commit: git's status letter, blob ids, line counts, diff and texts.

    ``old_text``/``new_text`` are the whole file before/after (decoded UTF-8 with replacement), so
    the pure analysis can parse them; they are ``None`` when the side does not exist or was not
    read (binary, too large: ``skipped`` says why).
    """

    path: str
    old_path: str | None = None
    status: str
    old_blob: str | None = None
    new_blob: str | None = None
    additions: int | None = None
    deletions: int | None = None
    binary: bool = False
    diff: str = ""
    old_text: str | None = None
    new_text: str | None = None
    skipped: str | None = None


class Commit(_Model):
    """A git commit as read from the repository: who, when, what, and the per-file changes."""

    sha: str
    parents: list[str] = Field(default_factory=list)
    author_name: str
    author_email: str
    authored_at: datetime
    committed_at: datetime
    subject: str
    files: list[FileChange] = Field(default_factory=list)

    @property
    def author(self) -> str:
        return f"{self.author_name} <{self.author_email}>"
