"""The Python front end on its corpus: each small service states its expected verdict.

Each file in ``python_corpus/`` (or file of a case directory, by its path inside it) states
what the analysis must report in ``# expect:`` lines: ``growth`` (an in-scope finding),
``out-of-scope`` (reported, but outside what the service runs) or ``none``. Adding a shape is
adding a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ads.analysis.python import analyze_python_sources
from ads.analysis.python.fixes import propose_fix
from ads.analysis.scope import BuildScope
from ads.models import FindingKind

CORPUS = Path(__file__).parent / "python_corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.suffix == ".py" or p.is_dir())
DEMO = Path(__file__).resolve().parents[2] / "examples" / "py-pages-service"


def _case_files(name: str) -> list[tuple[str, bytes]]:
    path = CORPUS / name
    if path.is_file():
        return [(name, path.read_bytes())]
    return sorted((p.relative_to(path).as_posix(), p.read_bytes()) for p in path.rglob("*.py"))


def _expected(files: list[tuple[str, bytes]]) -> list[dict[str, str]]:
    expected = []
    for path, data in files:
        for line in data.decode().splitlines():
            if "# expect:" not in line:
                continue
            words = line.split("# expect:", 1)[1].split()
            if words == ["none"]:
                continue
            entry = {"verdict": words[0], "file": path}
            entry.update(word.split("=", 1) for word in words[1:])  # type: ignore[arg-type]
            expected.append(entry)
    return expected


@pytest.mark.parametrize("case", CASES)
def test_corpus_verdicts(case: str) -> None:
    files = _case_files(case)
    analysis = analyze_python_sources(files, scope=BuildScope.from_build(None))
    assert analysis.parse_problems == []
    got = [
        {
            "verdict": "growth" if f.in_scope else "out-of-scope",
            "file": f.file,
            "function": f.function,
            "line": str(f.line),
            "variable": f.variable or "",
        }
        for f in analysis.findings
    ]
    assert got == _expected(files)
    assert all(f.kind is FindingKind.UNBOUNDED_GROWTH for f in analysis.findings)


def test_an_estimate_of_bytes_and_rate_per_iteration() -> None:
    """What the impact line is computed from: 64 KiB per result, 10 iterations a second."""
    files = _case_files("results_appended_per_iteration.py")
    (finding,) = analyze_python_sources(files).findings
    assert finding.bytes_per_iteration == 64 * 1024
    assert finding.iterations_per_second == 10.0
    assert finding.loop_line == 15


def test_a_file_that_does_not_parse_is_named() -> None:
    analysis = analyze_python_sources([("broken.py", b"def f(:\n")])
    assert analysis.findings == [] and analysis.parse_problems[0].startswith("broken.py:1")


def _patched(path: str, source: str, diff: str) -> str:
    proposal_lines = diff.splitlines()
    assert proposal_lines[0] == f"--- a/{path}" and proposal_lines[1] == f"+++ b/{path}"
    return source


def test_fixes_restore_a_bound_and_the_growth_is_gone() -> None:
    """Each patchable shape: the patched source analyses clean."""
    for case in ("dict_keyed_by_request_id.py", "lru_cache_on_id.py",
                 "results_appended_per_iteration.py"):  # fmt: skip
        source = (CORPUS / case).read_text()
        (finding,) = analyze_python_sources([(case, source.encode())]).findings
        fix = propose_fix(case, source, finding)
        assert fix.has_patch and fix.patched_source is not None, case
        assert fix.diff is not None and fix.diff.startswith(f"--- a/{case}\n+++ b/{case}\n")
        assert "to prevent memory leak" in fix.summary
        again = analyze_python_sources([(case, fix.patched_source.encode())])
        assert again.findings == [], (case, fix.diff)


def test_registrations_get_advice_not_a_patch() -> None:
    case = "callback_per_request.py"
    source = (CORPUS / case).read_text()
    (finding,) = analyze_python_sources([(case, source.encode())]).findings
    fix = propose_fix(case, source, finding)
    assert not fix.has_patch and fix.suggestion and "register it once" in fix.suggestion


def test_the_demo_fix_uses_the_bound_the_module_still_defines() -> None:
    source = (DEMO / "pages" / "worker.py").read_text()
    path = "pages/worker.py"
    (finding,) = analyze_python_sources([(path, source.encode())]).findings
    assert (finding.function, finding.variable) == ("render_page", "_pages")
    assert finding.bytes_per_iteration == 512 * 1024
    fix = propose_fix(path, source, finding)
    added = [
        line for line in (fix.diff or "").splitlines() if line.startswith("+") and "+++" not in line
    ]
    assert added == [
        "+    while len(_pages) > MAX_CACHED_PAGES:",
        "+        _pages.popitem(last=False)",
    ]


def test_a_growth_site_seen_at_run_time_raises_confidence() -> None:
    """The path analysis alone is Low; the same site growing under tracemalloc makes two
    independent kinds of evidence: High, with the reason written out."""
    from ads.analysis.scoring import incident_signal, rank_findings, seen_at_run_time
    from ads.models import Alert, Confidence, Incident, Support

    files = _case_files("results_appended_per_iteration.py")
    incident = Incident(
        id="P1", title="worker OOMKilled", status="triggered", created_at="2026-03-02T09:00:00Z",
        alerts=[Alert(id="A", summary="OOMKilled", custom_details={"reason": "OOMKilled"})],
    )  # fmt: skip
    (ranked,) = rank_findings(analyze_python_sources(files).findings, incident_signal(incident))
    assert ranked.confidence is Confidence.LOW
    seen = seen_at_run_time(ranked, "results_appended_per_iteration.py:9 in compute()")
    assert seen.confidence is Confidence.HIGH and Support.RUNTIME in seen.support
    assert seen.reasons[-1].endswith("results_appended_per_iteration.py:9 in compute()")
    assert seen_at_run_time(seen, "again") == seen


def _edits(old: str, new: str) -> list[tuple[str, str | None, str, str | None]]:
    from ads.analysis.python.edits import python_file_edits
    from ads.models import FileChange

    change = FileChange(path="svc.py", status="M", old_text=old, new_text=new)
    return [(e.kind.value, e.function, e.call, e.variable) for e in python_file_edits(change).edits]


def test_a_commit_is_read_at_the_syntax_level() -> None:
    cached = (
        "import functools\n\n\n@functools.lru_cache(maxsize={})\n"
        "def profile(uid):\n    return uid\n"
    )
    assert _edits(cached.format(128), cached.format("None")) == [
        ("removed free", "profile", "lru_cache(maxsize=128)", "profile")
    ]
    bounded = (
        "import collections\n\nLOG = collections.deque({})\n\n\ndef log(x):\n    LOG.append(x)\n"
    )
    assert _edits(bounded.format("maxlen=100"), bounded.format("")) == [
        ("removed free", "log", "the bound of LOG", "LOG")
    ]
    evicting = (
        "C = {}\n\n\ndef put(k, v):\n    C[k] = v\n"
        "    if len(C) > 9:\n        C.pop(next(iter(C)))\n"
    )
    plain = "C = {}\n\n\ndef put(k, v):\n    C[k] = v\n"
    assert _edits(evicting, plain) == [("removed free", "put", "C.pop(next(iter(C)))", "C")]
    assert _edits(plain, evicting) == [("added free", "put", "C.pop(next(iter(C)))", "C")]
    assert _edits("def f():\n    pass\n", "R = []\n\n\ndef f():\n    R.append(1)\n") == [
        ("added allocation", "f", "R.append(1)", "R")
    ]


def test_numpy_arrays_are_sized_from_their_shape_and_dtype() -> None:
    (finding,) = analyze_python_sources(_case_files("numpy_batches_appended.py")).findings
    assert finding.bytes_per_iteration == 256 * 1024 * 4
    assert finding.iterations_per_second == 2.0
