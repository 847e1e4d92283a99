"""Leak-relevant edits one commit made to one C file, read with tree-sitter-c.

A changed line is mapped to the function that encloses it and to the calls that start on it in
the version of the file where the line exists (the old file for removed lines, the new one for
added lines). A removed ``free`` only counts when the function really has fewer frees of that
variable afterwards, so moving a ``free`` is not mistaken for removing it; an allocation counts as
added only when the function has more calls of that allocator than before (otherwise it was
changed, e.g. its size). Never patterns over C text: only syntax trees.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter_c
from tree_sitter import Language, Node, Parser

from ..models import CodeEdit, CodeEditKind, FileChange

__all__ = ["DEFAULT_ALLOCATORS", "DEFAULT_DEALLOCATORS", "FileEdits", "c_file_edits"]

DEFAULT_ALLOCATORS = frozenset(
    {
        "malloc",
        "calloc",
        "realloc",
        "reallocarray",
        "strdup",
        "strndup",
        "asprintf",
        "vasprintf",
        "aligned_alloc",
        "posix_memalign",
    }
)
DEFAULT_DEALLOCATORS = frozenset({"free"})
_LOOPS = {"for_statement", "while_statement", "do_statement"}
_LOOP_HEADER_FIELDS = ("initializer", "condition", "update")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_MAX_CALL_TEXT = 60
# Nodes that hold function definitions at file level (C has no nested functions).
_TOP_LEVEL_CONTAINERS = {
    "translation_unit",
    "preproc_if",
    "preproc_ifdef",
    "preproc_else",
    "preproc_elif",
    "preproc_elifdef",
    "linkage_specification",
    "declaration_list",
}


# --- C syntax: which calls and loops start on which line, in which function -----------------


@dataclass(frozen=True)
class _Call:
    name: str
    text: str
    line: int
    function: str | None
    argument: str | None
    assigned_to: str | None


@dataclass
class _Outline:
    """The calls and loop headers inside some functions of one C file."""

    calls: list[_Call] = field(default_factory=list)
    loop_lines: dict[int, str | None] = field(default_factory=dict)  # header line → function


@dataclass(frozen=True)
class _Parsed:
    """A parsed C file: its function definitions (name, first and last line, node)."""

    parse_error: bool
    functions: tuple[tuple[str, int, int, Node], ...]

    def names_at(self, lines: set[int]) -> list[str]:
        """Names of the functions that enclose any of ``lines``, in file order."""
        ordered = sorted(lines)
        names = []
        for name, first, last, _ in self.functions:
            i = bisect_left(ordered, first)
            if i < len(ordered) and ordered[i] <= last:
                names.append(name)
        return names


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(Language(tree_sitter_c.language()))


def _text(node: Node | None) -> str:
    return " ".join((node.text or b"").decode("utf-8", "replace").split()) if node else ""


def _function_name(definition: Node) -> str | None:
    """The identifier inside a function definition's declarator (through ``*`` and parens)."""
    node = definition.child_by_field_name("declarator")
    while node is not None and node.type != "identifier":
        node = node.child_by_field_name("declarator")
    return _text(node) or None


def _assigned_to(call: Node) -> str | None:
    """``buffer`` in ``char *buffer = malloc(...)`` or ``buffer = malloc(...)``."""
    parent = call.parent
    while parent is not None and parent.type in ("cast_expression", "parenthesized_expression"):
        parent = parent.parent
    if parent is None:
        return None
    if parent.type == "init_declarator":
        return _function_name(parent)
    if parent.type == "assignment_expression":
        return _text(parent.child_by_field_name("left")) or None
    return None


def _call(node: Node, function: str | None) -> _Call | None:
    callee = node.child_by_field_name("function")
    if callee is None or callee.type != "identifier":
        return None
    arguments = node.child_by_field_name("arguments")
    first = arguments.named_children[0] if arguments and arguments.named_children else None
    return _Call(
        name=_text(callee),
        text=_text(node),
        line=node.start_point[0] + 1,
        function=function,
        argument=_text(first) or None,
        assigned_to=_assigned_to(node),
    )


def _loop_header_lines(loop: Node) -> set[int]:
    rows = {loop.start_point[0]}
    for name in _LOOP_HEADER_FIELDS:
        part = loop.child_by_field_name(name)
        if part is not None:
            rows.update(range(part.start_point[0], part.end_point[0] + 1))
    return {row + 1 for row in rows}


@lru_cache(maxsize=32)
def _parse(text: str) -> _Parsed:
    """Parse once per file version: consecutive commits share the text between them."""
    tree = _parser().parse(text.encode("utf-8", "replace"))
    functions = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            name = _function_name(node)
            if name:
                functions.append((name, node.start_point[0] + 1, node.end_point[0] + 1, node))
        elif node.type in _TOP_LEVEL_CONTAINERS:
            stack.extend(reversed(node.children))
    return _Parsed(tree.root_node.has_error, tuple(functions))


def _outline(parsed: _Parsed, names: set[str]) -> _Outline:
    """Every call and loop header line in the functions called ``names``.

    Only the functions a commit touched are walked: they are all that attribution compares, and
    walking whole files in Python would dominate the time for a long window.
    """
    outline = _Outline()
    stack = [(node, name) for name, _, _, node in parsed.functions if name in names]
    while stack:
        node, function = stack.pop()
        if node.type == "call_expression":
            call = _call(node, function)
            if call is not None:
                outline.calls.append(call)
        elif node.type in _LOOPS:
            outline.loop_lines.update(dict.fromkeys(_loop_header_lines(node), function))
        stack.extend((child, function) for child in node.children)
    return outline


