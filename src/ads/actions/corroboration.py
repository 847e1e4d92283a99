"""Corroborate leak findings with an established analyser: ``gcc -fanalyzer``.

ADS's own analysis decides what is *in a loop* and ranks; a second, independent opinion makes a
finding more credible. gcc's analyzer works on the code as written (``while (1)`` included), but
on real code that wraps its allocator it finds nothing unless told which functions allocate, so
the repo's wrappers (found by ``ads.analysis.c.leaks``) are declared in a header passed with
``-include``, with ``__attribute__((malloc, malloc(free, 1)))``. Each candidate file is analysed
on its own with that header, then all of them together with ``-flto`` so that leaks through a
wrapper defined in another file are followed across files (gcc 12 does not report a per-iteration
leak through a declared-only wrapper, but does once it sees the wrapper's body under LTO).

Everything is bounded by one timeout; a missing or failing gcc gives notes, not errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ads.analysis.c.syntax import function_name, parse_c, text_of, walk
from ads.models import Finding, Support
from ads.sources.monitors.sandbox import sandbox_environment
from ads.sources.owner import current_owner

__all__ = [
    "CorroborationResult",
    "GccDiagnostic",
    "WrapperHeader",
    "checkable",
    "corroborate",
    "corroborate_with_gcc",
    "wrapper_header",
]

MEMORY_OPTIONS = frozenset(
    {
        "-Wanalyzer-malloc-leak",
        "-Wanalyzer-double-free",
        "-Wanalyzer-use-after-free",
        "-Wanalyzer-mismatching-deallocation",
        "-Wanalyzer-free-of-non-heap",
    }
)
_BASE_INCLUDES = (
    "#include <stddef.h>\n#include <stdlib.h>\n#include <string.h>\n#include <stdio.h>\n"
)
_MAX_LTO_FILES = 64
_MAX_LTO_BYTES = 512 * 1024  # whole-program analysis grows fast with size
_MAX_INCLUDE_DIRS = 256


@dataclass(frozen=True)
class GccDiagnostic:
    option: str
    file: str
    line: int
    message: str
    allocated_at: tuple[str, int] | None = None


@dataclass
class CorroborationResult:
    """The findings with gcc's matching diagnostics attached as evidence, and what happened."""

    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    diagnostics: list[GccDiagnostic] = field(default_factory=list)


def _declarations(source: bytes, names: set[str]) -> dict[str, str]:
    """``{"xmalloc": "void *xmalloc(size_t n)"}`` for the non-static functions of ``names``
    defined in ``source`` (a static one cannot be declared from a shared header)."""
    found: dict[str, str] = {}
    tree = parse_c(source)
    for node in walk(tree.root_node, skip=frozenset({"function_definition"})):
        if node.type != "function_definition" or (name := function_name(node)) not in names:
            continue
        if any(
            c.type == "storage_class_specifier" and text_of(c) == "static" for c in node.children
        ):
            continue
        body = node.child_by_field_name("body")
        if body is None or node.text is None or name in found:
            continue
        head = node.text[: body.start_byte - node.start_byte].decode("utf-8", errors="replace")
        found[name] = " ".join(head.split())
    return found


@dataclass
class WrapperHeader:
    text: str
    defined_in: dict[str, str]  # wrapper name -> file defining it
    notes: list[str]


def wrapper_header(repo_dir: Path, files: list[str], wrappers: list[str]) -> WrapperHeader:
    """Header declaring each (non-static) wrapper as an allocator, and notes on skipped ones."""
    declarations: dict[str, str] = {}
    defined_in: dict[str, str] = {}
    wanted = set(wrappers)
    for relative in files:
        if not wanted - set(declarations):
            break
        try:
            source = (repo_dir / relative).read_bytes()
        except OSError:
            continue
        if not any(name.encode() in source for name in wanted - set(declarations)):
            continue
        for name, declaration in _declarations(source, wanted - set(declarations)).items():
            declarations[name] = declaration
            defined_in[name] = relative
    lines = [_BASE_INCLUDES]
    missing = [name for name in wrappers if name not in declarations]
    for name in wrappers:
        if name in declarations:
            lines.append(f"{declarations[name]} __attribute__((malloc, malloc(free, 1)));\n")
    notes = []
    if missing:
        shown = ", ".join(missing[:8]) + (
            f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        )
        notes.append(f"{len(missing)} wrapper(s) not declared to gcc (static): {shown}")
    return WrapperHeader("".join(lines), defined_in, notes)


