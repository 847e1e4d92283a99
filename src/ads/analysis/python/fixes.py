"""The fix for a Python growth finding: restore a bound, as a unified diff.

What is patched (the statement is located with ``ast``, so the edit lands on the right line,
in the file's own indentation):

* a key insert into a long-lived dict: right after it, the oldest entries are evicted while the
  dict holds more than the bound (``popitem(last=False)`` for an ``OrderedDict``, the first key
  for a plain dict, which keeps insertion order);
* an append to a long-lived list: ``del name[:-bound]`` keeps the newest entries;
  a ``deque``: ``popleft``; a set: ``pop``;
* ``lru_cache(maxsize=None)``/``@cache``: ``lru_cache(maxsize=bound)``.

The bound is the module's own when it still defines one that nothing uses any more (a
``MAX_…``/``…_LIMIT`` constant the commit that removed the eviction left behind); else one that
keeps the container near 16 MiB at the estimated bytes per entry (at most 1024 entries).
Callbacks, logging handlers and unbounded queues get a precise suggestion instead: where the
registration belongs is a design decision.

Pure: text in, text out; the verification applies and runs it.
"""

from __future__ import annotations

import ast
import re

from ...errors import AnalysisError
from ...models import Finding
from ..patches import FixProposal, unified_diff
from .program import container_kind, dotted

__all__ = ["FixProposal", "propose_fix"]

BUDGET_BYTES = 16 * 2**20
MAX_ENTRIES = 1024
_BOUND_NAME = re.compile(r"(^|_)(MAX|LIMIT|CAP|CAPACITY|SIZE|ENTRIES)(_|$)")


def _unused_bound(tree: ast.Module) -> str | None:
    """A module-level integer constant named like a bound that no code reads."""
    loaded = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if (
            isinstance(target, ast.Name)
            and _BOUND_NAME.search(target.id)
            and target.id not in loaded
            and isinstance(value, ast.Constant)
            and isinstance(value.value, int)
            and not isinstance(value.value, bool)
            and value.value > 0
        ):
            return target.id
    return None


def _bound(tree: ast.Module, finding: Finding) -> tuple[str, str]:
    """(the bound as code, why that bound)."""
    name = _unused_bound(tree)
    if name is not None:
        return name, f"{name} entries"
    if finding.bytes_per_iteration:
        entries = max(16, min(MAX_ENTRIES, BUDGET_BYTES // finding.bytes_per_iteration))
        return str(entries), f"{entries} entries"
    return str(MAX_ENTRIES), f"{MAX_ENTRIES} entries"


def _statement_at(tree: ast.Module, line: int) -> ast.stmt | None:
    best: ast.stmt | None = None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.stmt)
            and node.lineno == line
            and (best is None or isinstance(best, ast.FunctionDef | ast.AsyncFunctionDef))
        ):
            best = node
    return best


def _container_kind(tree: ast.Module, name: str) -> str:
    bare = name.removeprefix("self.").removeprefix("cls.")
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                spelled = dotted(target) or ""
                if spelled in (name, bare, f"self.{bare}") and node.value is not None:
                    shape = container_kind(node.value)
                    if shape is not None:
                        return shape[0]
    return "dict"


def _suggestion(path: str, finding: Finding, why: str) -> FixProposal:
    where = f"{path}:{finding.line}"
    return FixProposal(
        path=path,
        summary=f"No automatic fix for the growth at {where}",
        suggestion=f"{finding.issue} ({where}, {finding.function}()): {why}",
    )