# --- unified diffs ---------------------------------------------------------------------------


def _changed_lines(diff: str) -> tuple[set[int], set[int]]:
    """Old line numbers removed and new line numbers added by a unified diff."""
    removed: set[int] = set()
    added: set[int] = set()
    old = new = 0
    in_hunk = False
    for line in diff.split("\n"):
        match = _HUNK.match(line)
        if match:
            old, new, in_hunk = int(match.group(1)), int(match.group(3)), True
        elif not in_hunk or line.startswith("\\"):
            continue
        elif line.startswith("-"):
            removed.add(old)
            old += 1
        elif line.startswith("+"):
            added.add(new)
            new += 1
        elif line.startswith(" ") or line == "":
            old, new = old + 1, new + 1
        else:
            in_hunk = False  # the next file's header
    return removed, added


def _all_lines(text: str | None) -> set[int]:
    return set(range(1, text.count("\n") + 2)) if text else set()


def _where(function: str | None, path: str) -> str:
    return f"in {function}() ({path})" if function else f"at file scope ({path})"


def _short_call(call: _Call) -> str:
    return call.text if len(call.text) <= _MAX_CALL_TEXT else f"{call.name}(...)"


@dataclass
class FileEdits:
    """What one file's change did: notes for people, edits for attribution, functions touched."""

    path: str
    notes: list[str] = field(default_factory=list)
    edits: list[CodeEdit] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)

    def add(self, kind: CodeEditKind, call: _Call, variable: str | None, note: str) -> None:
        edit = CodeEdit(
            kind=kind,
            file=self.path,
            function=call.function,
            call=call.text,
            variable=variable,
            line=call.line,
        )
        self.edits.append(edit)
        self.notes.append(note)


def c_file_edits(
    change: FileChange, allocators: frozenset[str], deallocators: frozenset[str]
) -> FileEdits:
    """The leak-relevant edits one commit made to one C file."""
    result = FileEdits(change.path)
    removed, added = _changed_lines(change.diff)
    if not change.diff and change.status in ("A", "D"):
        removed, added = _all_lines(change.old_text), _all_lines(change.new_text)
    old_parsed = _parse(change.old_text) if change.old_text else _Parsed(False, ())
    new_parsed = _parse(change.new_text) if change.new_text else _Parsed(False, ())
    if old_parsed.parse_error or new_parsed.parse_error:
        result.notes.append(f"{change.path} does not fully parse; edits read from what parsed")
    touched = dict.fromkeys([*new_parsed.names_at(added), *old_parsed.names_at(removed)])
    result.functions = [f"{change.path}:{name}" for name in touched]
    old, new = _outline(old_parsed, set(touched)), _outline(new_parsed, set(touched))

    def frees(outline: _Outline) -> Counter[tuple[str | None, str | None]]:
        return Counter((c.function, c.argument) for c in outline.calls if c.name in deallocators)

    def allocs(outline: _Outline) -> Counter[tuple[str | None, str]]:
        return Counter((c.function, c.name) for c in outline.calls if c.name in allocators)

    old_frees, new_frees = frees(old), frees(new)
    for call in (c for c in old.calls if c.line in removed and c.name in deallocators):
        key = (call.function, call.argument)
        if new_frees[key] < old_frees[key]:
            new_frees[key] += 1  # one note per free actually lost
            note = f"removed {_short_call(call)} {_where(call.function, change.path)}"
            result.add(CodeEditKind.REMOVED_FREE, call, call.argument, note)
    old_frees, new_frees = frees(old), frees(new)
    old_allocs, new_allocs = allocs(old), allocs(new)
    for call in (c for c in new.calls if c.line in added):
        where = _where(call.function, change.path)
        if (
            call.name in deallocators
            and new_frees[(call.function, call.argument)]
            > old_frees[(call.function, call.argument)]
        ):
            old_frees[(call.function, call.argument)] += 1
            note = f"added {_short_call(call)} {where}"
            result.add(CodeEditKind.ADDED_FREE, call, call.argument, note)
        elif call.name in allocators:
            key = (call.function, call.name)
            grew = new_allocs[key] > old_allocs[key]
            old_allocs[key] += grew
            kind = CodeEditKind.ADDED_ALLOCATION if grew else CodeEditKind.CHANGED_ALLOCATION
            verb = "added" if grew else "changed"
            note = f"{verb} allocation {_short_call(call)} {where}"
            result.add(kind, call, call.assigned_to, note)
    _loop_edits(result, old, removed, new, added)
    return result


def _loop_edits(
    result: FileEdits, old: _Outline, removed: set[int], new: _Outline, added: set[int]
) -> None:
    """One "changed a loop" note per function whose loop header lines were edited."""
    touched: dict[str | None, int] = {}
    for outline, lines in ((new, added), (old, removed)):
        for line, function in outline.loop_lines.items():
            if line in lines:
                touched.setdefault(function, line)
    for function, line in touched.items():
        loop = _Call("loop", "loop header", line, function, None, None)
        note = f"changed a loop {_where(function, result.path)}"
        result.add(CodeEditKind.CHANGED_LOOP, loop, None, note)
