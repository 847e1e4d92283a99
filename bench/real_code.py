"""How often ADS names the right leak on real C code bases, and how much its confidence is worth.

Every case is a small git repository made in a temporary directory from a snapshot of a real
code base (only its analysed tree: redis ``src/``, jq ``src/``, curl ``lib/`` + ``src/`` +
``include/``, git's top-level sources + ``builtin/`` + ``compat/*.h``; .c and .h files): the
snapshot is imported 30
days before the incident, three unrelated commits follow (comment rewordings in other .c files,
3 days to 20 h before), then the case commit 3 h before the incident, then 1–3 unrelated commits
(a comment or a README line, 2 h 50 to 2 h 10 before). Each case is diagnosed by the stable
offline entry point, as a subprocess with a time limit: ``ads analyze --incident FILE.json
--repo DIR --service NAME --format json`` (a saved OOM incident of the code base's service, no
ads.yaml), and the ranked findings of its JSON are scored.

Scenarios:

(a)  deleted release in a loop: release statements (``zfree``, ``sdsfree``, ``jv_free``,
     ``curlx_free``, ``strbuf_release``, ``free``… per code base) alone on their line inside a
     loop body, found with tree-sitter-c in the service's own .c files (no tests, fuzzers,
     benchmarks, examples or other programs); one per function, drawn with --seed, functions
     whose loop assigns the released variable first, at most 2 per file. The case commit
     deletes that one line. Right when the top-1 finding is in that file and function within
     30 lines of the deleted line; commit attributed when it is right and names the case commit
     as the one that introduced it.
(b)  real historical leak fixes, mined from the history reachable from the snapshot: commits
     whose message mentions a leak and whose diff, inside the analysed tree, modifies at most 2
     .c files of the service's program, adds 1–3 release calls, all in one function that
     already existed, at most 12 added and 8 removed lines; drawn with --seed, one per function.
     (b1) HEAD = the fix's parent, no case commit (the code as it was when it leaked): right in
          the top 3 when a finding among the first 3 is in the fixed file and function. Also
          printed: how often the top-1 is a leak the project's history confirms (the case's,
          or one in a function that a later leak fix of the history changed): a wrong top-1
          there is another real leak, not a false alarm.
     (b3) as (b1), but the window is the project's own last commits up to the fix's parent
          (its first-parent chain of the 14 days before it, at most 40 commits, with their
          real subjects, authors and changes to the analysed tree, moved in time so that the
          parent lands 1 h before the incident): the change-first analysis on real history,
          where the commit that brought the leak may be in the window and every other commit
          is a real change that could be taken for it. Right as (b1).
     (b2) the fix's tree, with the fix reverted (its analysed files restored to the parent's)
          as the case commit 3 h before the incident: right when the top-1 is the fixed
          function; commit attributed when it is right and names the revert commit.

Prints one table per scenario (per code base and all): cases, top-1, top-3, commit attributed,
wrong top-1 that said High, median seconds per case, and the issue's goals with meets/MISSES
((a) top-1 ≥ 90 % and commit attributed ≥ 90 %; (b2) top-1 ≥ 80 %; (b1), (b3) top-3 ≥ 50 %;
wrong-and-High = 0 everywhere); then a calibration table: for each confidence level, how many
top-1 answers had it and how often they were right. A failed or timed-out case counts as a
wrong answer with no confidence.

Inputs: the repositories, fetched (a bare git directory or a clone), one --repo per code base:
``fetch github:redis/redis`` (or ``git clone --bare https://github.com/redis/redis``) gives
``/work/.mirror/redis+redis/repo``. Each snapshot is the repository's HEAD unless ``@REV``
follows the path. Nothing fetched is written inside the project.

Usage: .venv/bin/python bench/real_code.py --repo redis=PATH --repo jq=PATH --repo curl=PATH
       --repo git=PATH [--codebases redis,jq,curl,git] [--scenarios a,b1,b2,b3] [--limit 12]
       [--jobs 1] [--timeout 600] [--seed 11] [--json OUT] [--keep DIR] [--ads COMMAND]

To measure a fixed copy of ADS while src/ is being edited, run it with PYTHONPATH set to that
copy's src (e.g. a git worktree); the ADS analysed is printed first.

``--limit`` is per code base: (a) cases, and (b) fixes (each analysed as b1, b2 and b3). Times are
per case with --jobs cases at once; on 2 cores, --jobs 2 roughly halves the run but inflates each
case's time.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:
    import _real_code_cases as rc
    from _common import describe_checkout
except ImportError as exc:  # tree-sitter-c comes with the project's venv
    print(
        f"real_code.py: needs tree-sitter and tree-sitter-c ({exc}); run it with .venv/bin/python"
    )
    sys.exit(2)

NEAR_LINES = 30
SCENARIOS = {
    "a": "(a) deleted release in a loop, the latest case commit",
    "b1": "(b1) real leak fixes, HEAD = the fix's parent",
    "b2": "(b2) real leak fixes, the fix reverted 3 h before the incident",
    "b3": "(b3) real leak fixes, HEAD = the fix's parent, its own last commits as the window",
}
GOALS = {  # scenario → [(column, comparison, value)]
    "a": [("top-1", ">=", 90.0), ("commit attributed", ">=", 90.0), ("wrong-and-High", "==", 0)],
    "b1": [("top-3", ">=", 50.0), ("wrong-and-High", "==", 0)],
    "b2": [("top-1", ">=", 80.0), ("wrong-and-High", "==", 0)],
    "b3": [("top-3", ">=", 50.0), ("wrong-and-High", "==", 0)],
}
LEVELS = ("High", "Medium", "Low")
#: the scenarios at the fix's parent: no case commit, right when the fixed function is top-3
PARENT_FORMS = ("b1", "b3")


@dataclass
class Source:
    codebase: rc.CodeBase
    git_dir: Path
    rev: str  # the snapshot's sha
    #: every leak fix in the history (b1: a top-1 in a function fixed later is a real leak)
    fixes: list[rc.LeakFix] = field(default_factory=list)


@dataclass
class Case:
    number: int
    scenario: str
    source: Source
    file: str
    function: str
    line: int | None = None  # (a): the deleted line
    release: rc.LoopRelease | None = None
    fix: rc.LeakFix | None = None

    @property
    def label(self) -> str:
        what = f"{self.file}:{self.function}"
        if self.release is not None:
            what += f" -{self.release.statement} @{self.release.line}"
        if self.fix is not None:
            what += f" (fix {self.fix.sha[:10]})"
        return what


@dataclass
class Result:
    case: Case
    seconds: float = 0.0
    error: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    case_sha: str | None = None
    notes: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def hits(self, finding: dict[str, Any]) -> bool:
        function = str(finding.get("function") or "").strip().removesuffix("()")
        if finding.get("file") != self.case.file or function != self.case.function:
            return False
        if self.case.line is None:
            return True
        lines = [finding.get(k) for k in ("line", "end_line", "loop_line", "use_line")]
        numbers = [n for n in lines if isinstance(n, int)]
        low, high = min(numbers, default=0), max(numbers, default=0)
        return low - NEAR_LINES <= self.case.line <= high + NEAR_LINES

    @property
    def rank(self) -> int | None:
        return next((i + 1 for i, f in enumerate(self.findings) if self.hits(f)), None)

    @property
    def function_rank(self) -> int | None:
        """Rank of the first finding in the expected file and function, wherever its line."""
        expected = (self.case.file, self.case.function)
        return next(
            (
                i + 1
                for i, f in enumerate(self.findings)
                if (f.get("file"), str(f.get("function") or "").removesuffix("()")) == expected
            ),
            None,
        )

    @property
    def top1(self) -> bool:
        return self.rank == 1

    @property
    def top3(self) -> bool:
        return self.rank is not None and self.rank <= 3

    @property
    def confidence(self) -> str | None:
        return str(self.findings[0].get("confidence")) if self.findings else None

    @property
    def attributed(self) -> bool:
        if not self.top1 or self.case_sha is None:
            return False
        introduced = self.findings[0].get("introduced_by") or {}
        return introduced.get("sha") == self.case_sha

    @property
    def confirmed_leak(self) -> bool:
        """(b1) The top-1 is a leak the project's history confirms: the case's own, or one in
        a function that a later leak fix changed (still there at the fix's parent)."""
        fix = self.case.fix
        if self.top1:
            return True
        if fix is None or not self.findings:
            return False
        top = self.findings[0]
        where = (top.get("file"), str(top.get("function") or "").removesuffix("()"))
        return any(
            (later.file, later.function) == where and later.when > fix.when
            for later in self.case.source.fixes
        )

    @property
    def wrong_high(self) -> bool:
        return not self.top1 and self.confidence == "High"

    def as_json(self) -> dict[str, Any]:
        case = self.case
        labelled = [
            c.get("role") for c in self.changes if self.case_sha and c.get("sha") == self.case_sha
        ]
        return {
            "number": case.number,
            "scenario": case.scenario,
            "codebase": case.source.codebase.name,
            "snapshot": case.fix.parent
            if case.fix and case.scenario in PARENT_FORMS
            else (case.fix.sha if case.fix else case.source.rev),
            "expected": {"file": case.file, "function": case.function, "line": case.line},
            "deleted": case.release.statement if case.release else None,
            "allocated_in_loop": case.release.allocated_in_loop if case.release else None,
            "fix": (
                {
                    "sha": case.fix.sha,
                    "subject": case.fix.subject,
                    "date": datetime.fromtimestamp(case.fix.when, UTC).isoformat(),
                    "releases": list(case.fix.releases),
                    "files": list(case.fix.files),
                }
                if case.fix
                else None
            ),
            "case_commit": self.case_sha,
            "seconds": round(self.seconds, 2),
            "error": self.error,
            "rank": self.rank,
            "function_rank": self.function_rank,
            "top1": self.top1,
            "top3": self.top3,
            "confirmed_leak": self.confirmed_leak,
            "attributed": self.attributed if case.scenario not in PARENT_FORMS else None,
            "case_commit_role": labelled[0] if labelled else None,
            "confidence": self.confidence,
            "wrong_high": self.wrong_high,
            "findings": len(self.findings),
            "top": [
                {
                    "file": f.get("file"),
                    "function": f.get("function"),
                    "line": f.get("line"),
                    "end_line": f.get("end_line"),
                    "kind": f.get("kind"),
                    "confidence": f.get("confidence"),
                    "score": f.get("score"),
                    "introduced_by": (f.get("introduced_by") or {}).get("sha"),
                }
                for f in self.findings[:5]
            ],
            "notes": self.notes[-5:],
        }


# -- inputs -----------------------------------------------------------------------------------


def need(codebase: rc.CodeBase) -> str:
    return (
        f"needs the {codebase.name} repository: fetch github:{codebase.github} "
        f"(or git clone --bare https://github.com/{codebase.github}) and pass "
        f"--repo {codebase.name}=PATH"
    )


def sources(args: argparse.Namespace) -> list[Source]:
    given: dict[str, str] = {}
    for spec in args.repo:
        name, sep, path = spec.partition("=")
        if not sep or name not in rc.CODE_BASES:
            known = ", ".join(rc.CODE_BASES)
            raise rc.InputError(f"--repo takes NAME=PATH[@REV] with NAME one of {known}: {spec!r}")
        given[name] = path
    chosen = [n.strip() for n in args.codebases.split(",") if n.strip()]
    out = []
    for name in chosen:
        if name not in rc.CODE_BASES:
            raise rc.InputError(f"unknown code base {name!r} (known: {', '.join(rc.CODE_BASES)})")
        codebase = rc.CODE_BASES[name]
        if name not in given:
            raise rc.InputError(need(codebase))
        path, _, rev = given[name].partition("@")
        try:
            git_dir = rc.open_repository(Path(path))
        except rc.InputError as exc:
            raise rc.InputError(f"{need(codebase)} ({exc})") from None
        out.append(Source(codebase, git_dir, rc.resolve(git_dir, rev or "HEAD")))
    return out


class Trees:
    """Snapshots of the analysed trees, the (a) ones shared between cases."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[Path, str], dict[str, bytes]] = {}

    def get(self, source: Source, rev: str, *, keep: bool) -> dict[str, bytes]:
        key = (source.git_dir, rev)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        files = rc.export_tree(source.git_dir, rev, source.codebase)
        if keep:
            with self._lock:
                self._cache[key] = files
        return files


def make_cases(
    source_list: list[Source], scenarios: list[str], limit: int, seed: int, trees: Trees
) -> list[Case]:
    cases: list[Case] = []
    for source in source_list:
        name = source.codebase.name
        tree = trees.get(source, source.rev, keep=True)
        lines = sum(content.count(b"\n") for content in tree.values())
        print(
            f"{name}: {source.rev[:12]} ({_date(source.git_dir, source.rev)}), analysed tree "
            f"{len(tree)} files, {lines:,} lines ({', '.join(source.codebase.include)})"
        )
        if "a" in scenarios:
            found: list[rc.LoopRelease] = []
            for path in sorted(tree):
                if source.codebase.candidate_file(path):
                    found += rc.loop_releases(path, tree[path], source.codebase)
            chosen = rc.choose_loop_releases(found, limit, seed)
            functions = len({(r.file, r.function) for r in found})
            allocated = sum(1 for r in chosen if r.allocated_in_loop)
            print(
                f"  (a) {len(found)} release statements in loops in {functions} functions; "
                f"{len(chosen)} cases ({allocated} whose loop assigns what it releases)"
            )
            for release in chosen:
                cases.append(
                    Case(
                        0,
                        "a",
                        source,
                        release.file,
                        release.function,
                        release.line,
                        release=release,
                    )
                )
        if {"b1", "b2", "b3"} & set(scenarios):
            started = time.perf_counter()
            fixes = rc.leak_fixes(source.git_dir, source.rev, source.codebase, limit, seed)
            if {"b1", "b3"} & set(scenarios):
                source.fixes = rc.every_leak_fix(source.git_dir, source.rev, source.codebase)
            print(
                f"  (b) {len(fixes)} real leak fixes chosen among {len(source.fixes) or '?'} "
                f"(history mined in {time.perf_counter() - started:.1f} s)"
            )
            for fix in fixes:
                for scenario in ("b1", "b2", "b3"):
                    if scenario in scenarios:
                        cases.append(Case(0, scenario, source, fix.file, fix.function, fix=fix))
    for number, case in enumerate(cases, start=1):
        case.number = number
    return cases


def _date(git_dir: Path, rev: str) -> str:
    return rc.git(git_dir, "log", "-1", "--format=%cs", rev).decode().strip()


# -- one case ---------------------------------------------------------------------------------


def build_case(case: Case, target: Path, incident_at: datetime, seed: int, trees: Trees) -> str:
    """The case repository at ``target``; returns the case commit's sha ('' for b1)."""
    source, codebase = case.source, case.source.codebase
    stem = Path(case.file).stem
    message = f"{stem}: simplify {case.function}()"
    change: tuple[str, dict[str, bytes]] | None
    if case.scenario == "a":
        assert case.release is not None
        files = trees.get(source, source.rev, keep=True)
        lines = files[case.file].split(b"\n")
        del lines[case.release.line - 1]
        change = (message, {case.file: b"\n".join(lines)})
        avoid = {case.file}
        snapshot = source.rev
    else:
        assert case.fix is not None
        avoid = set(case.fix.files)
        if case.scenario == "b3":
            snapshot = case.fix.parent
            commits = rc.real_history(
                source.git_dir, codebase, snapshot, incident_at,
                lambda rev: trees.get(source, rev, keep=False),
            )  # fmt: skip
            return rc.build_repo(target, commits).shas.get("case", "")
        if case.scenario == "b1":
            snapshot = case.fix.parent
            files, change = trees.get(source, snapshot, keep=False), None
        else:
            snapshot = case.fix.sha
            files = trees.get(source, snapshot, keep=False)
            reverted = {}
            for path in case.fix.files:
                before = rc.show(source.git_dir, case.fix.parent, path)
                if before is None:
                    raise rc.InputError(f"{path} is missing at {case.fix.parent[:12]}")
                reverted[path] = before
            change = (message, reverted)
    title = f"{codebase.name} {snapshot[:12]}"
    commits = rc.plan_history(
        files, incident_at, title=title, case=change, avoid=avoid, seed=seed + case.number
    )
    repo = rc.build_repo(target, commits)
    return repo.shas.get("case", "")


def ads_source(ads: list[str]) -> str:
    """Where the ``ads`` package that ``ads`` runs comes from: path, commit, and whether its
    checkout has uncommitted changes (the engine changes under a checkout)."""
    interpreter = ads[0]
    if ads[1:2] != ["-m"]:
        script = shutil.which(ads[0])
        first = Path(script).read_bytes()[:200].split(b"\n")[0] if script else b""
        if not first.startswith(b"#!"):
            return shlex.join(ads)
        interpreter = first[2:].decode(errors="replace").strip()
    probe = subprocess.run(
        [*shlex.split(interpreter), "-c", "import ads; print(ads.__file__)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return shlex.join(ads)
    return describe_checkout(Path(probe.stdout.strip()).resolve().parent)


def run_ads(command: list[str], cwd: Path, timeout: float) -> tuple[float, int | None, str, str]:
    """(seconds, return code or None on timeout, stdout, stderr); a timed-out analysis is
    killed with its process group (gcc included)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    return time.perf_counter() - started, code, out, err


def run_case(
    case: Case,
    *,
    ads: list[str],
    incident_at: datetime,
    timeout: float,
    seed: int,
    trees: Trees,
    keep: Path | None,
) -> Result:
    result = Result(case)
    work = Path(tempfile.mkdtemp(prefix=f"ads-real-code-{case.number:03d}-"))
    try:
        repo = work / f"{case.source.codebase.name}-{case.scenario}-{case.number:03d}"
        try:
            result.case_sha = build_case(case, repo, incident_at, seed, trees) or None
        except (rc.InputError, subprocess.CalledProcessError, OSError) as exc:
            result.error = f"could not build the case repository: {exc}"
            return result
        incident = work / "incident.json"
        document = rc.incident_document(case.source.codebase.service, case.number, incident_at)
        incident.write_text(json.dumps(document, indent=2))
        command = [*ads, "analyze", "--incident", str(incident), "--repo", str(repo)]
        command += ["--service", case.source.codebase.service, "--format", "json"]
        seconds, code, out, err = run_ads(command, work, timeout)
        result.seconds = seconds
        if code is None:
            result.error = f"timed out after {timeout:.0f} s"
        elif code != 0:
            last = (err.strip().splitlines() or [f"exit {code}"])[-1]
            result.error = f"ads analyze exited {code}: {last}"
        else:
            if keep is not None:  # the whole diagnosis, for reading the ranking afterwards
                (work / "diagnosis.json").write_text(out)
            try:
                diagnosis = json.loads(out)
            except json.JSONDecodeError as exc:
                result.error = f"ads analyze printed no JSON ({exc})"
            else:
                result.findings = list(diagnosis.get("findings") or [])
                result.notes = [str(n) for n in diagnosis.get("notes") or []]
                result.changes = list(diagnosis.get("changes") or [])
        return result
    finally:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.move(str(work), keep / work.name)
        else:
            shutil.rmtree(work, ignore_errors=True)


def progress_line(done: int, total: int, result: Result) -> str:
    case = result.case
    if result.error:
        outcome = f"FAILED: {result.error}"
    elif not result.findings:
        outcome = "no findings"
    else:
        top = result.findings[0]
        mark = "right" if result.top1 else f"wrong (rank {result.rank or '-'})"
        commit = ", commit named" if result.attributed else ""
        outcome = (
            f"top-1 {top.get('file')}:{top.get('function')}:{top.get('line')} "
            f"{top.get('confidence')}: {mark}{commit}"
        )
    return (
        f"[{done:3d}/{total}] {case.scenario:<2} {case.source.codebase.name:<5} {case.label} → "
        f"{outcome} ({result.seconds:.1f} s)"
    )


# -- tables -----------------------------------------------------------------------------------


def pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def cell(part: int, whole: int) -> str:
    return f"{part:3d}/{whole:<3d} {pct(part, whole):5.1f} %"


def scenario_rows(results: list[Result]) -> dict[str, float]:
    n = len(results)
    times = [r.seconds for r in results if r.error is None]
    return {
        "cases": n,
        "failed": sum(1 for r in results if r.error),
        "top-1": pct(sum(r.top1 for r in results), n),
        "top-3": pct(sum(r.top3 for r in results), n),
        "commit attributed": pct(sum(r.attributed for r in results), n),
        "wrong-and-High": sum(r.wrong_high for r in results),
        "median s": statistics.median(times) if times else float("nan"),
    }


def print_scenario(scenario: str, results: list[Result], codebases: list[str]) -> None:
    goals = "; ".join(
        f"{column} {'≥' if op == '>=' else '='} {value:g}{' %' if op == '>=' else ''}"
        for column, op, value in GOALS[scenario]
    )
    print(f"\n{SCENARIOS[scenario]} — goals: {goals}")
    print(
        f"  {'code base':<10} {'cases':>5} {'failed':>6}  {'top-1':<15} {'top-3':<15} "
        f"{'commit attributed':<17}  {'wrong+High':>10} {'median s':>8}"
    )
    groups = [(n, [r for r in results if r.case.source.codebase.name == n]) for n in codebases]
    groups.append(("all", results))
    for name, group in groups:
        if not group:
            continue
        n = len(group)
        times = [r.seconds for r in group if r.error is None]
        attributed = "-" if scenario in PARENT_FORMS else cell(sum(r.attributed for r in group), n)
        med = f"{statistics.median(times):8.1f}" if times else f"{'-':>8}"
        print(
            f"  {name:<10} {n:>5} {sum(1 for r in group if r.error):>6}  "
            f"{cell(sum(r.top1 for r in group), n):<15} {cell(sum(r.top3 for r in group), n):<15} "
            f"{attributed:<17}  {sum(r.wrong_high for r in group):>10} {med}"
        )
    if scenario in PARENT_FORMS:
        per = ", ".join(
            f"{name} {sum(r.confirmed_leak for r in group)}/{len(group)}"
            for name, group in groups
            if group
        )
        print(
            "  top-1 a leak the history confirms (the case's, or one a later commit fixed): " + per
        )
        confirmed_high = sum(r.wrong_high and r.confirmed_leak for r in results)
        print(
            f"  of the wrong top-1s that said High, leaks a later commit of the project fixed: "
            f"{confirmed_high}/{sum(r.wrong_high for r in results)}"
        )
    if scenario == "b3":
        named = [r for r in results if r.findings and r.findings[0].get("introduced_by")]
        print(
            f"  top-1 names a commit of the window as the one that brought it: {len(named)}/"
            f"{len(results)} ({sum(r.top1 for r in named)} of them right)"
        )
    rows = scenario_rows(results)
    verdicts = []
    for column, op, value in GOALS[scenario]:
        got = rows[column]
        ok = got >= value if op == ">=" else got == value
        shown = f"{got:.1f} %" if op == ">=" else f"{got:g}"
        want = f"≥ {value:g} %" if op == ">=" else f"= {value:g}"
        verdicts.append(f"{column} {shown} {'meets' if ok else 'MISSES'} {want}")
    print("  goals: " + "; ".join(verdicts))


def print_calibration(results: list[Result], scenarios: list[str]) -> None:
    print("\ncalibration: the top-1 answer's confidence, and how often that answer was right")
    header = "".join(f" {s:>12}" for s in scenarios)
    print(f"  {'confidence':<12} {'answers':>7} {'right':>6} {'precision':>9}{header}")
    for level in (*LEVELS, None):
        group = [r for r in results if r.confidence == level]
        if level is None and not group:
            continue
        right = sum(r.top1 for r in group)
        per = "".join(
            " {:>12}".format(
                f"{sum(r.top1 for r in group if r.case.scenario == s)}/"
                f"{sum(1 for r in group if r.case.scenario == s)}"
            )
            for s in scenarios
        )
        precision = f"{pct(right, len(group)):7.1f} %" if group else f"{'-':>9}"
        name = level or "none"
        print(f"  {name:<12} {len(group):>7} {right:>6} {precision}{per}")
    print("  (none: no finding, or the analysis failed; per scenario: right/answers)")


# -- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="NAME=PATH[@REV]",
        help="a fetched repository of a code base (bare or not), e.g. redis=/work/.mirror/...",
    )
    tuned = [name for name, codebase in rc.CODE_BASES.items() if not codebase.held_out]
    held_out = [name for name, codebase in rc.CODE_BASES.items() if codebase.held_out]
    parser.add_argument(
        "--codebases",
        default=",".join(tuned),
        help=f"comma-separated (default: {', '.join(tuned)}; held out, run only when named: "
        f"{', '.join(held_out)})",
    )
    parser.add_argument("--scenarios", default="a,b1,b2,b3", help="comma-separated: a, b1, b2, b3")
    parser.add_argument("--limit", type=int, default=12, help="(a) cases and (b) fixes per base")
    parser.add_argument("--jobs", type=int, default=1, help="cases analysed at once")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per analysis")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, metavar="OUT", help="write per-case results here")
    parser.add_argument("--list", action="store_true", help="list the cases, run nothing")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep each case's repo and diagnosis.json here"
    )
    parser.add_argument(
        "--ads",
        default=f"{shlex.quote(sys.executable)} -m ads",
        help="the ads command (default: this interpreter's -m ads)",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown or not scenarios:
        print(f"real_code.py: --scenarios takes a, b1, b2, b3 (got {args.scenarios!r})")
        return 2
    try:
        source_list = sources(args)
    except rc.InputError as exc:
        print(f"real_code.py: {exc}")
        return 2
    ads = shlex.split(args.ads)
    probe = subprocess.run([*ads, "analyze", "--help"], capture_output=True, text=True)
    if probe.returncode != 0 or "--incident" not in probe.stdout:
        print(f"real_code.py: {args.ads!r} is not an ads with `analyze --incident` (--ads CMD)")
        return 2
    analysed_by = ads_source(ads)
    print(f"ADS analysed: {analysed_by}")
    incident_at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    trees = Trees()
    cases = make_cases(source_list, scenarios, args.limit, args.seed, trees)
    if not cases:
        print("real_code.py: no cases (see the counts above)")
        return 1
    if args.list:
        for case in cases:
            print(
                f"  {case.number:3d} {case.scenario:<2} {case.source.codebase.name:<5} {case.label}"
            )
            if case.fix is not None:
                print(f"        {case.fix.subject[:90]}")
        return 0
    print(
        f"\n{len(cases)} analyses, {args.jobs} at a time, {args.timeout:.0f} s limit each; "
        f"incident at {incident_at:%Y-%m-%d %H:%M} UTC"
    )
    started = time.perf_counter()
    results: list[Result] = []
    run = functools.partial(
        run_case,
        ads=ads,
        incident_at=incident_at,
        timeout=args.timeout,
        seed=args.seed,
        trees=trees,
        keep=args.keep,
    )
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run, case) for case in cases]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            print(progress_line(len(results), len(cases), result), flush=True)
    results.sort(key=lambda r: r.case.number)
    wall = time.perf_counter() - started
    names = [s.codebase.name for s in source_list]
    for scenario in scenarios:
        group = [r for r in results if r.case.scenario == scenario]
        if group:
            print_scenario(scenario, group, names)
    print_calibration(results, scenarios)
    print(f"\n{len(results)} analyses in {wall:.0f} s wall ({args.jobs} at a time)")
    if args.json:
        document = {
            "generated": datetime.now(UTC).isoformat(),
            "incident_at": incident_at.isoformat(),
            "ads": analysed_by,
            "seed": args.seed,
            "limit": args.limit,
            "jobs": args.jobs,
            "codebases": {
                s.codebase.name: {"git_dir": str(s.git_dir), "rev": s.rev} for s in source_list
            },
            "summary": {
                s: scenario_rows([r for r in results if r.case.scenario == s]) for s in scenarios
            },
            "cases": [r.as_json() for r in results],
        }
        args.json.write_text(json.dumps(document, indent=2, default=str))
        print(f"per-case results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
