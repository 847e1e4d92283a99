"""LeakSanitizer snapshots from an unmodified, forever-looping binary (real gcc, real liblsan)."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from ads.actions.lsan import LeakSnapshots, find_liblsan, parse_report, shim_library
from ads.models import Finding, FindingKind

LEAKER = textwrap.dedent(
    """\
    #include <stdlib.h>
    #include <string.h>
    #include <unistd.h>

    static char *keep_nothing(size_t n) {
        char *p = malloc(n);
        memset(p, 1, n);
        return p;
    }

    int main(void) {
        keep_nothing(256 * 1024);            /* line 12: one-off leak, bigger but flat */
        for (;;) {
            char *chunk = malloc(4096);      /* line 14: grows every iteration */
            memset(chunk, 2, 4096);
            chunk = NULL;
            usleep(2000);
        }
    }
    """
)

needs_lsan = pytest.mark.skipif(find_liblsan() is None, reason="gcc has no liblsan.so.0 here")


def wait_for_done(directory: Path, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(list(directory.glob("*.done"))) < count and time.monotonic() < deadline:
        time.sleep(0.02)


@needs_lsan
def test_the_growing_site_is_named_and_the_one_off_leak_is_not(tmp_path: Path) -> None:
    (tmp_path / "leaker.c").write_text(LEAKER)
    subprocess.run(["gcc", "-O0", "-g", "-o", "leaker", "leaker.c"], cwd=tmp_path, check=True)
    snapshots = LeakSnapshots(strip_prefixes=(str(tmp_path),))
    assert snapshots.available, snapshots.unavailable
    proc = subprocess.Popen(["/bin/sh", "-c", snapshots.wrap("exec ./leaker")], cwd=tmp_path)
    try:
        snapshots.started(0, proc.pid)
        time.sleep(0.3)
        assert snapshots.snapshot() == 1
        wait_for_done(snapshots.directory, 1)
        time.sleep(0.3)
        assert snapshots.snapshot() == 1
        wait_for_done(snapshots.directory, 2)
    finally:
        proc.kill()
        proc.wait()

    reports = snapshots.reports()
    assert list(reports) == [proc.pid] and len(reports[proc.pid]) == 2
    first = parse_report(reports[proc.pid][0], (str(tmp_path),))
    sites = {str(site): size for site, size in first.items()}
    assert sites["leaker.c:6 in keep_nothing"] == 256 * 1024  # the one-off, seen but flat

    grown = snapshots.growing_site()
    assert grown is not None
    site, size, count = grown
    assert str(site) == "leaker.c:14 in main"
    assert size >= 4096 * 10 and size % 4096 == 0
    assert count == 2
    finding = Finding(
        file="leaker.c",
        function="main",
        line=14,
        end_line=15,
        kind=FindingKind.LOOP_LEAK,
        issue="memory allocation without corresponding free",
        allocation="malloc(4096)",
    )
    assert site.matches(finding)
    assert not site.matches(finding.model_copy(update={"line": 6, "end_line": 6}))
    snapshots.cleanup()
    assert not snapshots.directory.exists()


@needs_lsan
def test_shim_is_compiled_once_into_the_cache(tmp_path: Path) -> None:
    first = shim_library(tmp_path)
    mtime = first.stat().st_mtime_ns
    second = shim_library(tmp_path)
    assert first == second and second.stat().st_mtime_ns == mtime
    assert first.parent == tmp_path and first.suffix == ".so"
    symbols = subprocess.run(["nm", "-D", str(first)], capture_output=True, text=True).stdout
    assert "__lsan_do_recoverable_leak_check" in symbols  # resolved from liblsan at run time


def test_report_parsing_skips_allocator_frames_and_strips_the_worktree() -> None:
    report = textwrap.dedent(
        """\
        =================================================================
        ==4842==ERROR: LeakSanitizer: detected memory leaks

        Direct leak of 16777216 byte(s) in 2 object(s) allocated from:
            #0 0x7f0dc0c13545 in __interceptor_malloc ../../../../src/libsanitizer/lsan/lsan_interceptors.cpp:75
            #1 0x55ce2c9f91b7 in controller /tmp/wt/svc/worker.c:26
            #2 0x55ce2c9f92e7 in main /tmp/wt/svc/worker.c:53

        Indirect leak of 64 byte(s) in 1 object(s) allocated from:
            #0 0x7f0dc0c13545 in __interceptor_malloc ../../../../src/libsanitizer/lsan/lsan_interceptors.cpp:75
            #1 0x55ce2c9f91b7 in helper /tmp/wt/svc/worker.c:80

        SUMMARY: LeakSanitizer: 16777280 byte(s) leaked in 3 allocation(s).
        """  # noqa: E501
    )
    sites = parse_report(report, ("/tmp/wt/svc",))
    assert {str(site): size for site, size in sites.items()} == {
        "worker.c:26 in controller": 16777216
    }
