"""propose_fix: the smallest free() placement, checked as a user would — the diff applies with
``git apply --check`` and the patched file compiles with the real gcc."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from ads.analysis.c.fixes import propose_fix
from ads.errors import AnalysisError
from ads.models import Finding, FindingKind
from tests.fixtures.demo import DEMO_FINDING

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def finding(
    line: int,
    *,
    function: str = "loop",
    variable: str | None = "buf",
    kind: FindingKind = FindingKind.LOOP_LEAK,
    end_line: int | None = None,
) -> Finding:
    return Finding(
        file="leak.c",
        function=function,
        line=line,
        end_line=end_line or line,
        kind=kind,
        variable=variable,
        issue="memory allocation without corresponding free",
        allocation="malloc(64)",
    )


def c(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def compiles(source: str, tmp_path: Path) -> None:
    """The patched file still compiles (and warns about nothing new) with gcc."""
    path = tmp_path / "patched.c"
    path.write_text(source)
    proc = subprocess.run(
        ["gcc", "-fsyntax-only", "-Wall", "-Werror", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def git_apply_check(repo: Path, diff: str) -> None:
    proc = subprocess.run(
        ["git", "apply", "--check", "-"], cwd=repo, input=diff, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@needs_gcc
def test_demo_fix_is_free_after_process_work_on_line_28(demo_repo: Path, tmp_path: Path) -> None:
    source = (demo_repo / "worker.c").read_text()
    fix = propose_fix("worker.c", source, DEMO_FINDING)

    assert fix.summary == "Added free(buffer) to prevent memory leak"
    assert fix.diff is not None and fix.patched_source is not None
    assert fix.diff.startswith("--- a/worker.c\n+++ b/worker.c\n")
    added = [line for line in fix.diff.splitlines() if line.startswith("+") and "+++" not in line]
    removed = [line for line in fix.diff.splitlines() if line.startswith("-") and "---" not in line]
    assert added == ["+        free(buffer);"]
    assert removed == []
    lines = fix.patched_source.splitlines()
    assert lines[26] == "        process_work(buffer);"  # line 27
    assert lines[27] == "        free(buffer);"  # line 28
    assert fix.inserted_lines == (28,)
    git_apply_check(demo_repo, fix.diff)
    compiles(fix.patched_source, tmp_path)


@needs_gcc
def test_free_goes_after_the_last_use_even_when_it_spans_lines(tmp_path: Path) -> None:
    source = c(
        """
        #include <stdio.h>
        #include <stdlib.h>
        void loop(void) {
            for (;;) {
                char *buf = malloc(64);
                buf[0] = 'a';
                printf("%c %s\\n",
                       buf[0], "x");
                puts("tick");
            }
        }
        """
    )
    fix = propose_fix("leak.c", source, finding(5))
    assert fix.patched_source is not None
    lines = fix.patched_source.splitlines()
    assert lines[7] == '               buf[0], "x");'
    assert lines[8] == "        free(buf);"
    assert lines[9] == '        puts("tick");'
    compiles(fix.patched_source, tmp_path)


@needs_gcc
def test_tab_indented_file_gets_a_tab_indented_free(tmp_path: Path) -> None:
    source = (
        "#include <stdlib.h>\n"
        "void use(char *p);\n"
        "void loop(void) {\n"
        "\twhile (1) {\n"
        "\t\tchar *buf = malloc(64);\n"
        "\t\tuse(buf);\n"
        "\t}\n"
        "}\n"
    )
    fix = propose_fix("leak.c", source, finding(5))
    assert fix.patched_source is not None
    assert "\t\tuse(buf);\n\t\tfree(buf);\n\t}\n" in fix.patched_source
    compiles(fix.patched_source, tmp_path)


@needs_gcc
def test_leak_only_on_an_early_continue_gets_the_free_on_that_path(tmp_path: Path) -> None:
    source = c(
        """
        #include <stdlib.h>
        int next(char *p);
        void use(char *p);
        void loop(void) {
            while (1) {
                char *buf = malloc(64);
                if (next(buf) < 0) continue;
                use(buf);
                free(buf);
            }
        }
        """
    )
    fix = propose_fix("leak.c", source, finding(6))
    assert fix.patched_source is not None and fix.diff is not None
    assert (
        fix.summary == "Added free(buf) before the early continue (line 7) to prevent memory leak"
    )
    assert (
        "        if (next(buf) < 0) {\n"
        "            free(buf);\n"
        "            continue;\n"
        "        }\n"
        "        use(buf);\n"
        "        free(buf);\n"
    ) in fix.patched_source
    assert fix.patched_source.count("free(buf);") == 2
    compiles(fix.patched_source, tmp_path)


@needs_gcc
def test_early_return_in_braces_and_main_path_both_get_a_free(tmp_path: Path) -> None:
    source = c(
        """
        #include <stdlib.h>
        int next(char *p);
        int loop(void) {
            while (1) {
                char *buf = malloc(64);
                if (buf == NULL) {
                    return -1;
                }
                if (next(buf) == 0) {
                    return 0;
                }
                next(buf);
            }
        }
        """
    )
    fix = propose_fix("leak.c", source, finding(5))
    assert fix.patched_source is not None
    assert "            return -1;" in fix.patched_source  # nothing to free when NULL
    assert "        if (next(buf) == 0) {\n            free(buf);\n            return 0;\n" in (
        fix.patched_source
    )
    assert "        next(buf);\n        free(buf);\n    }\n" in fix.patched_source
    assert fix.inserted_lines == (10, 14)
    assert "also before the early return (line 10)" in fix.summary
    compiles(fix.patched_source, tmp_path)


@needs_gcc
def test_break_of_an_inner_loop_does_not_leave_the_block(tmp_path: Path) -> None:
    source = c(
        """
        #include <stdlib.h>
        void use(char *p);
        void loop(void) {
            while (1) {
                char *buf = malloc(64);
                for (int i = 0; i < 4; i++) {
                    if (i == 2) break;
                    use(buf);
                }
            }
        }
        """
    )
    fix = propose_fix("leak.c", source, finding(5))
    assert fix.patched_source is not None
    assert fix.patched_source.count("free(buf);") == 1
    assert "        }\n        free(buf);\n    }\n" in fix.patched_source
    compiles(fix.patched_source, tmp_path)


@needs_gcc
def test_one_off_leak_on_an_error_return_is_freed_there_and_returned_pointer_kept(
    tmp_path: Path,
) -> None:
    source = c(
        """
        #include <stdlib.h>
        #include <unistd.h>
        char *load(int fd) {
            char *buf = malloc(64);
            if (read(fd, buf, 64) < 0)
                return NULL;
            return buf;
        }
        """
    )
    fix = propose_fix("leak.c", source, finding(4, function="load", kind=FindingKind.ONE_OFF_LEAK))
    assert fix.patched_source is not None
    assert "        { free(buf); return NULL; }\n    return buf;\n" in fix.patched_source
    assert fix.patched_source.count("free(buf)") == 1
    compiles(fix.patched_source, tmp_path)


def test_unbounded_growth_gets_a_precise_suggestion_and_no_patch() -> None:
    growth = Finding(
        file="cache.c",
        function="remember",
        line=12,
        end_line=14,
        kind=FindingKind.UNBOUNDED_GROWTH,
        variable="entries",
        issue="array grown by realloc on every request",
        allocation="realloc(entries, (count + 1) * sizeof *entries)",
    )
    fix = propose_fix("cache.c", "int x;\n", growth)
    assert fix.diff is None and not fix.has_patch
    assert fix.suggestion is not None
    assert "entries in remember() (cache.c:12-14)" in fix.suggestion
    assert "realloc(entries, (count + 1) * sizeof *entries)" in fix.suggestion


def test_pointer_used_outside_its_block_is_only_suggested() -> None:
    source = c(
        """
        #include <stdlib.h>
        void use(char *p);
        void loop(void) {
            char *buf = NULL;
            while (1) {
                if (buf) use(buf);
                buf = malloc(64);
                use(buf);
            }
        }
        """
    )
    fix = propose_fix("leak.c", source, finding(7))
    assert fix.diff is None
    assert fix.suggestion is not None and "follow its allocation (line 6)" in fix.suggestion


def test_already_freed_everywhere_gives_no_patch() -> None:
    source = c(
        """
        #include <stdlib.h>
        void use(char *p);
        void loop(void) {
            while (1) {
                char *buf = malloc(64);
                use(buf);
                free(buf);
            }
        }
        """
    )
    fix = propose_fix("leak.c", source, finding(5))
    assert fix.diff is None
    assert fix.suggestion is not None and "already frees it" in fix.suggestion


def test_finding_for_another_revision_is_a_clear_error() -> None:
    source = "void other(void) {}\n"
    with pytest.raises(AnalysisError, match=r"leak.c: no function loop\(\)"):
        propose_fix("leak.c", source, finding(1))
    source = c(
        """
        #include <stdlib.h>
        void loop(void) {
            int x = 1;
        }
        """
    )
    with pytest.raises(AnalysisError, match=r"leak\.c:3: no allocation assigned to 'buf' in loop"):
        propose_fix("leak.c", source, finding(3))


def test_file_without_final_newline_still_gives_an_applicable_diff(tmp_path: Path) -> None:
    source = "#include <stdlib.h>\nvoid use(char *p);\nvoid loop(void) {\n    while (1) {\n" + (
        "        char *buf = malloc(64);\n        use(buf);\n    }\n}"
    )
    fix = propose_fix("leak.c", source, finding(5))
    assert fix.diff is not None and fix.patched_source is not None
    assert fix.diff.endswith("\n\\ No newline at end of file\n")
    repo = tmp_path / "r"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "leak.c").write_text(source)
    git_apply_check(repo, fix.diff)
