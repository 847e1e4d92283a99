"""One commit's edit of one Python file, read at the syntax level: what matters for growth.

Both sides of the file are parsed with ``ast`` and compared per function (qualified name):

* an eviction that is gone (``pop``/``popitem``/``popleft``/``del``/``clear``, a call of an
  evicting helper) → ``REMOVED_FREE``; one that appeared → ``ADDED_FREE``;
* a cache decorator whose bound went away (``lru_cache(maxsize=128)`` → ``maxsize=None`` or
  ``@cache``) or a container constructor that lost its bound (``deque(maxlen=…)``,
  ``Queue(maxsize=…)``) → ``REMOVED_FREE`` in the functions that fill it;
* a new growth operation (an ``append``, a key insert) → ``ADDED_ALLOCATION``.

Pure: texts in, ``FileEdits`` out.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass

from ...models import CodeEdit, CodeEditKind, FileChange
from ..languages import FileEdits
from .growth import APPENDS, EVICTING_HELPERS, EVICTIONS, INSERTS
from .program import container_kind, dotted

__all__ = ["python_file_edits"]


@dataclass(frozen=True)
class _Op:
    function: str
    receiver: str
    text: str
    line: int
    in_loop: bool


class _Side:
    """One side of the file: per function, its evictions, growth ops, cache bounds."""

    def __init__(self, text: str | None) -> None:
        self.ok = True
        self.evictions: list[_Op] = []
        self.growth: list[_Op] = []
        self.cache_bounds: dict[str, tuple[str | None, int]] = {}  # fn → (bound, line)
        self.bounded: dict[str, tuple[bool, int]] = {}  # container → (bounded?, line)
        self.bodies: dict[str, str] = {}
        self.lines: dict[str, int] = {}
        self.evicting_helpers: dict[str, str] = {}  # helper name → the container it evicts
        if text is None:
            return
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            self.ok = False
            return
        self._walk(tree.body, "", in_loop=False, function="<module>")
        for stmt in tree.body:
            for target, value in _assigned(stmt):
                shape = container_kind(value)
                name = dotted(target)
                if shape is not None and name is not None:
                    self.bounded[name] = (shape[1] is not None, stmt.lineno)

    def _walk(self, body: list[ast.stmt], prefix: str, *, in_loop: bool, function: str) -> None:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                qual = f"{prefix}{stmt.name}"
                self.bodies[qual] = ast.dump(stmt)
                self.lines[qual] = stmt.lineno
                self.cache_bounds[qual] = (_cache_bound(stmt), stmt.lineno)
                self._walk(stmt.body, f"{qual}.", in_loop=False, function=qual)
                continue
            if isinstance(stmt, ast.ClassDef):
                for inner in stmt.body:
                    for target, value in _assigned(inner):
                        shape = container_kind(value)
                        if shape is not None and isinstance(target, ast.Name):
                            key = f"{prefix}{stmt.name}.{target.id}"
                            self.bounded[key] = (shape[1] is not None, inner.lineno)
                self._walk(stmt.body, f"{prefix}{stmt.name}.", in_loop=False, function=function)
                continue
            self._statement(stmt, function, in_loop)
            loop = isinstance(stmt, ast.While | ast.For | ast.AsyncFor)
            for block in ("body", "orelse", "finalbody"):
                nested = getattr(stmt, block, None)
                if isinstance(nested, list) and nested and isinstance(nested[0], ast.stmt):
                    self._walk(nested, prefix, in_loop=in_loop or loop, function=function)
            for handler in getattr(stmt, "handlers", []):
                self._walk(handler.body, prefix, in_loop=in_loop, function=function)
            if isinstance(stmt, ast.Match):
                for case in stmt.cases:
                    self._walk(case.body, prefix, in_loop=in_loop, function=function)

    def _statement(self, stmt: ast.stmt, function: str, in_loop: bool) -> None:
        """The statement's own expressions (its nested blocks are walked by ``_walk``)."""
        nodes: list[ast.AST] = []
        for field, value in ast.iter_fields(stmt):
            if field in ("body", "orelse", "finalbody", "handlers", "cases"):
                continue
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, ast.AST):
                    nodes.extend(ast.walk(item))
        if isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                base = target.value if isinstance(target, ast.Subscript) else target
                self._op(
                    self.evictions, function, base, f"del {ast.unparse(target)}", stmt, in_loop
                )
        if isinstance(stmt, ast.Assign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Subscript):
                    text = " ".join(ast.unparse(stmt).split())
                    ops = self.evictions if isinstance(target.slice, ast.Slice) else self.growth
                    self._op(ops, function, target.value, text, stmt, in_loop)
        for node in nodes:
            if not isinstance(node, ast.Call):
                continue
            text = " ".join(ast.unparse(node).split())
            if isinstance(node.func, ast.Attribute):
                method, receiver = node.func.attr, node.func.value
                if method in EVICTIONS:
                    self._op(self.evictions, function, receiver, text, node, in_loop)
                    continue
                if method in APPENDS | INSERTS:
                    base = receiver.value if isinstance(receiver, ast.Subscript) else receiver
                    self._op(self.growth, function, base, text, node, in_loop)
                    continue
            name = (dotted(node.func) or "").rpartition(".")[2]
            if any(word in name.lower() for word in EVICTING_HELPERS):
                receiver_text = ast.unparse(node.args[0]) if node.args else name
                self.evictions.append(_Op(function, receiver_text, text, node.lineno, in_loop))

    def _op(
        self, ops: list[_Op], function: str, receiver: ast.AST, text: str, at: ast.AST, loop: bool
    ) -> None:
        name = dotted(receiver)
        if name is not None:
            ops.append(_Op(function, name, text, getattr(at, "lineno", 0), loop))


