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

from tree_sitter import Node

from ...models import CodeEdit, CodeEditKind, FileChange
from ..languages import FileEdits
from .sites import variable_of
from .syntax import find_all, parse_c
from .vocabulary import Vocabulary

__all__ = ["c_file_edits"]

_LOOPS = {"for_statement", "while_statement", "do_statement"}
_LOOP_HEADER_FIELDS = ("initializer", "condition", "update")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_MAX_CALL_TEXT = 60


# --- C syntax: which calls and loops start on which line, in which function -----------------


@dataclass(frozen=True)
class _Call:
    name: str
    text: str
    line: int
    function: str | None
    argument: str | None
    assigned_to: str | None
    arguments: tuple[str, ...] = ()
    in_loop: bool = False


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


#: a variable or a member reached from one (``sb``, ``conf->settings.interface``): what
#: ``release(&…)`` can name as the place it empties
_LVALUE_PATH = re.compile(r"[A-Za-z_]\w*(?:\s*(?:->|\.)\s*[A-Za-z_]\w*)*")


def _text(node: Node | None) -> str:
    return " ".join((node.text or b"").decode("utf-8", "replace").split()) if node else ""


def _normalised(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None


def _function_name(definition: Node) -> str | None:
    """The identifier inside a function definition's declarator (through ``*`` and parens)."""
    node = definition.child_by_field_name("declarator")
    while node is not None and node.type != "identifier":
        node = node.child_by_field_name("declarator")
    return _text(node) or None


def _call(node: Node, function: str | None, in_loop: bool) -> _Call | None:
    callee = node.child_by_field_name("function")
    if callee is None or callee.type != "identifier":
        return None
    arguments = node.child_by_field_name("arguments")
    passed = tuple(_text(a) for a in (arguments.named_children if arguments else []))
    return _Call(
        name=_text(callee),
        text=_text(node),
        line=node.start_point[0] + 1,
        function=function,
        argument=passed[0] if passed and passed[0] else None,
        assigned_to=_normalised(variable_of(node)),
        arguments=passed,
        in_loop=in_loop,
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
    tree = parse_c(text.encode("utf-8", "replace"))
    functions = []
    # every definition, also those a parse error earlier in the file wrapped in an ERROR node
    # (as the program reader finds them), outermost only
    last_end = -1
    for node in find_all(tree.root_node, "function_definition"):
        if node.start_byte < last_end:
            continue
        last_end = node.end_byte
        name = _function_name(node)
        if name:
            functions.append((name, node.start_point[0] + 1, node.end_point[0] + 1, node))
    return _Parsed(tree.root_node.has_error, tuple(functions))


def _outline(parsed: _Parsed, names: set[str]) -> _Outline:
    """Every call and loop header line in the functions called ``names``.

    Only the functions a commit touched are walked: they are all that attribution compares, and
    walking whole files in Python would dominate the time for a long window.
    """
    outline = _Outline()
    stack = [(node, name, False) for name, _, _, node in parsed.functions if name in names]
    while stack:
        node, function, in_loop = stack.pop()
        if node.type == "call_expression":
            call = _call(node, function, in_loop)
            if call is not None:
                outline.calls.append(call)
        elif node.type in _LOOPS:
            outline.loop_lines.update(dict.fromkeys(_loop_header_lines(node), function))
            body = node.child_by_field_name("body")
            stack.extend((c, function, in_loop or c == body) for c in node.children)
            continue
        stack.extend((child, function, in_loop) for child in node.children)
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


def _new_line_of(diff: str, old_line: int) -> int:
    """Where old line ``old_line`` is (or was, if removed) in the new file's numbering."""
    shift = 0
    for line in diff.split("\n"):
        match = _HUNK.match(line)
        if not match:
            continue
        old_start, old_count = int(match.group(1)), int(match.group(2) or 1)
        new_count = int(match.group(4) or 1)
        if old_start > old_line:
            break
        if old_line < old_start + old_count:  # inside this hunk: its first new line
            return max(1, int(match.group(3)) + (old_line - old_start if new_count else 0))
        shift += new_count - old_count
    return max(1, old_line + shift)


def _may_change_calls(diff: str) -> bool:
    """Whether a diff's changed lines could add or remove a call or a loop: some changed line
    that is not only a comment holds a parenthesis. A cheap look before parsing both versions
    of the file; a long history of comment and doc edits costs nothing then."""
    for line in diff.split("\n"):
        if not line.startswith(("+", "-")) or line.startswith(("+++", "---")):
            continue
        code = line[1:].split("//")[0].split("/*")[0].strip()  # what precedes a comment
        if code.startswith("*"):  # the middle of a block comment
            continue
        if "(" in code:
            return True
    return False


def _all_lines(text: str | None) -> set[int]:
    return set(range(1, text.count("\n") + 2)) if text else set()


def _where(function: str | None, path: str) -> str:
    return f"in {function}() ({path})" if function else f"at file scope ({path})"


def _short_call(call: _Call) -> str:
    return call.text if len(call.text) <= _MAX_CALL_TEXT else f"{call.name}(...)"


def _edit(result: FileEdits, kind: CodeEditKind, call: _Call, variable: str | None) -> CodeEdit:
    return CodeEdit(
        kind=kind,
        file=result.path,
        function=call.function,
        call=call.text,
        variable=variable,
        line=call.line,
        in_loop=call.in_loop,
    )


def c_file_edits(change: FileChange, vocabulary: Vocabulary) -> FileEdits:
    """The leak-relevant edits one commit made to one C file.

    What allocates and what releases comes from ``vocabulary``: the known library calls plus
    what the code base itself defines (wrappers, releasers at an offset, reference drops).
    """
    result = FileEdits(change.path)
    if change.diff and not _may_change_calls(change.diff):
        return result  # comments and whitespace only: no call, loop or release changed
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

    def released(call: _Call) -> list[str]:
        """The arguments ``call`` releases (usually one); for ``release(&local)`` of what a
        local struct holds (``strbuf_release(&sb)``), the local. ``p = realloc(p, n)`` gives
        ``p`` a block again: a growth, not a release of ``p``."""
        found = []
        for index, argument in enumerate(call.arguments):
            if not argument or argument == call.assigned_to:
                continue
            if argument.startswith("&") and vocabulary.fills(call.name, index):
                continue  # make(&p): it fills p, whatever it frees when it fails
            if vocabulary.releases(call.name, index, change.path):
                # ha_free(&p), read by its name: what is released is p
                bare = argument[1:].strip() if argument.startswith("&") else argument
                found.append(bare if bare.isidentifier() else argument)
            elif (
                argument.startswith("&")
                and _LVALUE_PATH.fullmatch(argument[1:].strip())
                and (vocabulary.releases_members(call.name, index, change.path))
            ):
                # release(&local) of what the local holds; ha_free(&conf->name) of the member
                found.append("".join(argument[1:].split()))
            elif argument.isidentifier() and vocabulary.releases_members_by_macro(
                call.name, index, change.path
            ):
                found.append(argument)  # b_free(buf): the buffer's area, back to its pool
        return found

    def frees(outline: _Outline) -> Counter[tuple[str | None, str]]:
        return Counter((c.function, v) for c in outline.calls for v in released(c))

    def allocs(outline: _Outline) -> Counter[tuple[str | None, str]]:
        return Counter((c.function, c.name) for c in outline.calls if vocabulary.allocates(c.name))

    old_frees, new_frees = frees(old), frees(new)
    moved_to = {  # releases on added lines: where a removed one may have moved
        (c.function, v): c for c in new.calls if c.line in added for v in released(c)
    }
    moved: set[tuple[str | None, str]] = set()
    for call in (c for c in old.calls if c.line in removed):
        for variable in released(call):
            key = (call.function, variable)
            if new_frees[key] < old_frees[key]:
                new_frees[key] += 1  # one note per free actually lost
                note = f"removed {_short_call(call)} {_where(call.function, change.path)}"
                result.add(_edit(result, CodeEditKind.REMOVED_FREE, call, variable), note)
                result.edits[-1].new_line = _new_line_of(change.diff, call.line)
            elif key in moved_to and key not in moved:
                # the same release, elsewhere in the function: which paths it covers changed
                moved.add(key)
                to = moved_to[key].line
                note = (
                    f"moved {_short_call(call)} {_where(call.function, change.path)} to line {to}"
                )
                result.add(_edit(result, CodeEditKind.MOVED_FREE, call, variable), note)
                result.edits[-1].new_line = _new_line_of(change.diff, call.line)
    old_frees, new_frees = frees(old), frees(new)
    old_allocs, new_allocs = allocs(old), allocs(new)
    for call in (c for c in new.calls if c.line in added):
        where = _where(call.function, change.path)
        key_of = call.function
        freed = [v for v in released(call) if new_frees[(key_of, v)] > old_frees[(key_of, v)]]
        if freed:
            old_frees[(call.function, freed[0])] += 1
            note = f"added {_short_call(call)} {where}"
            result.add(_edit(result, CodeEditKind.ADDED_FREE, call, freed[0]), note)
        elif vocabulary.allocates(call.name):
            key = (call.function, call.name)
            grew = new_allocs[key] > old_allocs[key]
            old_allocs[key] += grew
            kind = CodeEditKind.ADDED_ALLOCATION if grew else CodeEditKind.CHANGED_ALLOCATION
            verb = "added" if grew else "changed"
            note = f"{verb} allocation {_short_call(call)} {where}"
            result.add(_edit(result, kind, call, call.assigned_to), note)
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
        result.add(_edit(result, CodeEditKind.CHANGED_LOOP, loop, None), note)
