"""The smallest correct source change for a leak finding, as a unified diff.

Why a syntax tree and not text: the fix must land in the right block, after the last statement
that still uses the pointer, and on every early ``continue``/``break``/``return`` that leaves the
pointer's block before that point. tree-sitter-c gives exact statements, blocks and jump targets;
a regular expression over C would put ``free`` inside a string, a comment or the wrong loop.

What is patched, and what is only suggested:

* a per-iteration or one-off leak of a pointer held in a local block: ``free(<var>);`` on its own
  line right after the last statement of the block that uses it, in the file's own indentation,
  plus ``free(<var>);`` before each early jump that leaves the block first;
* a leak only on an early path (the block already frees the pointer on its main path): the free
  on that path alone;
* unbounded growth, or a pointer also used outside the block that allocates it: no patch (the
  right bound or lifetime is a design decision), but a precise suggestion naming the site.

Pure: takes the file's text, returns text. ``git apply --check`` and a compile of the patched
file are done by the verification action.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import tree_sitter_c
from tree_sitter import Language, Node, Parser

from ads.analysis.c.handles import HANDLE_ISSUE
from ads.analysis.patches import FixProposal, unified_diff

from ...errors import AnalysisError
from ...models import Finding, FindingKind

__all__ = ["FixProposal", "propose_fix"]

_C = Language(tree_sitter_c.language())
_JUMPS = ("continue_statement", "break_statement", "return_statement", "goto_statement")
_LOOPS = ("while_statement", "for_statement", "do_statement")
_SKIPPED = ("comment",)


@dataclass(frozen=True)
class _Edit:
    """Replace source bytes ``start:end`` with ``text`` (an insertion when start == end)."""

    start: int
    end: int
    text: bytes


def propose_fix(path: str, source: str, finding: Finding) -> FixProposal:
    """The fix for ``finding`` in ``source`` (the text of ``path``, relative to the repo root).

    Raises ``AnalysisError`` when the finding does not match the source (no such function, or
    no allocation assigned to the variable at the finding's line).
    """
    if finding.kind is FindingKind.UNBOUNDED_GROWTH:
        return _growth_suggestion(path, finding)
    if finding.issue == HANDLE_ISSUE:
        return _handle_suggestion(path, finding)
    if finding.kind is FindingKind.UNCERTAIN:
        return FixProposal(
            path=path,
            summary=f"No automatic fix: the leak at {path}:{finding.line} is uncertain",
            suggestion=(
                f"Check whether {finding.allocation} in {finding.function}() at {path}:"
                f"{finding.line} is released on every path; ADS does not patch uncertain findings."
            ),
        )
    data = source.encode("utf-8")
    tree = Parser(_C).parse(data)
    function = _find_function(tree.root_node, finding.function)
    if function is None:
        raise AnalysisError(
            f"{path}: no function {finding.function}() in this version of the file",
            hint="the finding may be for another revision; re-run the analysis",
        )
    statement, var = _find_allocation(function, finding, path)
    return _Planner(path, source, data, function, statement, var, finding).propose()


# -- locating --------------------------------------------------------------------------------------


def _text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def _find_function(root: Node, name: str) -> Node | None:
    for node in _descendants(root):
        if node.type != "function_definition":
            continue
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.type != "function_declarator":
            declarator = declarator.child_by_field_name("declarator")
        if declarator is not None and _text(declarator.child_by_field_name("declarator")) == name:
            return node
    return None


def _descendants(node: Node) -> list[Node]:
    out: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(current.named_children))
    return out


def _declared_name(declarator: Node | None) -> str | None:
    while declarator is not None and declarator.type != "identifier":
        declarator = declarator.child_by_field_name("declarator")
    return _text(declarator) if declarator is not None else None


def _assigned_names(statement: Node) -> list[str]:
    """Variables given a value by a call in ``statement`` (declaration or assignment)."""
    names: list[str] = []
    for node in _descendants(statement):
        if node.type == "init_declarator":
            value = node.child_by_field_name("value")
            if value is not None and any(n.type == "call_expression" for n in _descendants(value)):
                name = _declared_name(node.child_by_field_name("declarator"))
                if name:
                    names.append(name)
        elif node.type == "assignment_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if (
                left is not None
                and left.type == "identifier"
                and right is not None
                and any(n.type == "call_expression" for n in _descendants(right))
            ):
                names.append(_text(left))
    return names


def _find_allocation(function: Node, finding: Finding, path: str) -> tuple[Node, str]:
    """The statement at the finding's line that assigns an allocation, and the variable."""
    row = finding.line - 1
    candidates: list[tuple[Node, str]] = []
    for node in _descendants(function):
        if node.type not in ("declaration", "expression_statement"):
            continue
        if not node.start_point.row <= row <= node.end_point.row:
            continue
        for name in _assigned_names(node):
            if finding.variable in (None, name):
                candidates.append((node, name))
    if not candidates:
        what = f"to {finding.variable!r} " if finding.variable else ""
        raise AnalysisError(
            f"{path}:{finding.line}: no allocation assigned {what}in {finding.function}()",
            hint="the finding may be for another revision; re-run the analysis",
        )
    # the innermost statement (the last one in document order that covers the line)
    return max(candidates, key=lambda pair: pair[0].start_byte)


# -- planning --------------------------------------------------------------------------------------


def _uses(node: Node, var: str) -> bool:
    return any(n.type == "identifier" and _text(n) == var for n in _descendants(node))


def _is_free_of(node: Node, var: str) -> bool:
    if node.type != "expression_statement" or not node.named_children:
        return False
    call = node.named_children[0]
    if call.type != "call_expression" or _text(call.child_by_field_name("function")) != "free":
        return False
    args = [a for a in (call.child_by_field_name("arguments") or call).named_children]
    return len(args) == 1 and _text(args[0]) == var


def _is_null_test_of(condition: Node | None, var: str) -> bool:
    """``!var``, ``var == NULL``, ``NULL == var``, ``var == 0`` (parenthesised or not)."""
    text = "".join(_text(condition).split()).strip("()")
    return text in (f"!{var}", f"{var}==NULL", f"NULL=={var}", f"{var}==0", f"0=={var}")


def _line_indent(lines: list[bytes], row: int) -> bytes:
    line = lines[row]
    return line[: len(line) - len(line.lstrip(b" \t"))]


class _Planner:
    """Works out the free() insertions for one allocation statement, then renders the diff."""

    def __init__(
        self,
        path: str,
        source: str,
        data: bytes,
        function: Node,
        statement: Node,
        var: str,
        finding: Finding,
    ) -> None:
        self.path = path
        self.source = source
        self.data = data
        self.function = function
        self.statement = statement
        self.var = var
        self.finding = finding
        self.lines = data.splitlines(keepends=True)
        self.newline = b"\r\n" if b"\r\n" in data else b"\n"
        self.free = f"free({var});".encode()
        self.offsets = [0]
        for line in self.lines:
            self.offsets.append(self.offsets[-1] + len(line))

    def propose(self) -> FixProposal:
        block = self.statement.parent
        if block is None or block.type != "compound_statement":
            return self._suggestion("its allocation is not a statement of a { } block")
        outside = self._uses_outside(block)
        if outside:
            rows = ", ".join(str(r) for r in sorted(set(outside))[:5])
            return self._suggestion(
                f"{self.var} is also used outside the statements that follow its allocation "
                f"(line {rows})"
            )
        edits, notes = self._plan(block)
        if not edits:
            return self._suggestion("every path of its block already frees it or hands it on")
        patched = self._apply(edits)
        inserted = self._inserted_rows(patched)
        summary = " ".join([f"Added free({self.var})", *notes, "to prevent memory leak"])
        return FixProposal(
            path=self.path,
            summary=summary,
            diff=unified_diff(self.path, self.source, patched),
            patched_source=patched,
            inserted_lines=inserted,
        )

    def _suggestion(self, why: str) -> FixProposal:
        where = f"{self.path}:{self.finding.line}"
        return FixProposal(
            path=self.path,
            summary=f"No automatic fix for {where}: {why}",
            suggestion=(
                f"Release {self.var} (allocated by {self.finding.allocation} in "
                f"{self.finding.function}() at {where}) with free({self.var}) after its last use "
                f"on every path; ADS did not place it automatically because {why}."
            ),
        )

    def _uses_outside(self, block: Node) -> list[int]:
        rows: list[int] = []
        for node in _descendants(self.function):
            if node.type != "identifier" or _text(node) != self.var:
                continue
            if self.statement.start_byte <= node.start_byte < block.end_byte:
                continue  # the allocation and what follows it in its block
            parent = node.parent
            while parent is not None and parent.type in ("pointer_declarator", "array_declarator"):
                parent = parent.parent
            if parent is not None and parent.type in ("init_declarator", "declaration"):
                continue  # the declaration itself (e.g. `char *p = NULL;`), not a use
            rows.append(node.start_point.row + 1)
        return rows

    def _plan(self, block: Node) -> tuple[list[_Edit], list[str]]:
        after = [
            n
            for n in block.named_children
            if n.start_byte > self.statement.start_byte and n.type not in _SKIPPED
        ]
        edits: list[_Edit] = []
        notes: list[str] = []
        main = after
        for index, node in enumerate(after):
            if node.type in _JUMPS:
                main = after[: index + 1]
                break
        freed_at = next((i for i, n in enumerate(main) if _is_free_of(n, self.var)), None)
        if freed_at is not None:
            scanned = main[:freed_at]
        else:
            terminal = main[-1] if main and main[-1].type in _JUMPS else None
            body = main[:-1] if terminal is not None else main
            used = [i for i, n in enumerate(body) if _uses(n, self.var)]
            last = body[used[-1]] if used else self.statement
            scanned = body[: used[-1] + 1] if used else []
            if terminal is not None and _uses(terminal, self.var):
                pass  # `return var;`: ownership leaves the function on the main path
            else:
                edits.append(self._insert_after(last))
        early = [
            jump
            for stmt in scanned
            for jump in _descendants(stmt)
            if jump.type in _JUMPS and self._leaks_at(jump, block)
        ]
        for jump in early:
            edits.append(self._free_before(jump))
        if early:
            kinds = sorted({_text(j).split()[0].rstrip(";") for j in early})
            rows = ", ".join(str(j.start_point.row + 1) for j in early)
            where = "line" if len(early) == 1 else "lines"
            also = "also " if edits[: -len(early)] else ""
            notes.append(f"{also}before the early {'/'.join(kinds)} ({where} {rows})")
        return edits, notes

    def _leaks_at(self, jump: Node, block: Node) -> bool:
        """Whether leaving through ``jump`` skips the free: it leaves ``block`` unfreed."""
        if jump.type == "goto_statement":
            return False  # the label may free it (the `goto cleanup` idiom); not ours to guess
        if jump.type == "return_statement" and _uses(jump, self.var):
            return False  # returned: the caller owns it now
        if jump.type in ("continue_statement", "break_statement"):
            targets = _LOOPS if jump.type == "continue_statement" else (*_LOOPS, "switch_statement")
            node = jump.parent
            while node is not None and node != block:
                if node.type in targets:
                    return False  # jumps within the block, not out of it
                node = node.parent
        child, node = jump, jump.parent
        while node is not None and node != block:
            if node.type == "compound_statement":
                for sibling in node.named_children:
                    if sibling.start_byte >= child.start_byte:
                        break
                    if _is_free_of(sibling, self.var):
                        return False
            if (
                node.type == "if_statement"
                and child == node.child_by_field_name("consequence")
                and _is_null_test_of(node.child_by_field_name("condition"), self.var)
            ):
                return False  # nothing was allocated on this path
            child, node = node, node.parent
        return True

    # -- edits ----------------------------------------------------------------------------------

    def _insert_after(self, node: Node) -> _Edit:
        row = node.end_point.row
        indent = _line_indent(self.lines, self.statement.start_point.row)
        at = self.offsets[row + 1]
        prefix = b"" if self.lines[row].endswith(b"\n") else self.newline
        return _Edit(at, at, prefix + indent + self.free + self.newline)

    def _free_before(self, jump: Node) -> _Edit:
        row, column = jump.start_point.row, jump.start_point.column
        line = self.lines[row]
        own_line = line[:column].strip() == b""
        parent = jump.parent
        if parent is not None and parent.type == "compound_statement":
            if own_line:
                at = self.offsets[row]
                return _Edit(at, at, _line_indent(self.lines, row) + self.free + self.newline)
            return _Edit(jump.start_byte, jump.start_byte, self.free + b" ")
        jump_text = self.data[jump.start_byte : jump.end_byte]
        if parent is not None and parent.start_point.row == row:
            indent = _line_indent(self.lines, row)
            inner = indent + self._unit()
            text = (
                b"{" + self.newline + inner + self.free + self.newline + inner + jump_text
                + self.newline + indent + b"}"
            )  # fmt: skip
            return _Edit(jump.start_byte, jump.end_byte, text)
        return _Edit(jump.start_byte, jump.end_byte, b"{ " + self.free + b" " + jump_text + b" }")

    def _unit(self) -> bytes:
        """One level of the file's indentation: the allocation's indent minus its block's."""
        block = self.statement.parent
        owner = block.parent if block is not None and block.parent is not None else None
        inner = _line_indent(self.lines, self.statement.start_point.row)
        outer = _line_indent(self.lines, owner.start_point.row) if owner is not None else b""
        if inner.startswith(outer) and len(inner) > len(outer):
            return inner[len(outer) :]
        return b"\t" if inner.startswith(b"\t") else b"    "

    def _apply(self, edits: list[_Edit]) -> str:
        data = self.data
        for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
            data = data[: edit.start] + edit.text + data[edit.end :]
        return data.decode("utf-8")

    def _inserted_rows(self, patched: str) -> tuple[int, ...]:
        """1-based lines of the patched file that hold a free() ADS added."""
        before = self.source.splitlines()
        after = patched.splitlines()
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        rows: list[int] = []
        for tag, _, _, j1, j2 in matcher.get_opcodes():
            if tag in ("insert", "replace"):
                rows.extend(j + 1 for j in range(j1, j2) if f"free({self.var})" in after[j])
        return tuple(rows)


def _growth_suggestion(path: str, finding: Finding) -> FixProposal:
    subject = finding.variable or "the container"
    return FixProposal(
        path=path,
        summary=f"No automatic fix: {subject} grows without bound in {finding.function}()",
        suggestion=(
            f"{subject} in {finding.function}() ({path}:{finding.line}-{finding.end_line}) grows "
            f"with every pass through {finding.allocation} and is never shrunk. Bound it: cap "
            f"its size and evict or reuse old entries at the cap, or release entries once they "
            f"are consumed. ADS does not patch this automatically because the right bound is a "
            f"design decision."
        ),
    )


def _handle_suggestion(path: str, finding: Finding) -> FixProposal:
    """A handle parameter kept on one path: the release belongs before that return, with the
    handle type's own releaser (the one the function calls on its other paths), which ADS does
    not write for it."""
    name = finding.variable or "the parameter"
    return FixProposal(
        path=path,
        summary=f"No automatic fix: {finding.function}() keeps its handle {name} on one path",
        suggestion=(
            f"{finding.function}() gives {name} away on its other paths but returns at "
            f"{path}:{finding.line} still holding it. Release it there with the call its other "
            f"paths use for it, before the return."
        ),
    )
