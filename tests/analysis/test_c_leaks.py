"""The C leak analysis on a corpus of leak shapes, on the demo service, and on bad input.

Each file in ``c_corpus/`` states its expected verdict in ``/* expect: ... */`` header lines
(``none`` for code that must produce no finding); the test reads them and compares with what the
analysis reports, so adding a shape is adding a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ads.analysis.c.leaks import LEAK_ISSUE, analyze_c_sources
from ads.models import Confidence, FindingKind

CORPUS = Path(__file__).parent / "c_corpus"
DEMO_WORKER = Path(__file__).resolve().parents[2] / "examples" / "ads-demo-service" / "worker.c"


def _expectations(source: str) -> list[dict[str, str]]:
    expected = []
    for line in source.splitlines():
        if "expect:" not in line:
            continue
        words = line.split("expect:", 1)[1].replace("*/", "").split()
        if words == ["none"]:
            continue
        entry: dict[str, str] = {"kind": words[0]}
        for word in words[1:]:
            key, _, value = word.partition("=")
            entry[key] = f"{entry[key]},{value}" if key in entry else value
        expected.append(entry)
    return expected


CORPUS_FILES = sorted(CORPUS.glob("*.c"))


def test_corpus_covers_the_shapes_the_issue_lists() -> None:
    names = {path.stem for path in CORPUS_FILES}
    assert {
        "loop_leak", "loop_with_free", "callee_frees", "continue_path", "return_path",
        "global_growth", "strdup_loop", "callee_leaks", "wrapper", "startup_leak",
        "external_handoff",
    } <= names  # fmt: skip


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.stem for p in CORPUS_FILES])
def test_corpus_verdict(path: Path) -> None:
    source = path.read_text()
    expected = _expectations(source)
    report = analyze_c_sources([(path.name, path.read_bytes())])
    assert report.parse_problems == []
    got = [(f.kind.name, f.function, f.line) for f in report.findings]
    want = [(e["kind"], e["function"], int(e["line"])) for e in expected]
    assert sorted(got) == sorted(want), [f.reasons for f in report.findings]
    for entry in expected:
        finding = next(f for f in report.findings if f.line == int(entry["line"]))
        assert finding.file == path.name
        if "bytes" in entry:
            assert finding.bytes_per_iteration == int(entry["bytes"])
        if "rate" in entry:
            assert finding.iterations_per_second == pytest.approx(float(entry["rate"]))
        if "confidence" in entry:
            assert finding.confidence == Confidence(entry["confidence"])
        if "event" in entry:
            assert any(entry["event"] in reason for reason in finding.reasons), finding.reasons
        for wrapper in entry.get("wrapper", "").split(",") if "wrapper" in entry else []:
            assert wrapper in report.allocator_wrappers
        assert finding.reasons and finding.evidence


def test_start_up_leak_is_found_but_ranked_below_the_loop_leak() -> None:
    path = CORPUS / "startup_leak.c"
    report = analyze_c_sources([(path.name, path.read_bytes())])
    kinds = [f.kind for f in report.findings]
    assert kinds == [FindingKind.LOOP_LEAK, FindingKind.ONE_OFF_LEAK]
    assert "not an OOM cause" in " ".join(report.findings[1].reasons)


def test_external_handoff_is_uncertain_with_low_confidence() -> None:
    path = CORPUS / "external_handoff.c"
    report = analyze_c_sources([(path.name, path.read_bytes())])
    (finding,) = report.findings
    assert finding.kind is FindingKind.UNCERTAIN
    assert finding.confidence is Confidence.LOW
    assert "queue_submit()" in " ".join(finding.reasons)


def test_whole_corpus_at_once_ranks_loop_leaks_and_growth_first() -> None:
    report = analyze_c_sources([(p.name, p.read_bytes()) for p in CORPUS_FILES])
    kinds = [f.kind for f in report.findings]
    first_other = next(
        i
        for i, k in enumerate(kinds)
        if k not in (FindingKind.LOOP_LEAK, FindingKind.UNBOUNDED_GROWTH)
    )
    assert all(
        k not in (FindingKind.LOOP_LEAK, FindingKind.UNBOUNDED_GROWTH) for k in kinds[first_other:]
    )


def test_demo_worker_top_finding_is_the_controller_leak() -> None:
    report = analyze_c_sources([("worker.c", DEMO_WORKER.read_bytes())])
    top = report.findings[0]
    assert (top.file, top.function, top.line, top.end_line) == ("worker.c", "controller", 26, 27)
    assert top.kind is FindingKind.LOOP_LEAK
    assert top.issue == LEAK_ISSUE
    assert top.variable == "buffer"
    assert top.bytes_per_iteration == 8 * 1024 * 1024
    assert top.iterations_per_second == 4.0
    assert top.confidence is Confidence.HIGH
    assert top.loop_line == 23
    assert "unconditional allocation in while (1), no free or escape on any path" in top.reasons
    assert report.parse_problems == [] and report.skipped == []


def test_demo_with_the_fix_has_no_finding() -> None:
    fixed = DEMO_WORKER.read_text().replace(
        "process_work(buffer);\n", "process_work(buffer);\n        free(buffer);\n", 1
    )
    report = analyze_c_sources([("worker.c", fixed.encode())])
    assert report.findings == []


def test_code_that_does_not_parse_gives_partial_results_and_names_the_file() -> None:
    broken = (CORPUS / "loop_leak.c").read_text() + "\nstatic int broken( {{ ;\n"
    report = analyze_c_sources(
        [("broken.c", broken.encode()), ("worker.c", DEMO_WORKER.read_bytes())]
    )
    assert len(report.parse_problems) == 1
    assert report.parse_problems[0].startswith("broken.c: ")
    assert {(f.file, f.function) for f in report.findings} >= {
        ("worker.c", "controller"),
        ("broken.c", "serve"),
    }


def test_binary_files_are_skipped_with_a_reason_and_latin1_ones_are_read() -> None:
    """Old code bases keep Latin-1 in comments (curl's cookie.c): their code is analysed, with
    every line where it was; only binary content is skipped."""
    latin1 = (
        "#include <stdlib.h>\n"
        "/* Bj\xf6rn's caf\xe9 */\n"
        "int main(void) {\n"
        "    for (;;) {\n"
        "        char *p = malloc(64);\n"
        "        if (!p) return 1;\n"
        "    }\n"
        "}\n"
    ).encode("latin-1")
    report = analyze_c_sources(
        [
            ("blob.c", b"\x7fELF\x00\x00\x01garbage"),
            ("latin1.c", latin1),
            ("worker.c", DEMO_WORKER.read_bytes()),
        ]
    )
    assert len(report.skipped) == 1
    assert report.skipped[0].startswith("blob.c: skipped, binary")
    assert report.files_analyzed == 2
    assert report.parse_problems == []
    leaks = {(f.file, f.function, f.line) for f in report.findings}
    assert ("latin1.c", "main", 5) in leaks
    assert any(f.function == "controller" for f in report.findings)


def test_huge_generated_file_is_skipped_with_a_note() -> None:
    table = "".join(f"static const int table_{i} = {i};\n" for i in range(40000))
    generated = ("/* Automatically generated by tablegen. DO NOT EDIT. */\n" + table).encode()
    report = analyze_c_sources([("tables.c", generated)], max_file_bytes=512 * 1024)
    assert report.files_analyzed == 0
    (note,) = report.skipped
    assert note.startswith("tables.c: skipped") and "generated" in note


def test_empty_input_gives_an_empty_report() -> None:
    report = analyze_c_sources([])
    assert report.findings == [] and report.files_analyzed == 0


def test_a_call_of_a_function_declared_noreturn_ends_the_path() -> None:
    """git's ``NORETURN void die(...)`` (a macro tree-sitter cannot read before the type) and
    C11's ``_Noreturn``: the error path that ends in the call holds nothing afterwards."""
    source = b"""\
#include <stdlib.h>
#define NORETURN __attribute__((__noreturn__))
NORETURN void die(const char *why, ...);
_Noreturn void fatal(int code);
int step(const char *state);

int with_die(const char *s) {
    char *state = calloc(1, 64);
    if (step(state) < 0)
        goto fail;
    free(state);
    return 0;
fail:
    die(s);
}

int with_fatal(int code) {
    char *state = calloc(1, 64);
    if (step(state) < 0)
        fatal(code);
    free(state);
    return 0;
}

int without(int code) {
    char *state = calloc(1, 64);
    if (step(state) < 0)
        return code;
    free(state);
    return 0;
}
"""
    report = analyze_c_sources([("run.c", source)])
    assert [f.function for f in report.findings] == ["without"], report.findings


def test_braces_split_across_preprocessor_branches_mark_the_function_damaged() -> None:
    """curl's Curl_parsenetrc(): `} else {` inside `#if`/`#elif` branches; tree-sitter makes
    up the `#endif` it lacks (a MISSING token, not an ERROR node), which must still count."""
    source = b"""\
#include <stdlib.h>
#include <string.h>
char *home_dir(void) {
  char *home = getenv("X") ? strdup(getenv("X")) : NULL;
  if(home) {
    home[0] = '/';
#if defined(HAVE_A)
  }
  else {
    home = NULL;
#elif defined(HAVE_B)
  }
  else {
    home = getenv("HOME");
#endif
  }
  return home;
}
"""
    report = analyze_c_sources([("netrc.c", source)])
    assert report.parse_problems and "netrc.c" in report.parse_problems[0]
    assert ("netrc.c", "home_dir") in report.damaged


def test_the_same_ifdef_twice_in_a_function_is_one_build_choice() -> None:
    """jq's f_strftime(): `#ifdef __APPLE__` around the strdup and again around its free."""
    source = b"""\
#include <stdlib.h>
#include <string.h>
#include <time.h>
size_t format_time(char *out, size_t max, const char *fmt, struct tm *tm) {
#ifdef __APPLE__
    char *tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    setenv("TZ", "UTC", 1);
#endif
    size_t n = strftime(out, max, fmt, tm);
#ifdef __APPLE__
    if (tz) {
        setenv("TZ", tz, 1);
        free(tz);
    }
#endif
    return n;
}
"""
    report = analyze_c_sources([("builtin.c", source)])
    assert report.findings == []


def test_a_destructor_that_leaves_a_lists_link_alone_forgets_nothing() -> None:
    """jq's dtoa: ``Bfree()`` frees one ``Bigint``; ``next`` links the cached powers of five,
    which the code that walks the list releases one node at a time. A member that points to
    the struct's own type is a link, not a block the node owns; `name` still is."""
    source = b"""\
#include <stdlib.h>
#include <string.h>
typedef struct Big { struct Big *next; char *name; int k; } Big;
static Big *big_new(int k) { Big *b = calloc(1, sizeof(Big)); b->k = k; return b; }
static void big_free(Big *b) { free(b); }
static Big *chain;
Big *power(int k) {
    Big *p = big_new(k);
    p->next = big_new(k + 1);
    p->name = strdup("power");
    chain = p;
    return p;
}
void chain_free(void) {
    while (chain) {
        Big *p = chain;
        chain = p->next;
        big_free(p);
    }
}
"""
    report = analyze_c_sources([("dtoa.c", source)])
    forgotten = [f.variable for f in report.findings if f.function == "big_free"]
    assert forgotten == ["b->name"], report.findings