def _keep_compilable(gcc: str, header: Path, budget: _Budget) -> list[str]:
    """Drop declarations gcc cannot compile on their own (their types live in the repo's
    headers, e.g. ``robj *createObject(...)``): one bad line would fail every compilation."""
    notes: list[str] = []
    for _ in range(4):
        command = [gcc, "-fsyntax-only", "-fdiagnostics-format=json", "-x", "c", str(header)]
        stderr, code, failure = _run(command, header.parent, budget)
        if failure or code == 0:
            return notes + ([failure] if failure else [])
        bad = set()
        for item in _json_arrays(stderr):
            diagnostic = _parse(item, header.parent)
            if item.get("kind") == "error" and diagnostic is not None:
                bad.add(diagnostic.line)
        lines = header.read_text().splitlines(keepends=True)
        dropped = [line for number, line in enumerate(lines, 1) if number in bad]
        if not dropped or any(line.startswith("#include") for line in dropped):
            return [*notes, "the wrapper declarations do not compile; gcc runs without them"]
        header.write_text("".join(x for n, x in enumerate(lines, 1) if n not in bad))
        notes.append(f"{len(dropped)} wrapper declaration(s) left out (they use the repo's types)")
    return notes


def _json_arrays(text: str) -> list[dict[str, object]]:
    """Every diagnostic object in gcc's stderr (one JSON array per compilation stage)."""
    decoder = json.JSONDecoder()
    found: list[dict[str, object]] = []
    index = text.find("[")
    while index != -1:
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            index = text.find("[", index + 1)
            continue
        if isinstance(value, list):
            found.extend(v for v in value if isinstance(v, dict))
        index = text.find("[", end)
    return found


def _relative(file: str, repo_dir: Path) -> str:
    path = Path(file)
    if path.is_absolute():
        try:
            return str(path.resolve().relative_to(repo_dir.resolve()))
        except ValueError:
            return file
    return str(Path(file))


def _parse(raw: dict[str, object], repo_dir: Path) -> GccDiagnostic | None:
    locations = raw.get("locations")
    if not isinstance(locations, list) or not locations:
        return None
    caret = locations[0].get("caret", {}) if isinstance(locations[0], dict) else {}
    if not isinstance(caret, dict) or "line" not in caret:
        return None
    allocated_at = None
    path = raw.get("path")
    for event in path if isinstance(path, list) else []:
        if not isinstance(event, dict):
            continue
        where = event.get("location", {})
        if "allocated here" in str(event.get("description", "")) and isinstance(where, dict):
            allocated_at = (_relative(str(where.get("file")), repo_dir), int(where.get("line", 0)))
    return GccDiagnostic(
        option=str(raw.get("option", "")),
        file=_relative(str(caret.get("file")), repo_dir),
        line=int(caret["line"]),
        message=str(raw.get("message", "")),
        allocated_at=allocated_at,
    )


@dataclass
class _Budget:
    """The configured time for all of gcc's runs; notes state this bound, never a remainder
    (which reads "-0 s" on a loaded machine)."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def spent_note(self) -> str:
        return f"gcc -fanalyzer stopped at the {self.seconds:g} s budget"


def _error_text(error: dict[str, object], repo_dir: Path) -> str:
    """gcc's first error, quoted only when it is about a file of the repository. A hostile
    commit can ``#include "/proc/self/environ"`` or a key file: gcc's error would quote its
    bytes, and this note is posted on the incident."""
    message = str(error.get("message", "")).splitlines()[0] if error.get("message") else ""
    locations = error.get("locations")
    caret = locations[0].get("caret", {}) if isinstance(locations, list) and locations else {}
    where = str(caret.get("file", "")) if isinstance(caret, dict) else ""
    if where and not _within(repo_dir / where, repo_dir):  # an absolute path stays itself
        return "an error in a file outside the repository (not quoted)"
    return message


def _within(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, ValueError):
        return False


def _run(command: list[str], cwd: Path, budget: _Budget) -> tuple[str, int, str | None]:
    """(stderr, return code, failure note) of one gcc run within what is left of ``budget``.

    gcc reads the repository's code, so it gets the sandbox's allow-listed environment, never
    ADS's (a ``#include "/proc/self/environ"`` would otherwise read the tokens)."""
    remaining = budget.remaining()
    if remaining <= 0:
        return "", -1, budget.spent_note()
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=remaining,
            check=False,
            env=sandbox_environment(None),
        )
    except subprocess.TimeoutExpired:
        return "", -1, f"{budget.spent_note()} (running {' '.join(command[-3:])})"
    except OSError as error:
        return "", -1, f"gcc could not be started: {error}"
    return done.stderr, done.returncode, None


def _matches(diagnostic: GccDiagnostic, finding: Finding) -> bool:
    if diagnostic.allocated_at == (finding.file, finding.line):
        return True
    return diagnostic.file == finding.file and diagnostic.line in (finding.line, finding.end_line)