def _assigned(stmt: ast.stmt) -> list[tuple[ast.expr, ast.expr]]:
    if isinstance(stmt, ast.Assign):
        return [(t, stmt.value) for t in stmt.targets]
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        return [(stmt.target, stmt.value)]
    return []


def _cache_bound(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """``"maxsize=128"`` for a bounded cache decorator, ``"unbounded"`` for ``@cache`` or
    ``maxsize=None``, None when the function is not cached."""
    for decorator in fn.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        name = (dotted(call.func if call else decorator) or "").rpartition(".")[2]
        if name == "cache" and call is None:
            return "unbounded"
        if name == "lru_cache":
            if call is None:
                return "maxsize=128"
            size = next((k.value for k in call.keywords if k.arg == "maxsize"), None)
            if size is None and call.args:
                size = call.args[0]
            if size is None:
                return "maxsize=128"
            if isinstance(size, ast.Constant) and size.value is None:
                return "unbounded"
            return f"maxsize={ast.unparse(size)}"
    return None


def _key(op: _Op) -> tuple[str, str, str]:
    return op.function, op.receiver, op.text


def _strip_self(name: str) -> str:
    return name.removeprefix("self.").removeprefix("cls.")


def python_file_edits(change: FileChange) -> FileEdits:
    """What ``change`` did to one Python file, for people (notes) and attribution (edits)."""
    found = FileEdits(change.path)
    old, new = _Side(change.old_text), _Side(change.new_text)
    if not old.ok or not new.ok:
        side = "old" if not old.ok else "new"
        found.notes.append(f"{change.path}: the {side} version does not parse as Python")
        if not new.ok:
            return found
    path = change.path
    found.functions = [
        f"{path}:{name}" for name, body in new.bodies.items() if old.bodies.get(name) != body
    ]
    gone = Counter(map(_key, old.evictions)) - Counter(map(_key, new.evictions))
    came = Counter(map(_key, new.evictions)) - Counter(map(_key, old.evictions))
    grows_in = _growing_functions(new)
    for op in old.evictions:
        if gone[_key(op)] > 0:
            gone[_key(op)] -= 1
            landing = next(
                (g.line for g in new.growth if g.receiver == op.receiver), None
            ) or new.lines.get(op.function)
            found.add(
                CodeEdit(kind=CodeEditKind.REMOVED_FREE, file=path, function=op.function,
                         call=op.text, variable=op.receiver, line=op.line,
                         in_loop=op.in_loop, new_line=landing),
                f"removed {op.text} in {op.function}() ({path}): {op.receiver} no longer "
                "evicted there",
            )  # fmt: skip
    for op in new.evictions:
        if came[_key(op)] > 0:
            came[_key(op)] -= 1
            found.add(
                CodeEdit(kind=CodeEditKind.ADDED_FREE, file=path, function=op.function,
                         call=op.text, variable=op.receiver, line=op.line, in_loop=op.in_loop),
                f"added {op.text} in {op.function}() ({path})",
            )  # fmt: skip
    added = Counter(map(_key, new.growth)) - Counter(map(_key, old.growth))
    for op in new.growth:
        if added[_key(op)] > 0:
            added[_key(op)] -= 1
            found.add(
                CodeEdit(kind=CodeEditKind.ADDED_ALLOCATION, file=path, function=op.function,
                         call=op.text, variable=op.receiver, line=op.line, in_loop=op.in_loop),
                f"added {op.text} in {op.function}() ({path}): {op.receiver} grows there",
            )  # fmt: skip
    for name, (bound, line) in new.cache_bounds.items():
        before = old.cache_bounds.get(name, (None, 0))[0]
        short = name.rpartition(".")[2]
        if before and before != "unbounded" and bound == "unbounded":
            found.add(
                CodeEdit(kind=CodeEditKind.REMOVED_FREE, file=path, function=name,
                         call=f"lru_cache({before})", variable=short, line=line),
                f"removed the cache bound lru_cache({before}) of {name}() ({path})",
            )  # fmt: skip
        elif before == "unbounded" and bound and bound != "unbounded":
            found.add(
                CodeEdit(kind=CodeEditKind.ADDED_FREE, file=path, function=name,
                         call=f"lru_cache({bound})", variable=short, line=line),
                f"bounded the cache of {name}() with lru_cache({bound}) ({path})",
            )  # fmt: skip
    for name, (bounded, line) in new.bounded.items():
        was = old.bounded.get(name)
        if was is not None and was[0] and not bounded:
            for function in grows_in.get(_strip_self(name), ["<module>"]):
                found.add(
                    CodeEdit(kind=CodeEditKind.REMOVED_FREE, file=path, function=function,
                             call=f"the bound of {name}", variable=name, line=line),
                    f"removed the bound of {name} ({path}:{line}): it now grows without limit",
                )  # fmt: skip
    return found


def _growing_functions(side: _Side) -> dict[str, list[str]]:
    grows: dict[str, list[str]] = {}
    for op in side.growth:
        names = grows.setdefault(_strip_self(op.receiver), [])
        if op.function not in names:
            names.append(op.function)
    return grows
