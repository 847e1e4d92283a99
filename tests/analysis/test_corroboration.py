"""gcc -fanalyzer corroboration of leak findings, run with the real gcc on real files.

(It lives beside the analysis tests because it checks the analysis' findings end to end.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ads.actions.corroboration import corroborate_with_gcc, wrapper_header
from ads.analysis.c.leaks import LeakReport, analyze_c_sources
from tests.fixtures.tiny import Step, diagnose_tiny, tiny_history

CORPUS = Path(__file__).parent / "c_corpus"

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


def _analyse(repo: Path, files: list[str]) -> LeakReport:
    return analyze_c_sources([(f, (repo / f).read_bytes()) for f in files])


def test_demo_leak_is_corroborated_at_line_26(demo_repo: Path) -> None:
    report = _analyse(demo_repo, ["worker.c"])
    result = corroborate_with_gcc(demo_repo, report.findings, ["worker.c"], [], timeout=60)
    top = result.findings[0]
    assert (top.function, top.line) == ("controller", 26)
    assert "corroborated by gcc -fanalyzer: -Wanalyzer-malloc-leak at worker.c:26" in top.evidence
    assert result.notes == []
    assert report.findings[0].evidence != top.evidence, "the input findings are left untouched"


def test_fixed_demo_gets_no_corroboration(demo_repo: Path) -> None:
    worker = demo_repo / "worker.c"
    worker.write_text(
        worker.read_text().replace(
            "process_work(buffer);\n", "process_work(buffer);\n        free(buffer);\n", 1
        )
    )
    report = _analyse(demo_repo, ["worker.c"])
    result = corroborate_with_gcc(demo_repo, report.findings, ["worker.c"], [])
    assert report.findings == []
    assert [d for d in result.diagnostics if d.option == "-Wanalyzer-malloc-leak"] == []


def test_leak_through_a_wrapper_in_another_file_is_corroborated(tmp_path: Path) -> None:
    (tmp_path / "alloc.c").write_text(
        "#include <stdlib.h>\n"
        "void *xmalloc(size_t n) {\n"
        "    void *p = malloc(n);\n"
        "    if (!p) abort();\n"
        "    return p;\n"
        "}\n"
    )
    (tmp_path / "main.c").write_text(
        "#include <stddef.h>\n"
        "#include <unistd.h>\n"
        "void *xmalloc(size_t n);\n"
        "static volatile int sink;\n"
        "int main(void) {\n"
        "    while (1) {\n"
        "        char *b = xmalloc(64);\n"
        "        b[0] = 1;\n"
        "        sink += b[0];\n"
        "        sleep(1);\n"
        "    }\n"
        "}\n"
    )
    files = ["alloc.c", "main.c"]
    report = _analyse(tmp_path, files)
    assert report.allocator_wrappers == ["xmalloc"]
    top = report.findings[0]
    assert (top.file, top.line, top.bytes_per_iteration) == ("main.c", 7, 64)
    header = wrapper_header(tmp_path, files, report.allocator_wrappers)
    assert "void *xmalloc(size_t n) __attribute__((malloc, malloc(free, 1)));" in header.text
    assert header.defined_in == {"xmalloc": "alloc.c"} and header.notes == []
    result = corroborate_with_gcc(tmp_path, report.findings, files, report.allocator_wrappers)
    assert any(e.startswith("corroborated by gcc -fanalyzer: -Wanalyzer-malloc-leak at main.c:")
               for e in result.findings[0].evidence), result.diagnostics  # fmt: skip


def test_corpus_wrapper_file_is_corroborated() -> None:
    report = _analyse(CORPUS, ["wrapper.c"])
    result = corroborate_with_gcc(CORPUS, report.findings, ["wrapper.c"], report.allocator_wrappers)
    (finding,) = result.findings
    assert finding.line == 27
    assert any("gcc -fanalyzer: -Wanalyzer-malloc-leak" in e for e in finding.evidence)


def test_gcc_missing_gives_a_note_not_an_error(
    demo_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _analyse(demo_repo, ["worker.c"])
    monkeypatch.setenv("PATH", str(demo_repo / "no-such-bin"))
    result = corroborate_with_gcc(demo_repo, report.findings, ["worker.c"], [])
    assert result.notes == ["gcc is not installed; findings are not corroborated"]
    assert result.findings == report.findings


def test_code_gcc_cannot_compile_gives_a_note(tmp_path: Path) -> None:
    (tmp_path / "bad.c").write_text(
        "#include <stdlib.h>\n"
        "int main(void) {\n"
        "    while (1) {\n"
        "        char *p = malloc(8);\n"
        "        p[0] = missing;\n"
        "    }\n"
        "}\n"
    )
    report = _analyse(tmp_path, ["bad.c"])
    assert [(f.file, f.line) for f in report.findings] == [("bad.c", 4)]
    result = corroborate_with_gcc(tmp_path, report.findings, ["bad.c"], [])
    assert len(result.notes) == 1
    assert result.notes[0].startswith("gcc could not compile bad.c: ")
    assert "missing" in result.notes[0]
    assert result.findings == report.findings


def test_errors_in_files_outside_the_repository_are_never_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a hostile commit includes a secret file (by absolute or relative path): gcc's error
    # would quote its bytes, and the note goes on the incident
    secret = tmp_path / "outside" / "key.h"
    secret.parent.mkdir()
    secret.write_text("TOKEN_s3cr3t_value here;\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "pd_token_never_quoted")
    for name, include in (("key.c", str(secret)), ("rel.c", "../outside/key.h")):
        (repo / name).write_text(
            f'#include "{include}"\n#include <stdlib.h>\n'
            "int main(void) { while (1) { char *p = malloc(8); p[0] = 1; } }\n"
        )
        report = _analyse(repo, [name])
        result = corroborate_with_gcc(repo, report.findings, [name], [])
        text = " ".join(result.notes)
        assert "TOKEN_s3cr3t_value" not in text and "pd_token_never_quoted" not in text, text
        assert f"gcc could not compile {name}: an error in a file outside the repository" in text


def test_no_findings_runs_nothing(demo_repo: Path) -> None:
    result = corroborate_with_gcc(demo_repo, [], ["worker.c"], [])
    assert result.notes == ["no findings to corroborate"] and result.diagnostics == []


def test_budget_is_respected(demo_repo: Path) -> None:
    report = _analyse(demo_repo, ["worker.c"])
    result = corroborate_with_gcc(demo_repo, report.findings, ["worker.c"], [], timeout=0.0)
    assert result.notes and "budget" in result.notes[0]
    assert "the 0 s budget" in result.notes[0]  # the configured bound, never a remainder
    assert "not checked by gcc -fanalyzer (budget spent): worker.c:26" in result.notes
    assert all("gcc" not in e for f in result.findings for e in f.evidence)


TWO_WORKERS = """\
#include <stdlib.h>
#include <string.h>

void *reader(void *arg) {
    for (;;) {
        char *line = malloc(256);
        memset(line, 0, 256);
    }
    return arg;
}

void *writer(void *arg) {
    for (;;) {
        char *frame = malloc(256);
        memset(frame, 1, 256);
    }
    return arg;
}
"""


def test_gcc_is_asked_when_its_agreement_could_decide_which_leak_comes_first(
    tmp_path: Path,
) -> None:
    # two equal leaks and no commit in the window to tell them apart
    repo, _ = tiny_history(tmp_path, [Step("import", {"workers.c": TWO_WORKERS}, hours=1400)])
    tied = diagnose_tiny(repo, corroborate=True)
    assert {f.function for f in tied.findings[:2]} == {"reader", "writer"}
    assert any(e.startswith("corroborated by gcc") for f in tied.findings for e in f.evidence)
    assert not any(n.startswith("gcc -fanalyzer not run") for n in tied.notes)