def propose_fix(path: str, source: str, finding: Finding) -> FixProposal:
    """The fix for ``finding`` in ``source`` (the text of ``path``, relative to the repo root).

    Raises ``AnalysisError`` when the finding does not match the source."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise AnalysisError(
            f"{path} does not parse as Python ({exc.msg}, line {exc.lineno})"
        ) from None
    lines = source.splitlines(keepends=True)
    statement = _statement_at(tree, finding.line)
    if statement is None and not finding.allocation.startswith("@"):
        raise AnalysisError(
            f"{path}: no statement at line {finding.line} in this version of the file",
            hint="the finding may be for another revision; re-run the analysis",
        )
    bound, why = _bound(tree, finding)
    if finding.allocation.startswith("@"):
        return _bound_cache(path, source, lines, tree, finding, bound, why)
    assert statement is not None
    name = finding.variable or ""
    kind = _container_kind(tree, name)
    if "register" in finding.issue or "handler" in finding.issue or kind == "queue":
        return _suggestion(
            path, finding,
            "register it once at start-up (or remove it when the request ends), or bound the "
            "queue with maxsize=… so producers wait",
        )  # fmt: skip
    indent = re.match(r"[ \t]*", lines[statement.lineno - 1]).group(0)  # type: ignore[union-attr]
    inner = indent + ("    " if "\t" not in indent else "\t")
    if kind == "OrderedDict":
        added = [f"{indent}while len({name}) > {bound}:\n", f"{inner}{name}.popitem(last=False)\n"]
        how = "evicting the oldest"
    elif kind in ("dict", "defaultdict", "Counter"):
        added = [
            f"{indent}while len({name}) > {bound}:\n",
            f"{inner}del {name}[next(iter({name}))]\n",
        ]
        how = "evicting the oldest (dicts keep insertion order)"
    elif kind == "list":
        added = [f"{indent}del {name}[:-{bound}]\n"]
        how = "keeping the newest"
    elif kind == "deque":
        added = [f"{indent}while len({name}) > {bound}:\n", f"{inner}{name}.popleft()\n"]
        how = "dropping the oldest"
    elif kind == "set":
        added = [f"{indent}while len({name}) > {bound}:\n", f"{inner}{name}.pop()\n"]
        how = "dropping the excess"
    else:
        return _suggestion(path, finding, f"bound {name} to {why}")
    end = statement.end_lineno or statement.lineno
    patched = "".join([*lines[:end], *added, *lines[end:]])
    return FixProposal(
        path=path,
        summary=f"Bounded {name} to {why} ({how}) to prevent memory leak",
        diff=unified_diff(path, source, patched),
        patched_source=patched,
    )


def _bound_cache(
    path: str,
    source: str,
    lines: list[str],
    tree: ast.Module,
    finding: Finding,
    bound: str,
    why: str,
) -> FixProposal:
    index = finding.line - 1
    text = lines[index]
    functools_imported = any(
        isinstance(n, ast.Import) and any(a.name == "functools" and not a.asname for a in n.names)
        for n in ast.walk(tree)
    )
    replaced = re.sub(r"maxsize\s*=\s*None", f"maxsize={bound}", text)
    if replaced == text:
        replaced = re.sub(r"lru_cache\(\s*None\s*\)", f"lru_cache(maxsize={bound})", text)
    if replaced == text:
        spelled = "functools.lru_cache" if functools_imported else "lru_cache"
        replaced = re.sub(r"@(functools\.)?cache\b", f"@{spelled}(maxsize={bound})", text)
        if replaced != text and not functools_imported:
            lines = _with_lru_cache_import(lines, tree)
    if replaced == text:
        return _suggestion(path, finding, f"give the cache a bound ({why})")
    patched_lines = list(lines)
    patched_lines[index + (len(lines) - len(source.splitlines(keepends=True)))] = replaced
    patched = "".join(patched_lines)
    return FixProposal(
        path=path,
        summary=f"Bounded the cache of {finding.function}() to {why} (lru_cache) "
        "to prevent memory leak",
        diff=unified_diff(path, source, patched),
        patched_source=patched,
    )


def _with_lru_cache_import(lines: list[str], tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "functools":
            line = lines[node.lineno - 1]
            if node.lineno == node.end_lineno and "lru_cache" not in line:
                updated = line.rstrip("\n").rstrip() + ", lru_cache\n"
                return [*lines[: node.lineno - 1], updated, *lines[node.lineno :]]
            return lines
    return ["from functools import lru_cache\n", *lines]
