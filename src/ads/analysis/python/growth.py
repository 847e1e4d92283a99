"""Unbounded growth in Python: what a request or iteration adds and nothing ever removes.

A finding is a growth operation on a long-lived container (``program.Container``) on a hot path
(``program``: an unbounded loop's body, a web or task handler, or a function they call), when
no code anywhere in the program evicts from that container (``pop``/``popitem``/``del``/
``clear``/a rebinding/a queue consumer) and its constructor does not bound it
(``deque(maxlen=…)``, ``Queue(maxsize=…)``, ``cachetools`` caches, weak dictionaries). Also:
``functools.lru_cache(maxsize=None)``/``@cache`` on a function called per request with an
argument (one entry per distinct argument), and callbacks or logging handlers registered per
request with no matching removal. Growth seen only from code outside what the service runs
(tests, examples) is reported out of scope; a container made inside the request is scoped to it
and is never a finding.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass, field

from ...models import Confidence, Finding, FindingKind, Support
from .program import (
    Container,
    Function,
    HotLoop,
    Module,
    Program,
    dotted,
    fold_int,
    loop_exits,
    own_nodes,
)

__all__ = ["GROWTH_ISSUE", "Growth", "HotPath", "find_growth", "hot_paths"]

GROWTH_ISSUE = "container grows on every request or iteration and nothing evicts from it"
INSERTS = {"setdefault", "update"}
APPENDS = {"append", "extend", "insert", "appendleft", "extendleft", "add", "put", "put_nowait"}
EVICTIONS = {
    "pop", "popitem", "popleft", "clear", "remove", "discard", "get_nowait", "__delitem__",
    "cache_clear", "truncate",
}  # fmt: skip
EVICTING_HELPERS = ("evict", "trim", "prune", "expire", "purge", "cleanup", "clear", "shrink")
REGISTRATIONS = {
    "register": "unregister", "connect": "disconnect", "subscribe": "unsubscribe",
    "add_listener": "remove_listener", "add_event_listener": "remove_event_listener",
    "addListener": "removeListener", "on": "off", "add_callback": "remove_callback",
    "addHandler": "removeHandler", "add_handler": "remove_handler",
}  # fmt: skip
DICT_KINDS = {"dict", "OrderedDict", "defaultdict", "Counter"}
ENTRY_OVERHEAD = 0  # bytes per entry are the value's own: the estimate names what is stored


@dataclass(frozen=True)
class HotPath:
    """Why a function runs per request or iteration: the loop or handler that drives it."""

    reason: str
    loop: HotLoop | None
    in_scope_driver: bool


@dataclass
class Growth:
    """One growth operation on a hot path."""

    fn: Function
    node: ast.AST
    container: Container | None
    what: str  # "insert", "append", "cache", "callback", "handler"
    path: HotPath
    loop: HotLoop | None
    bytes_per_iteration: int | None = None
    reasons: list[str] = field(default_factory=list)


def _calls(fn: Function) -> list[ast.Call]:
    return fn.facts.calls


def hot_paths(program: Program) -> dict[tuple[str, str], HotPath]:
    """Every function that runs per request or per iteration, with what drives it."""
    hot: dict[tuple[str, str], HotPath] = {}
    todo: deque[tuple[Function, HotPath, list[ast.Call]]] = deque()
    for key, fn in program.functions.items():
        if fn.entry is not None:
            path = HotPath(fn.entry, None, program.scope.contains(fn.file))
            hot[key] = path
            todo.append((fn, path, _calls(fn)))
    for loop in program.loops:
        fn = program.functions[(loop.file, loop.function)]
        path = HotPath(f"the loop {loop.describe()}", loop, program.scope.contains(loop.file))
        todo.append((fn, path, [n for s in loop.node.body for n in _calls_in(s)]))
    while todo:
        fn, path, calls = todo.popleft()
        for call in calls:
            callee = program.resolve_call(fn.file, fn, call)
            if callee is None:
                continue
            key = (callee.file, callee.qualname)
            if key in hot:
                continue
            if not path.in_scope_driver and program.scope.contains(callee.file):
                continue  # a test's loop does not make the service's code per-iteration
            hot[key] = HotPath(path.reason, path.loop, path.in_scope_driver)
            todo.append((callee, hot[key], _calls(callee)))
    return hot


def _calls_in(stmt: ast.AST) -> list[ast.Call]:
    nodes = [stmt, *own_nodes(stmt)]
    return [n for n in nodes if isinstance(n, ast.Call)]


def _receiver(call: ast.Call) -> ast.expr | None:
    return call.func.value if isinstance(call.func, ast.Attribute) else None


def _method(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


class _Evictions:
    """Which containers some code removes entries from (or rebinds, or hands to a pruner)."""

    def __init__(self, program: Program, hot: dict[tuple[str, str], HotPath]) -> None:
        self.program = program
        self.evicted: dict[int, ast.AST] = {}  # id(container) → the code that evicts
        referenced = _referenced_names(program)
        for key, fn in program.functions.items():
            # An eviction only counts in code that runs: the module, a hot path, or a function
            # something refers to (a helper nothing calls any more evicts nothing).
            runs = fn.qualname == "<module>" or key in hot or fn.entry is not None
            if runs or fn.name in referenced or fn.name.startswith("__"):
                self._scan(fn)

    def _mark(self, fn: Function, expr: ast.AST | None, how: ast.AST) -> None:
        if expr is None:
            return
        container = self.program.container(fn.file, fn, expr)
        if container is not None:
            self.evicted.setdefault(id(container), how)

    def _scan(self, fn: Function) -> None:
        facts = fn.facts
        for node in [*facts.calls, *facts.deletes, *facts.assigns]:
            if isinstance(node, ast.Call):
                method = _method(node)
                receiver = _receiver(node)
                if method in EVICTIONS or (method == "get" and receiver is not None):
                    container = self.program.container(fn.file, fn, receiver) if receiver else None
                    if container is not None and (method != "get" or container.kind == "queue"):
                        self.evicted.setdefault(id(container), node)
                name = (dotted(node.func) or "").rpartition(".")[2].lower()
                if any(word in name for word in EVICTING_HELPERS):
                    for argument in node.args:
                        self._mark(fn, argument, node)
            elif isinstance(node, ast.Delete):
                for target in node.targets:
                    base = target.value if isinstance(target, ast.Subscript) else target
                    self._mark(fn, base, node)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Slice):
                        self._mark(fn, target.value, node)
                    elif fn.qualname != "<module>" and self._rebinds(fn, target):
                        self._mark(fn, target, node)

    def _rebinds(self, fn: Function, target: ast.expr) -> bool:
        name = dotted(target)
        if name is None:
            return False
        if name.startswith("self."):
            return fn.name != "__init__"
        return name in fn.facts.declared_global and not isinstance(fn.node, ast.Module)


def _referenced_names(program: Program) -> set[str]:
    names: set[str] = set()
    for fn in program.functions.values():
        names |= fn.facts.loads
    return names


def _cache_decorator(fn: Function) -> tuple[ast.expr, str] | None:
    """The decorator that caches ``fn`` without a bound, and how it reads."""
    node = fn.node
    if isinstance(node, ast.Module):
        return None
    for decorator in node.decorator_list:
        name = dotted(decorator.func if isinstance(decorator, ast.Call) else decorator) or ""
        last = name.rpartition(".")[2]
        if last == "cache" and not isinstance(decorator, ast.Call):
            return decorator, f"@{name}"
        if last == "lru_cache" and isinstance(decorator, ast.Call):
            size = next((k.value for k in decorator.keywords if k.arg == "maxsize"), None)
            if size is None and decorator.args:
                size = decorator.args[0]
            if isinstance(size, ast.Constant) and size.value is None:
                return decorator, f"@{ast.unparse(decorator)}"
    return None


def _arguments(fn: Function) -> list[str]:
    node = fn.node
    if isinstance(node, ast.Module):
        return []
    names = [a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]]
    return [n for n in names if n not in ("self", "cls")]


def _enclosing_loop(program: Program, fn: Function, node: ast.AST) -> HotLoop | None:
    best: HotLoop | None = None
    for loop in program.loops:
        if loop.file != fn.file or loop.function != fn.qualname:
            continue
        end = loop.node.end_lineno or loop.node.lineno
        line = getattr(node, "lineno", 0)
        if loop.node.lineno < line <= end and (best is None or loop.node.lineno > best.line):
            best = loop
    return best


class _Sizes:
    """Bytes a stored value takes, where the code says (literals, repeats, constant sizes)."""

    def __init__(self, program: Program) -> None:
        self.program = program

    def of(self, fn: Function, expr: ast.AST | None, depth: int = 0) -> int | None:
        if expr is None or depth > 4:
            return None
        constants = self.program.modules[fn.file].constants
        if isinstance(expr, ast.Constant) and isinstance(expr.value, bytes | str):
            return len(expr.value)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult):
            for part, count in ((expr.left, expr.right), (expr.right, expr.left)):
                times = fold_int(count, constants)
                if times is None:
                    continue
                if isinstance(part, ast.List | ast.Tuple):
                    return 8 * len(part.elts) * times
                unit = self.of(fn, part, depth + 1)
                if unit is not None:
                    return unit * times
            return None
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            left, right = self.of(fn, expr.left, depth + 1), self.of(fn, expr.right, depth + 1)
            return left + right if left is not None and right is not None else left or right
        if isinstance(expr, ast.Call):
            func = expr.func
            name = func.attr if isinstance(func, ast.Attribute) else (dotted(func) or "")
            if name in ("bytes", "bytearray", "urandom", "ljust", "rjust", "center", "zfill"):
                return fold_int(expr.args[0], constants) if expr.args else None
            if name in NUMPY_MAKERS and (dotted(func) or "").startswith(("np.", "numpy.")):
                return _array_bytes(expr, constants)
            callee = self.program.resolve_call(fn.file, fn, expr)
            if callee is not None and not isinstance(callee.node, ast.Module):
                sizes = [
                    self.of(callee, n.value, depth + 1)
                    for n in callee.facts.returns
                    if isinstance(n, ast.Return) and n.value is not None
                ]
                known = [s for s in sizes if s is not None]
                return max(known) if known else None
            return None
        if isinstance(expr, ast.Name):
            line = getattr(expr, "lineno", 0)
            assigned = [
                n
                for n in fn.facts.assigns
                if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)
                and n.lineno <= line
            ]
            if assigned:
                last = max(assigned, key=lambda n: n.lineno)
                return self.of(fn, last.value, depth + 1)
        return None


NUMPY_MAKERS = {"zeros", "ones", "empty", "full", "random", "rand"}
ITEM_SIZES = {
    "float64": 8, "int64": 8, "uint64": 8, "complex64": 8, "float32": 4, "int32": 4,
    "uint32": 4, "float16": 2, "int16": 2, "uint16": 2, "int8": 1, "uint8": 1, "bool": 1,
}  # fmt: skip


def _array_bytes(call: ast.Call, constants: dict[str, int]) -> int | None:
    """``np.zeros((1024, 256), dtype=np.float32)``: the array's buffer (float64 by default)."""
    if not call.args:
        return None
    shape = call.args[0]
    dims = shape.elts if isinstance(shape, ast.Tuple | ast.List) else [shape]
    count = 1
    for dim in dims:
        size = fold_int(dim, constants)
        if size is None:
            return None
        count *= size
    dtype = next((k.value for k in call.keywords if k.arg == "dtype"), None)
    name = (dotted(dtype) or "").rpartition(".")[2] if dtype is not None else "float64"
    if isinstance(dtype, ast.Constant) and isinstance(dtype.value, str):
        name = dtype.value
    return count * ITEM_SIZES.get(name, 8)