def corroborate_with_gcc(
    repo_dir: Path,
    findings: list[Finding],
    files: list[str],
    wrappers: list[str],
    timeout: float = 60.0,
) -> CorroborationResult:
    """Run ``gcc -fanalyzer`` on ``files`` (paths relative to ``repo_dir``) and attach matching
    memory diagnostics to copies of ``findings`` as evidence."""
    budget = _Budget(timeout)
    result = CorroborationResult([f.model_copy(deep=True) for f in findings])
    gcc = shutil.which("gcc")
    if gcc is None:
        result.notes.append("gcc is not installed; findings are not corroborated")
        return result
    given = [f for f in files if f.endswith(".c") and (repo_dir / f).is_file()]
    if not findings:
        result.notes.append("no findings to corroborate")
        return result
    holding = [f.file for f in findings if f.file in given]
    sources = list(dict.fromkeys(holding))  # files holding candidates, best-ranked first
    if not sources:
        result.notes.append("no C source files to give gcc -fanalyzer")
        return result
    with tempfile.TemporaryDirectory(prefix=f"ads-gcc-{current_owner().tag}-") as scratch:
        declared = wrapper_header(repo_dir, files, wrappers)
        result.notes.extend(declared.notes)
        header = Path(scratch) / "ads_allocators.h"
        header.write_text(declared.text)
        result.notes.extend(_keep_compilable(gcc, header, budget))
        linked = list(dict.fromkeys([*sources, *declared.defined_in.values()]))
        # The repo's header directories stand in for its build system's -I flags.
        # -idirafter: searched last, so they fill in missing headers without shadowing others.
        include_dirs = sorted(
            {str(p) for f in files if f.endswith(".h") for p in Path(f).parents if str(p) != "."}
        )
        base = [gcc, "-fanalyzer", "-fdiagnostics-format=json", f"-I{repo_dir}"]
        for directory in include_dirs[:_MAX_INCLUDE_DIRS]:
            base += ["-idirafter", directory]
        base += ["-Wanalyzer-malloc-leak", "-Wanalyzer-double-free"]
        runs = [[*base, "-include", str(header), "-c", src, "-o", "/dev/null"] for src in sources]
        linked_bytes = sum((repo_dir / f).stat().st_size for f in linked)
        if 1 < len(linked) <= _MAX_LTO_FILES and linked_bytes <= _MAX_LTO_BYTES:
            runs.append([*base, "-flto", "-shared", "-fPIC", *linked, "-o", f"{scratch}/a.so"])
        raw: list[dict[str, object]] = []
        checked: set[str] = set()
        for command in runs:
            stderr, code, failure = _run(command, repo_dir, budget)
            if failure:
                if failure not in result.notes:
                    result.notes.append(failure)
                if budget.remaining() <= 0:
                    unchecked = [f"{f.file}:{f.line}" for f in findings if f.file not in checked]
                    if unchecked:  # say what the budget left out; it lowers no confidence
                        result.notes.append(
                            "not checked by gcc -fanalyzer (budget spent): " + ", ".join(unchecked)
                        )
                    break
                continue
            checked.update(part for part in command if part in sources)
            found = _json_arrays(stderr)
            errors = [d for d in found if d.get("kind") in ("error", "fatal error")]
            if code != 0 and errors:
                result.notes.append(
                    f"gcc could not compile {command[-3]}: {_error_text(errors[0], repo_dir)}"
                )
            raw.extend(found)
    seen = set()
    for item in raw:
        diagnostic = _parse(item, repo_dir)
        if diagnostic is None or diagnostic.option not in MEMORY_OPTIONS or diagnostic in seen:
            continue
        seen.add(diagnostic)
        result.diagnostics.append(diagnostic)
    for finding in result.findings:
        for diagnostic in result.diagnostics:
            if not _matches(diagnostic, finding):
                continue
            where = f"{diagnostic.file}:{diagnostic.line}"
            line = f"corroborated by gcc -fanalyzer: {diagnostic.option} at {where}"
            if line not in finding.evidence:
                finding.evidence.append(line)
            if Support.ANALYSER not in finding.support:
                finding.support.append(Support.ANALYSER)
    result.seconds = round(time.monotonic() - budget.started, 3)
    return result


#: file types an established analyser reads (gcc -fanalyzer: C); other languages have none yet
CORROBORATED_SUFFIXES = (".c", ".h")


def checkable(findings: list[Finding]) -> list[Finding]:
    """The findings in a language an established analyser here reads (C: gcc -fanalyzer)."""
    return [f for f in findings if f.file.endswith(CORROBORATED_SUFFIXES)]


def corroborate(
    repo_dir: Path,
    findings: list[Finding],
    files: list[str],
    wrappers: list[str],
    timeout: float = 60.0,
) -> CorroborationResult | None:
    """The findings an established analyser can check, checked by it; None when no finding is
    in a language that has one (a Python service's findings are not given to gcc)."""
    checked = checkable(findings)
    if not checked:
        return None
    return corroborate_with_gcc(repo_dir, checked, files, wrappers, timeout=timeout)
