"""What each commit before an incident did that matters for a memory leak, and which one caused it.

The input is ``ads.models.Commit`` objects as ``sources.repository`` reads them (diff per file,
plus the whole file before and after); the output is ``ads.models.Change``: prose notes for the
report ("removed free(buffer) in controller() (worker.c)", "memory limit of worker 128Mi → 64Mi")
and structured ``CodeEdit``s so attribution never has to parse prose.

C is read with tree-sitter-c, never with patterns over text: a changed line is mapped to the
function that encloses it and to the calls that start on it in the version of the file where the
line exists (the old file for removed lines, the new one for added lines). A removed ``free`` only
counts when the function really has fewer frees of that variable afterwards, so moving a ``free``
is not mistaken for removing it.

Attribution then follows the issue: the introducing commit is the last one in the window that
removed a free of the leaked variable in the leaking function (or that added the allocation
without a free, when blame points at it); none in the window means the bug predates it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import tree_sitter_c
from tree_sitter import Language, Node, Parser

from ..errors import ConfigError
from ..models import Change, ChangeKind, ChangeRole, CodeEdit, CodeEditKind, Commit, FileChange
from ..units import parse_quantity
from .manifests import LimitChange, diff_manifests

__all__ = [
    "C_SUFFIXES",
    "DEFAULT_ALLOCATORS",
    "DEFAULT_DEALLOCATORS",
    "MANIFEST_SUFFIXES",
    "describe_commit",
    "find_introducing_commit",
    "lowered_memory_limit",
    "rank_changes",
]

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
C_SUFFIXES = (".c", ".h")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
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


# --- describing one commit ---------------------------------------------------------------------


def _normalise(path: str) -> str:
    return path.strip().removeprefix("./").strip("/")


def _under(path: str, prefixes: Iterable[str]) -> bool:
    path = _normalise(path)
    for prefix in map(_normalise, prefixes):
        if prefix in ("", ".") or path == prefix or path.startswith(prefix + "/"):
            return True
    return False


def _where(function: str | None, path: str) -> str:
    return f"in {function}() ({path})" if function else f"at file scope ({path})"


def _short_call(call: _Call) -> str:
    return call.text if len(call.text) <= _MAX_CALL_TEXT else f"{call.name}(...)"


@dataclass
class _Edits:
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


def _c_edits(
    change: FileChange, allocators: frozenset[str], deallocators: frozenset[str]
) -> _Edits:
    """The leak-relevant edits one commit made to one C file."""
    result = _Edits(change.path)
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
    result: _Edits, old: _Outline, removed: set[int], new: _Outline, added: set[int]
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


def _limit_note(what: str, change: LimitChange, path: str) -> str:
    where = f"({change.workload}, {path})"
    if change.from_ is None:
        return f"memory {what} of {change.container} set to {change.to} {where}"
    if change.to is None:
        return f"memory {what} of {change.container} removed (was {change.from_}) {where}"
    return f"memory {what} of {change.container} {change.from_} → {change.to} {where}"


def _manifest_notes(change: FileChange) -> tuple[list[str], list[LimitChange]]:
    diff = diff_manifests(change.old_text, change.new_text, source=change.path)
    notes = [_limit_note("limit", c, change.path) for c in diff.limits]
    notes += [_limit_note("request", c, change.path) for c in diff.requests]
    return notes + diff.problems, diff.limits


def describe_commit(
    commit: Commit,
    incident_at: datetime,
    *,
    source_paths: Sequence[str] = (".",),
    manifest_dir: str = "infra/kubernetes",
    allocators: Iterable[str] = DEFAULT_ALLOCATORS,
    deallocators: Iterable[str] = DEFAULT_DEALLOCATORS,
) -> Change:
    """``commit`` as a ``Change``: what it did to the service's C code and memory limits.

    ``allocators``/``deallocators`` may add the repository's own wrappers (``zmalloc``/``zfree``).
    Files outside ``source_paths`` and ``manifest_dir`` are listed but not described.
    """
    allocs, frees = frozenset(allocators), frozenset(deallocators)
    notes: list[str] = []
    edits: list[CodeEdit] = []
    functions: list[str] = []
    limits: list[LimitChange] = []
    touched_code = touched_manifest = False
    for change in commit.files:
        if change.skipped and _under(change.path, [*source_paths, manifest_dir]):
            notes.append(f"{change.path} skipped: {change.skipped}")
        elif _under(change.path, [manifest_dir]) and change.path.endswith(MANIFEST_SUFFIXES):
            touched_manifest = True
            file_notes, file_limits = _manifest_notes(change)
            notes += file_notes
            limits += file_limits
        elif _under(change.path, source_paths):
            touched_code = True
            if change.path.endswith(C_SUFFIXES):
                found = _c_edits(change, allocs, frees)
                notes += found.notes
                edits += found.edits
                functions += found.functions
    chosen = next((c for c in limits if c.lowered()), limits[0] if limits else None)
    return Change(
        kind=ChangeKind.MANIFEST if touched_manifest and not touched_code else ChangeKind.COMMIT,
        sha=commit.sha,
        author=commit.author,
        authored_at=commit.authored_at,
        subject=commit.subject,
        files=[change.path for change in commit.files],
        before_incident_seconds=(incident_at - commit.authored_at).total_seconds(),
        notes=notes,
        memory_limit_from=chosen.from_ if chosen else None,
        memory_limit_to=chosen.to if chosen else None,
        edits=edits,
        functions=functions,
    )


# --- attribution and ranking -------------------------------------------------------------------


def _same_file(a: str, b: str) -> bool:
    """Paths may be relative to the repository or to the service's directory inside it."""
    a, b = _normalise(a), _normalise(b)
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _same_function(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.removesuffix("()") == b.removesuffix("()")


def _edits_in(change: Change, file: str, function: str) -> list[CodeEdit]:
    return [
        e for e in change.edits if _same_file(e.file, file) and _same_function(e.function, function)
    ]


def _oldest_first(changes: Iterable[Change]) -> list[Change]:
    return sorted(changes, key=lambda change: change.authored_at)


def find_introducing_commit(
    changes: Sequence[Change],
    finding_file: str,
    finding_function: str,
    variable: str | None,
    allocation_line_sha_from_blame: str | None,
) -> Change | None:
    """The change in the window that introduced a leak of ``variable`` in that function, or None.

    First choice: the last change that removed a ``free`` of the variable there, unless a later
    change added one back. Otherwise: the change that added the allocation without a free in the
    same commit (the one blame names, when blame is given). ``None`` means the leak predates the
    window: a pre-existing bug with no rollback target.
    """

    def matches(edit: CodeEdit) -> bool:
        return variable is None or edit.variable is None or edit.variable == variable

    removed_by: Change | None = None
    for change in _oldest_first(changes):
        for edit in _edits_in(change, finding_file, finding_function):
            if edit.kind is CodeEditKind.REMOVED_FREE and matches(edit):
                removed_by = change
            elif edit.kind is CodeEditKind.ADDED_FREE and matches(edit):
                removed_by = None
    if removed_by is not None:
        return removed_by
    for change in reversed(_oldest_first(changes)):
        blamed = allocation_line_sha_from_blame
        if blamed and not (change.sha.startswith(blamed) or blamed.startswith(change.sha)):
            continue
        edits = [e for e in _edits_in(change, finding_file, finding_function) if matches(e)]
        kinds = {e.kind for e in edits}
        if CodeEditKind.ADDED_ALLOCATION in kinds and CodeEditKind.ADDED_FREE not in kinds:
            return change
    return None


def lowered_memory_limit(change: Change) -> bool:
    """Whether ``change`` made a container's memory limit smaller (or set one where none was)."""
    if change.memory_limit_to is None:
        return False
    if change.memory_limit_from is None:
        return True
    try:
        return parse_quantity(change.memory_limit_to) < parse_quantity(change.memory_limit_from)
    except ConfigError:
        return False


def rank_changes(
    changes: Sequence[Change],
    *,
    finding_file: str | None = None,
    finding_function: str | None = None,
    introducing_sha: str | None = None,
) -> list[Change]:
    """Copies of ``changes`` ordered by how much they explain the leak, each with its ``role``.

    Order: the introducing commit; commits that edited the leaking function, then ones that only
    touched its file; commits that lowered a memory limit (contributing: the leak reaches the
    limit sooner); everything else. Within a group, the most recent first.
    """

    def place(change: Change) -> tuple[int, int, ChangeRole]:
        if introducing_sha and change.sha == introducing_sha:
            return 0, 0, ChangeRole.INTRODUCED
        if finding_file and any(_same_file(f, finding_file) for f in change.files):
            in_function = any(
                _same_file(path, finding_file) and _same_function(name, finding_function)
                for path, _, name in (f.rpartition(":") for f in change.functions)
            )
            return 1, 0 if in_function else 1, ChangeRole.TOUCHES_FINDING
        if lowered_memory_limit(change):
            return 2, 0, ChangeRole.CONTRIBUTING
        return 3, 0, ChangeRole.OTHER

    placed = [(place(change), change) for change in changes]
    placed.sort(key=lambda item: (item[0][0], item[0][1], -item[1].authored_at.timestamp()))
    return [change.model_copy(update={"role": where[2]}) for where, change in placed]
