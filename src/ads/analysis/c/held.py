"""What a C service holds from start-up, and which size constants a commit changed.

A service that allocates a 48 MiB cache before its loop and frees every request does not leak,
but it cannot run under a 32Mi limit: the limit-lowered and size-raised hypotheses need that
number. Held memory here is the allocations of constant size (folded by ``constants``) that run
once — outside any loop, in a function no unbounded loop drives — and that the same function
does not release. It is a lower bound ("holds ≥ 48 MiB"): sizes that do not fold, memory held
by libraries and the binary itself are not counted.

``constant_edits`` reads one commit's change of a C file: each object-like ``#define`` whose
folded value differs between the two sides (``CACHE_MB 16 → 96``), with its line in the new file.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ads.analysis.c.constants import ConstantTable
from ads.analysis.c.program import Function, Program
from ads.analysis.c.sites import allocation_bytes, variable_of
from ads.analysis.c.syntax import callee_name, line_of, parse_c, text_of, walk
from ads.analysis.scope import BuildScope
from ads.analysis.settings import added_lines
from ads.models import FileChange, SettingEdit
from ads.units import format_bytes

__all__ = ["HeldMemory", "HeldSite", "constant_edits", "held_by_program", "held_in_sources"]

#: Allocations smaller than this are bookkeeping, not a working set worth naming.
MIN_HELD_BYTES = 64 * 1024


@dataclass(frozen=True)
class HeldSite:
    file: str
    function: str
    line: int
    bytes: int
    call: str


@dataclass
class HeldMemory:
    """Bytes allocated once at start-up and kept, with the sites that allocate them."""

    sites: list[HeldSite] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(site.bytes for site in self.sites)

    def lines(self) -> list[str]:
        """Each site as a diagnosis names it: ``worker.c:14 main(): malloc(...) (48.0 MiB)``."""
        return [
            f"{s.file}:{s.line} {s.function}(): {s.call} ({format_bytes(s.bytes)})"
            for s in self.sites
        ]


def _released_in(program: Program, fn: Function, variable: str) -> bool:
    for call in fn.calls:
        name = callee_name(call)
        arguments = call.child_by_field_name("arguments")
        if name is None or arguments is None or not arguments.named_children:
            continue
        first = arguments.named_children[0]
        if text_of(first).strip() == variable and program.releases(name, 0, fn.file):
            return True
    return False


def held_by_program(program: Program, driven: Collection[str]) -> HeldMemory:
    """The start-up allocations of an analysed program (``driven``: functions loops run)."""
    held = HeldMemory()
    for fn in program.all_functions():
        if fn.name in driven or fn.name in program.wrappers:
            continue
        if not program.scope.contains(fn.file):
            continue
        for call in program.allocation_calls(fn):
            if program.enclosing_loops(call):
                continue
            size = allocation_bytes(program, call)
            if size is None or size < MIN_HELD_BYTES:
                continue
            variable = variable_of(call)
            if variable is not None and _released_in(program, fn, variable):
                continue
            call_text = " ".join(text_of(call).split())
            held.sites.append(HeldSite(fn.file, fn.name, line_of(call), size, call_text))
    return held


def held_in_sources(files: Sequence[tuple[str, bytes]], scope: BuildScope) -> HeldMemory:
    """Held memory of C sources given as (path, bytes), without the leak analysis."""
    program = Program(ConstantTable())
    program.scope = scope
    for path, data in files:
        if path.endswith((".c", ".h")):
            program.add_file(path, parse_c(data).root_node)
    program.discover_wrappers()
    return held_by_program(program, program.driving_loops())


def _define_values(text: str | None) -> tuple[dict[str, int], dict[str, int]]:
    """Each object-like ``#define``'s folded value, and the line that defines it."""
    if not text:
        return {}, {}
    table = ConstantTable()
    root = parse_c(text.encode()).root_node
    table.add_file(root)
    values: dict[str, int] = {}
    for name in list(table.define_names()):
        probe = parse_c(f"long __ads_probe = ({name});\n".encode())
        node = next(
            (n.child_by_field_name("value") for n in walk(probe.root_node)
             if n.type == "init_declarator"),
            None,
        )  # fmt: skip
        value = table.evaluate(node)
        if value is not None:
            values[name] = value
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.replace("#", " # ").split()
        if len(words) >= 3 and words[0] == "#" and words[1] == "define":
            lines.setdefault(words[2], number)
    return values, lines


def _touches_define(diff: str) -> bool:
    """Whether a unified diff adds or removes a ``#define`` line (a C-speed scan first: the
    window's other commits, hundreds on a busy repository, are not parsed twice each)."""
    if "define" not in diff:
        return False
    return any(
        line[:1] in "+-" and not line.startswith(("+++", "---")) and "define" in line
        for line in diff.splitlines()
    )


def constant_edits(change: FileChange) -> list[SettingEdit]:
    """The ``#define`` constants whose value ``change`` altered, with the new line."""
    if change.old_text is None or change.new_text is None:
        return []
    if change.diff and not _touches_define(change.diff):
        return []  # no #define line added or removed: no constant's value changed here
    old, _ = _define_values(change.old_text)
    new, lines = _define_values(change.new_text)
    new_lines = change.new_text.splitlines()
    edited = {number for number, _ in added_lines(change.diff)}
    edits = []
    for name, value in new.items():
        line = lines.get(name)
        if name in old and old[name] != value and (not edited or line in edited):
            text = new_lines[line - 1].strip() if line and line <= len(new_lines) else None
            edits.append(
                SettingEdit(
                    kind="constant",
                    file=change.path,
                    name=name,
                    from_=str(old[name]),
                    to=str(value),
                    line=line,
                    text=text,
                )
            )
    return edits