def _stored_value(node: ast.AST) -> ast.AST | None:
    if isinstance(node, ast.Assign):
        return node.value
    if isinstance(node, ast.Call):
        method = _method(node)
        if method == "setdefault" and len(node.args) > 1:
            return node.args[1]
        if method in APPENDS and node.args:
            return node.args[-1]
    return None


def _growth_ops(program: Program, fn: Function) -> list[tuple[ast.AST, Container, str]]:
    """(node, container, what) for each growth operation in ``fn``'s own body."""
    found: list[tuple[ast.AST, Container, str]] = []
    facts = fn.facts
    for node in [*facts.assigns, *facts.calls]:
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Subscript) and not isinstance(target.slice, ast.Slice):
                    container = program.container(fn.file, fn, target.value)
                    if container is not None and container.kind in DICT_KINDS:
                        found.append((node, container, "insert"))
                elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add):
                    container = program.container(fn.file, fn, target)
                    if container is not None and container.kind in ("list", "deque"):
                        found.append((node, container, "append"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, node.func.value
            if isinstance(receiver, ast.Subscript) and method in APPENDS:
                container = program.container(fn.file, fn, receiver.value)
                if container is not None and container.kind in DICT_KINDS:
                    found.append((node, container, "insert"))
                continue
            container = program.container(fn.file, fn, receiver)
            if container is None:
                continue
            if method in INSERTS and container.kind in DICT_KINDS | {"set"}:
                found.append((node, container, "insert"))
            elif method in APPENDS:
                fits = {
                    "add": ("set",), "put": ("queue",), "put_nowait": ("queue",),
                }.get(method, ("list", "deque"))  # fmt: skip
                if container.kind in fits:
                    found.append((node, container, "append"))
    return found


def _statement(fn: Function, node: ast.AST) -> ast.AST:
    """The statement holding ``node`` (an expression statement for a bare call)."""
    return fn.facts.expressions.get(id(node), node)


def _registrations(program: Program, fn: Function) -> list[tuple[ast.Call, str, str]]:
    """Per-call registrations with no removal in the same function: (call, what, target)."""
    calls = fn.facts.calls
    methods = {_method(c) for c in calls}
    local_names = fn.facts.stores
    found = []
    for call in calls:
        method, receiver = _method(call), _receiver(call)
        if method not in REGISTRATIONS or receiver is None or REGISTRATIONS[method] in methods:
            continue
        root = receiver
        while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
            root = root.func if isinstance(root, ast.Call) else root.value
        if isinstance(root, ast.Name) and (root.id in local_names or root.id == "self"):
            continue  # registered on an object of this request: it goes with the request
        what = "handler" if method in ("addHandler", "add_handler") else "callback"
        found.append((call, what, dotted(receiver) or "?"))
    return found


def find_growth(program: Program) -> list[Finding]:
    """Every unbounded growth on a hot path, as findings (best first by the caller's ranking)."""
    hot = hot_paths(program)
    evictions = _Evictions(program, hot)
    sizes = _Sizes(program)
    growths: list[Growth] = []
    registries: set[tuple[str, str]] = set()
    for key, fn in program.functions.items():
        path = hot.get(key)
        for node, container, what in _growth_ops(program, fn):
            loop = _enclosing_loop(program, fn, node)
            if loop is not None and container.scope == "loop-local":
                inside = loop.node.lineno <= container.line <= (loop.node.end_lineno or 0)
                ends = loop.shape == "stream" or loop_exits(loop.node)
                if inside or container.owner != fn.qualname or ends:
                    continue  # a loop that ends hands its local on: a result, not growth
            elif container.scope == "loop-local":
                continue  # filled outside any loop: grows once per call of a scoped local
            driver = HotPath(f"the loop {loop.describe()}", loop, True) if loop else path
            if driver is None or container.bounded or id(container) in evictions.evicted:
                continue
            value = _stored_value(node)
            growths.append(
                Growth(fn, _statement(fn, node), container, what, driver, driver.loop,
                       sizes.of(fn, value))
            )  # fmt: skip
        if path is None:
            continue
        cached = _cache_decorator(fn)
        if cached is not None and _arguments(fn) and not _cleared(program, fn):
            growths.append(Growth(fn, cached[0], None, "cache", path, path.loop))
        for call, what, _target in _registrations(program, fn):
            growths.append(Growth(fn, _statement(fn, call), None, what, path, path.loop))
            callee = program.resolve_call(fn.file, fn, call)
            if callee is not None:
                registries.add((callee.file, callee.qualname))
    # The program's own register()/subscribe() grows its list by design: the finding is the
    # per-request registration that calls it, not the append inside.
    kept = [
        g for g in growths
        if g.what not in ("insert", "append") or (g.fn.file, g.fn.qualname) not in registries
    ]  # fmt: skip
    return [_finding(program, g) for g in kept]


def _cleared(program: Program, fn: Function) -> bool:
    """Whether some code calls ``fn.cache_clear()``."""
    return any(
        _method(c) == "cache_clear" and fn.name in (dotted(c.func) or "")
        for f in program.functions.values()
        for c in _calls(f)
    )


def _issue(growth: Growth) -> str:
    unit = "iteration" if growth.loop is not None else "request"
    container = growth.container
    if growth.what == "cache":
        args = ", ".join(_arguments(growth.fn))
        return (
            f"{growth.fn.name}() is cached without a bound: one entry per distinct "
            f"{args} on every {unit}, never evicted"
        )
    if growth.what == "handler":
        return f"a logging handler is added on every {unit} and never removed"
    if growth.what == "callback":
        return f"a callback is registered on every {unit} and never removed"
    assert container is not None
    if container.kind == "queue":
        return f"{container.name} is an unbounded queue filled on every {unit} and never drained"
    if growth.what == "insert":
        return f"entries are added to {container.name} on every {unit} and never evicted"
    return f"{container.name} is appended to on every {unit} and never trimmed"


def _segment(module: Module, node: ast.AST) -> str | None:
    """The node's source text (``ast.get_source_segment`` splits the whole file per call)."""
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    first, last = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
    if start is None or end is None or first is None or last is None:
        return None
    lines = module.lines[start - 1 : end]
    if not lines:
        return None
    if len(lines) == 1:
        return lines[0].encode()[first:last].decode(errors="replace")
    lines[0] = lines[0].encode()[first:].decode(errors="replace")
    lines[-1] = lines[-1].encode()[:last].decode(errors="replace")
    return "\n".join(lines)


def _finding(program: Program, growth: Growth) -> Finding:
    fn, node = growth.fn, growth.node
    module = program.modules[fn.file]
    line = getattr(node, "lineno", fn.line)
    end_line = getattr(node, "end_lineno", None) or line
    text = _segment(module, node) or ast.unparse(node)
    text = " ".join(text.split())
    if growth.what == "cache":
        text = f"@{text}"
    evidence = [f"growth at {fn.file}:{line}: {text}"]
    if growth.container is not None:
        container = growth.container
        evidence.append(
            f"{container.name} ({container.kind}, {container.scope} scope, "
            f"{container.file}:{container.line}) is never evicted from"
        )
    evidence.append(f"runs per {'iteration' if growth.loop else 'request'}: {growth.path.reason}")
    rate = None
    if growth.loop is not None and growth.loop.seconds_per_iteration:
        rate = round(1.0 / growth.loop.seconds_per_iteration, 6)
        evidence.append(f"{rate:g} iterations/s from the sleeps in the loop")
    if growth.bytes_per_iteration is not None:
        size = growth.bytes_per_iteration
        evidence.append(f"{size} bytes ({size / 2**20:.2f} MiB) stored per iteration")
    infinite = growth.loop is not None and growth.loop.shape == "infinite"
    return Finding(
        file=fn.file,
        function=fn.qualname,
        line=line,
        end_line=end_line,
        kind=FindingKind.UNBOUNDED_GROWTH,
        issue=_issue(growth),
        allocation=text,
        variable=growth.container.name if growth.container else fn.name,
        bytes_per_iteration=growth.bytes_per_iteration,
        iterations_per_second=rate,
        loop_line=growth.loop.line if growth.loop else None,
        evidence=evidence,
        confidence=Confidence.HIGH if infinite else Confidence.MEDIUM,
        reasons=[f"{_issue(growth)}: it runs per {'iteration' if growth.loop else 'request'}"],
        support=[Support.PATH],
        in_scope=program.scope.contains(fn.file) and growth.path.in_scope_driver,
    )
