"""Differential diagnosis, offline: each cause of an OOM kill named from a real git history.

Each test builds a small service in a temp git repository (``tests.fixtures.causes``) and runs
the workflow's ``analyse`` exactly as ``ads analyze --incident … --repo …`` does; the checks
are what an SRE reads: the Root cause line, the file and line it points at, the commit, and
why the other causes were rejected.
"""

from __future__ import annotations

from pathlib import Path

from ads.models import CauseKind, Confidence, Verdict
from ads.sources.repository import GitRepository
from ads.workflow import analyse
from ads.workflow.report import analysis_block, diagnosis_markdown
from tests.fixtures.causes import (
    MANIFEST,
    deployment,
    diagnose_cause,
    limit_lowered_repo,
    size_raised_repo,
)
from tests.fixtures.history import LeakHistory
from tests.fixtures.tiny import Step, tiny_history
from tests.workflow.test_diagnose import saved_incident


def verdicts(diagnosis: object) -> dict[CauseKind, Verdict]:
    return {h.kind: h.verdict for h in diagnosis.hypotheses}  # type: ignore[attr-defined]


def test_a_limit_lowered_below_the_cache_is_the_cause_not_a_leak(tmp_path: Path) -> None:
    repo, shas = limit_lowered_repo(tmp_path / "svc")

    diagnosis = diagnose_cause(repo, "32Mi")

    cause = diagnosis.cause
    assert cause is not None and cause.kind is CauseKind.LIMIT_LOWERED
    assert cause.change is not None and cause.change.sha == shas[1]
    assert (cause.file, cause.text) == (MANIFEST, "memory: 32Mi")
    assert cause.safe_limit == "128Mi" and cause.confidence is Confidence.HIGH
    block = "\n".join(analysis_block(diagnosis))
    assert f"Memory limit lowered 128Mi → 32Mi by {shas[1][:7]}" in block
    assert "while the service holds ≥ 48.0 MiB from start-up" in block
    assert f"**File**: `{MANIFEST}`" in block
    assert verdicts(diagnosis)[CauseKind.LEAK] is Verdict.REJECTED
    markdown = diagnosis_markdown(diagnosis)
    assert "**rejected** — code leak" in markdown
    assert "**caused the OOM**" in markdown


def test_a_raised_define_names_the_constant_and_its_commit(tmp_path: Path) -> None:
    repo, shas = size_raised_repo(tmp_path / "svc")

    diagnosis = diagnose_cause(repo, "64Mi")

    cause = diagnosis.cause
    assert cause is not None and cause.kind is CauseKind.SIZE_RAISED
    assert cause.change is not None and cause.change.sha == shas[1]
    assert (cause.file, cause.line, cause.text) == ("worker.c", 5, "#define CACHE_MB 96")
    block = "\n".join(analysis_block(diagnosis))
    assert f"CACHE_MB raised 16 → 96 by {shas[1][:7]}" in block
    assert "before that commit it held ≥ 16.0 MiB, under the limit" in block
    assert verdicts(diagnosis)[CauseKind.LIMIT_LOWERED] is Verdict.REJECTED


def test_a_jvm_heap_larger_than_the_limit_is_named_in_the_manifest(tmp_path: Path) -> None:
    before = deployment("256Mi", env={"JAVA_OPTS": "-Xmx128m"})
    after = deployment("256Mi", env={"JAVA_OPTS": "-Xms64m -Xmx512m"})
    repo, shas = tiny_history(
        tmp_path / "svc",
        [
            Step("Add the billing service", {"App.java": "class App {}\n", MANIFEST: before}, 72),
            Step("billing: more heap for the batch", {MANIFEST: after}, hours=1),
        ],
    )

    diagnosis = diagnose_cause(repo, "256Mi")

    cause = diagnosis.cause
    assert cause is not None and cause.kind is CauseKind.RUNTIME_HEAP
    assert cause.change is not None and cause.change.sha == shas[1]
    assert cause.file == MANIFEST and cause.text is not None and "-Xmx512m" in cause.text
    block = "\n".join(analysis_block(diagnosis))
    assert "-Xmx 512m" in block and "more than the 256Mi limit" in block
    assert "the code was not analysed, the manifests were" in diagnosis_markdown(diagnosis)


def test_no_change_at_all_says_so(tmp_path: Path) -> None:
    service = """#include <stdlib.h>
#include <unistd.h>
int main(void) {
    for (;;) {
        char *request = malloc(4096);
        free(request);
        usleep(1000);
    }
}
"""
    repo, _ = tiny_history(
        tmp_path / "svc",
        [
            Step(
                "Add the service",
                {"worker.c": service, MANIFEST: deployment("64Mi")},
                hours=24 * 30,
            )
        ],
    )

    diagnosis = diagnose_cause(repo, "64Mi")

    cause = diagnosis.cause
    assert cause is not None and cause.kind is CauseKind.LOAD
    block = "\n".join(analysis_block(diagnosis))
    assert "No code or configuration change explains it" in block
    assert "what would confirm it" in block
    assert all(
        v is Verdict.REJECTED for k, v in verdicts(diagnosis).items() if k is not CauseKind.LOAD
    )


def test_the_leak_still_wins_and_the_lowered_limit_is_rejected(
    leak_history_repo: LeakHistory,
) -> None:
    from ads.config import ServiceConfig

    service = ServiceConfig(name="ads-demo-service", sources=["worker.c"])
    diagnosis = analyse(
        saved_incident(leak_history_repo), service, GitRepository(leak_history_repo.path),
        corroborate=False,
    )  # fmt: skip

    assert diagnosis.non_code_cause is None
    assert diagnosis.cause is not None and diagnosis.cause.kind is CauseKind.LEAK
    top = diagnosis.findings[0]
    assert (top.file, top.function, top.line, top.end_line) == ("worker.c", "controller", 26, 27)
    block = "\n".join(analysis_block(diagnosis))
    assert block.startswith("- **File**: `worker.c`")
    lowered = next(h for h in diagnosis.hypotheses if h.kind is CauseKind.LIMIT_LOWERED)
    assert lowered.verdict is Verdict.REJECTED
    assert any("makes the leak reach it sooner" in r for r in lowered.reasons)
