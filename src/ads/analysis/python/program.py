"""A Python program as the growth analysis needs it: modules, functions, containers, hot paths.

Parsed with the standard library's ``ast`` (sources are handed in; nothing is imported or run).
What a memory "leak" is in Python is reachable growth, so the facts gathered are:

* **long-lived containers**: a dict/list/set/deque/queue bound at module level or in a class
  body, one set on ``self`` in ``__init__`` of a class that is not a per-request handler, and a
  local made before an unbounded loop and filled inside it (it lives as long as the loop);
  each with its constructor, so ``deque(maxlen=…)``, ``Queue(maxsize=…)``, ``LRUCache`` and
  weak dictionaries are known to be bounded;
* **functions** by qualified name, with their decorators (web routes, task queues,
  ``lru_cache``) and the calls they make (resolved by name within the program);
* **hot paths**: what runs once per request or per iteration — the bodies of unbounded loops
  (``while True``, ``while running``, ``for … in itertools.count()``, ``async for``), web
  framework handlers (Flask/FastAPI/Django routes, ``do_GET`` of ``http.server`` handlers),
  task-queue tasks (Celery, RQ, dramatiq), and every function they call, transitively.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..scope import BuildScope

__all__ = [
    "Container",
    "Function",
    "HotLoop",
    "Module",
    "Program",
    "dotted",
    "parse_program",
]

CONTAINER_CALLS = {
    "dict": "dict", "list": "list", "set": "set", "OrderedDict": "OrderedDict",
    "defaultdict": "defaultdict", "Counter": "Counter", "deque": "deque",
    "Queue": "queue", "LifoQueue": "queue", "PriorityQueue": "queue", "SimpleQueue": "queue",
    "WeakValueDictionary": "weak", "WeakKeyDictionary": "weak", "WeakSet": "weak",
    "LRUCache": "bounded-cache", "TTLCache": "bounded-cache", "LFUCache": "bounded-cache",
    "TLRUCache": "bounded-cache", "RRCache": "bounded-cache", "MRUCache": "bounded-cache",
}  # fmt: skip
ROUTE_DECORATORS = {
    "route", "get", "post", "put", "patch", "delete", "head", "options", "websocket",
    "api_route", "task", "shared_task", "job", "actor", "periodic_task", "api_view",
    "on_message", "subscriber", "consumer",
}  # fmt: skip
HANDLER_METHODS = {"do_GET", "do_POST", "do_PUT", "do_PATCH", "do_DELETE", "do_HEAD"}
HANDLER_BASES = ("RequestHandler", "BaseHTTPRequestHandler", "StreamRequestHandler")
UNBOUNDED_ITERATORS = {"count", "cycle", "repeat", "stdin", "serve_forever"}
FLAG_METHODS = {"is_set", "wait", "is_alive", "running", "is_running", "alive", "keep_running"}
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def dotted(node: ast.AST | None) -> str | None:
    """``a.b.c`` for a name or attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _callee(node: ast.AST) -> str | None:
    return dotted(node.func) if isinstance(node, ast.Call) else None


def _last(name: str | None) -> str:
    return (name or "").rpartition(".")[2]


@dataclass
class Container:
    """A container that outlives one request or iteration."""

    name: str  # how code refers to it: "_pages", "self.sessions", or a loop-local "results"
    file: str
    line: int
    kind: str  # dict, list, set, deque, queue, OrderedDict, defaultdict, Counter, weak, …
    scope: str  # "module", "class", "instance" or "loop-local"
    bounded: str | None = None  # why it cannot grow without bound, when it cannot
    owner: str | None = None  # the class (instance/class scope) or function (loop-local)


@dataclass
class HotLoop:
    """An unbounded loop: its body runs once per iteration for as long as the service runs."""

    node: ast.While | ast.For | ast.AsyncFor
    function: str  # qualified name of the function holding it ("<module>" at top level)
    file: str
    shape: str  # "infinite", "flag", "stream"
    condition: str
    seconds_per_iteration: float | None

    @property
    def line(self) -> int:
        return self.node.lineno

    def describe(self) -> str:
        return f"{self.condition} at {self.file}:{self.line}"


@dataclass
class Facts:
    """What one walk over a function's own nodes (not nested definitions) finds, sorted by
    what the analysis asks about: read once, asked many times (a code base of 150k lines is
    walked once, not once per question)."""

    calls: list[ast.Call] = field(default_factory=list)
    assigns: list[ast.Assign | ast.AugAssign | ast.AnnAssign] = field(default_factory=list)
    deletes: list[ast.Delete] = field(default_factory=list)
    loops: list[ast.While | ast.For | ast.AsyncFor] = field(default_factory=list)
    returns: list[ast.Return] = field(default_factory=list)
    stores: set[str] = field(default_factory=set)
    loads: set[str] = field(default_factory=set)  # names read and attribute names used
    declared_global: set[str] = field(default_factory=set)
    arguments: set[str] = field(default_factory=set)
    expressions: dict[int, ast.Expr] = field(default_factory=dict)  # id(call) → its statement


_BUCKETS = {
    ast.Call: "calls", ast.Assign: "assigns", ast.AugAssign: "assigns", ast.AnnAssign: "assigns",
    ast.Delete: "deletes", ast.While: "loops", ast.For: "loops", ast.AsyncFor: "loops",
    ast.Return: "returns",
}  # fmt: skip


def _facts(node: ast.AST) -> Facts:
    """One walk of the function's own nodes, sorting what the analysis asks about as it goes."""
    facts = Facts()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        every = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        every += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
        facts.arguments = {a.arg for a in every}
    buckets = {name: getattr(facts, name) for name in set(_BUCKETS.values())}
    by_type = {kind: buckets[name] for kind, name in _BUCKETS.items()}
    stores, loads = facts.stores, facts.loads
    Name, Attribute, Call, Store, Expr = ast.Name, ast.Attribute, ast.Call, ast.Store, ast.Expr
    stack = [node]
    while stack:
        current = stack.pop()
        for name in current._fields:
            if name == "ctx":
                continue
            value = getattr(current, name, None)
            children = value if isinstance(value, list) else (value,)
            for item in children:
                if not isinstance(item, ast.AST):
                    continue
                kind = type(item)
                if kind is Name:
                    (stores if type(item.ctx) is Store else loads).add(item.id)  # type: ignore[attr-defined]
                    continue
                bucket = by_type.get(kind)
                if bucket is not None:
                    bucket.append(item)
                elif kind is Attribute:
                    loads.add(item.attr)  # type: ignore[attr-defined]
                elif kind is Expr and type(item.value) is Call:  # type: ignore[attr-defined]
                    facts.expressions[id(item.value)] = item  # type: ignore[attr-defined,assignment]
                elif kind is ast.Global or kind is ast.Nonlocal:
                    facts.declared_global.update(item.names)  # type: ignore[attr-defined]
                if not isinstance(item, _DEFINITIONS):
                    stack.append(item)
    return facts


@dataclass
class Function:
    """One function or method, by qualified name (``Class.method``)."""

    qualname: str
    file: str
    node: FunctionNode | ast.Module
    cls: str | None = None
    entry: str | None = None  # why it runs per request ("Flask route", "http.server handler")
    _facts: Facts | None = field(default=None, repr=False, compare=False)

    @property
    def facts(self) -> Facts:
        if self._facts is None:
            self._facts = _facts(self.node)
        return self._facts

    @property
    def name(self) -> str:
        return self.qualname.rpartition(".")[2]

    @property
    def line(self) -> int:
        return getattr(self.node, "lineno", 1)


@dataclass
class Module:
    file: str
    tree: ast.Module
    source: str
    constants: dict[str, int] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)  # local name → imported dotted name
    handler_classes: set[str] = field(default_factory=set)
    _lines: list[str] | None = field(default=None, repr=False)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.source.splitlines()
        return list(self._lines)


@dataclass
class Program:
    """Every parsed module of a service, with what the growth analysis asks of it."""

    modules: dict[str, Module] = field(default_factory=dict)
    functions: dict[tuple[str, str], Function] = field(default_factory=dict)  # (file, qualname)
    containers: dict[tuple[str, str, str | None], Container] = field(default_factory=dict)
    loops: list[HotLoop] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    damaged: set[tuple[str, str]] = field(default_factory=set)
    scope: BuildScope = field(default_factory=BuildScope)
    #: (file, name, owning class or None) → the constructor it was bound to (``PageCache``)
    instances: dict[tuple[str, str, str | None], str] = field(default_factory=dict)
    _module_names: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _class_names: dict[str, set[str]] | None = field(default=None, repr=False)

    def function_at(self, file: str, line: int) -> Function | None:
        """The innermost function of ``file`` whose lines hold ``line``."""
        best: Function | None = None
        for (path, _), fn in self.functions.items():
            node = fn.node
            if path != file or isinstance(node, ast.Module):
                continue
            if node.lineno <= line <= (node.end_lineno or node.lineno) and (
                best is None or node.lineno >= best.line
            ):
                best = fn
        return best

    def container(self, file: str, fn: Function, expr: ast.AST) -> Container | None:
        """The long-lived container ``expr`` names inside ``fn``, if any."""
        name = dotted(expr)
        if name is None:
            return None
        if name.startswith(("self.", "cls.")) and fn.cls is not None:
            attr = name.partition(".")[2]
            return self.containers.get((file, f"self.{attr}", fn.cls)) or self.containers.get(
                (file, f"{fn.cls}.{attr}", None)
            )
        local = self.containers.get((file, name, fn.qualname))
        if local is not None:
            return local
        if "." not in name and fn.qualname != "<module>" and _assigns_locally(fn, name):
            return None  # a local of the same name shadows the module's
        found = self.containers.get((file, name, None))
        if found is not None:
            return found
        module = self.modules.get(file)
        imported = module.imports.get(name.partition(".")[0]) if module else None
        if imported is not None:
            target = imported if "." not in name else f"{imported}.{name.partition('.')[2]}"
            module_path, _, attr = target.rpartition(".")
            for other in self._modules_named(module_path):
                found = self.containers.get((other, attr, None))
                if found is not None:
                    return found
        return None

    def _modules_named(self, dotted_name: str) -> list[str]:
        if not dotted_name:
            return []
        cached = self._module_names.get(dotted_name)
        if cached is None:
            tail = dotted_name.lstrip(".").replace(".", "/")
            cached = [
                file
                for file in self.modules
                if (stem := file.removesuffix(".py").removesuffix("/__init__")) == tail
                or stem.endswith("/" + tail)
            ]
            self._module_names[dotted_name] = cached
        return cached

    def resolve_call(self, file: str, fn: Function, call: ast.Call) -> Function | None:
        """The program's function a call reaches, by name (``f()``, ``self.m()``, ``mod.f()``)."""
        name = dotted(call.func)
        if name is None:
            return None
        if name.startswith("self.") and fn.cls is not None and name.count(".") == 1:
            return self.functions.get((file, f"{fn.cls}.{name[5:]}"))
        if "." not in name:
            local = self.functions.get((file, name))
            if local is not None:
                return local
            if name in self._classes(file):  # instantiating a class runs its __init__
                return self.functions.get((file, f"{name}.__init__"))
        method = self._method_of_instance(file, fn, name)
        if method is not None:
            return method
        module = self.modules.get(file)
        head, _, rest = name.partition(".")
        imported = module.imports.get(head) if module else None
        if imported is not None:
            target = f"{imported}.{rest}" if rest else imported
            module_path, _, attr = target.rpartition(".")
            for other in self._modules_named(module_path):
                found = self.functions.get((other, attr))
                if found is not None:
                    return found
        return None

    def _method_of_instance(self, file: str, fn: Function, name: str) -> Function | None:
        """``CACHE.put()`` / ``self.cache.put()``: a method of the class the module (or the
        object's ``__init__``) instantiated under that name."""
        parts = name.split(".")
        where: tuple[str, str | None] | None = None
        if len(parts) == 2:
            where = self._instance(file, parts[0])
        elif len(parts) == 3 and parts[0] == "self" and fn.cls is not None:
            ctor = self.instances.get((file, f"self.{parts[1]}", fn.cls))
            where = (file, ctor) if ctor else None
        if where is None or where[1] is None:
            return None
        found = self._class_named(where[0], where[1])
        return self.functions.get((found[0], f"{found[1]}.{parts[-1]}")) if found else None

    def _instance(self, file: str, name: str) -> tuple[str, str | None] | None:
        """(file, constructor) of a module-level instance, here or imported by name."""
        ctor = self.instances.get((file, name, None))
        if ctor is not None:
            return file, ctor
        module = self.modules.get(file)
        imported = module.imports.get(name) if module else None
        if imported is None:
            return None
        module_path, _, attr = imported.rpartition(".")
        for other in self._modules_named(module_path):
            ctor = self.instances.get((other, attr, None))
            if ctor is not None:
                return other, ctor
        return None

    def _class_named(self, file: str, ctor: str) -> tuple[str, str] | None:
        """Where the class a constructor call names is defined: (file, class)."""
        if ctor in self._classes(file):
            return file, ctor
        module = self.modules.get(file)
        head, _, rest = ctor.partition(".")
        imported = module.imports.get(head) if module else None
        if imported is None:
            return None
        target = f"{imported}.{rest}" if rest else imported
        module_path, _, cls = target.rpartition(".")
        for other in self._modules_named(module_path):
            if cls in self._classes(other):
                return other, cls
        return None

    def _classes(self, file: str) -> set[str]:
        if self._class_names is None:
            self._class_names = {}
            for (path, _), fn in self.functions.items():
                if fn.cls:
                    self._class_names.setdefault(path, set()).add(fn.cls)
        return self._class_names.get(file, set())


def _assigns_locally(fn: Function, name: str) -> bool:
    facts = fn.facts
    if name in facts.declared_global:
        return False
    return name in facts.stores or name in facts.arguments


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of functions or classes nested in it (nor the
    ``Load``/``Store`` context markers): one explicit walk, the hot loop of the analysis."""
    stack = [node]
    while stack:
        current = stack.pop()
        for name in current._fields:
            if name == "ctx":
                continue
            value = getattr(current, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        yield item
                        if not isinstance(item, _DEFINITIONS):
                            stack.append(item)
            elif isinstance(value, ast.AST):
                yield value
                if not isinstance(value, _DEFINITIONS):
                    stack.append(value)


def own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Public alias of the body walk that stops at nested definitions."""
    return _own_nodes(node)


def fold_int(node: ast.AST | None, constants: dict[str, int]) -> int | None:
    """The integer value of a constant expression (``PAGE_KB * 1024``), when it has one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return int(node.value) if not isinstance(node.value, bool) else None
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = fold_int(node.operand, constants)
        return -inner if inner is not None else None
    if isinstance(node, ast.BinOp):
        left, right = fold_int(node.left, constants), fold_int(node.right, constants)
        if left is None or right is None:
            return None
        ops = {
            ast.Add: lambda: left + right,
            ast.Sub: lambda: left - right,
            ast.Mult: lambda: left * right,
            ast.FloorDiv: lambda: left // right if right else None,
            ast.Div: lambda: int(left / right) if right else None,
            ast.LShift: lambda: left << right if 0 <= right < 64 else None,
            ast.Pow: lambda: left**right if 0 <= right < 64 else None,
        }
        compute = ops.get(type(node.op))
        return compute() if compute else None
    return None


def fold_float(node: ast.AST | None, constants: dict[str, int | float]) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in constants:
        return float(constants[node.id])
    if isinstance(node, ast.BinOp):
        left, right = fold_float(node.left, constants), fold_float(node.right, constants)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Div) and right:
            return left / right
        if isinstance(node.op, ast.Mult):
            return left * right
    return None


def container_kind(value: ast.AST | None) -> tuple[str, str | None] | None:
    """(kind, why bounded) when ``value`` constructs a container, else None."""
    if isinstance(value, ast.Dict | ast.DictComp):
        return "dict", None
    if isinstance(value, ast.List | ast.ListComp):
        return "list", None
    if isinstance(value, ast.Set | ast.SetComp):
        return "set", None
    if not isinstance(value, ast.Call):
        return None
    name = _last(dotted(value.func))
    kind = CONTAINER_CALLS.get(name)
    if kind is None:
        return None
    keywords = {k.arg: k.value for k in value.keywords if k.arg}
    if kind == "deque":
        maxlen = keywords.get("maxlen") or (value.args[1] if len(value.args) > 1 else None)
        if maxlen is not None and not _is_none(maxlen):
            return kind, "deque(maxlen=…) drops the oldest entries"
    if kind == "queue" and name != "SimpleQueue":
        size = keywords.get("maxsize") or (value.args[0] if value.args else None)
        if size is not None and not _is_none(size) and not _is_zero(size):
            return kind, "a bounded queue (maxsize=…) blocks its producers"
    if kind == "weak":
        return kind, "weak references: entries go when nothing else holds them"
    if kind == "bounded-cache":
        return kind, f"{name} evicts beyond its maxsize"
    return kind, None


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0


def _entry_of(fn: FunctionNode, cls: ast.ClassDef | None, file: str) -> str | None:
    """Why ``fn`` runs once per request or task, if it does."""
    for decorator in fn.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = _last(dotted(target))
        if name in ROUTE_DECORATORS:
            return f"@{dotted(target)} handler"
    if cls is not None:
        bases = [_last(dotted(b)) for b in cls.bases]
        handler_class = any(b.endswith(HANDLER_BASES) for b in bases)
        if fn.name in HANDLER_METHODS or (handler_class and fn.name == "handle"):
            return "request handler method"
        view_class = any(b.endswith(("View", "APIView", "ViewSet", "Resource")) for b in bases)
        if view_class and fn.name in {"get", "post", "put", "patch", "delete"}:
            return "class-based view method"
    args = fn.args.posonlyargs + fn.args.args
    if PurePosixPath(file).name == "views.py" and args and args[0].arg == "request":
        return "Django view"
    return None


def _short(node: ast.AST) -> str:
    """How a loop's condition reads, without unparsing a huge literal."""
    name = dotted(node.func) if isinstance(node, ast.Call) else dotted(node)
    if isinstance(node, ast.Call) and name:
        return f"{name}(…)" if node.args or node.keywords else f"{name}()"
    if name:
        return name
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return f"not {_short(node.operand)}"
    return type(node).__name__.lower()


_DRAINING = {"pop", "popleft", "popitem", "get", "get_nowait"}


def _drains(node: ast.While) -> bool:
    """Whether the loop's condition names a container its body takes entries from."""
    tested = {dotted(n) for n in ast.walk(node.test) if isinstance(n, ast.Name | ast.Attribute)}
    tested.discard(None)
    for stmt in node.body:
        for n in [stmt, *_own_nodes(stmt)]:
            if (
                isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and n.func.attr in _DRAINING
                and dotted(n.func.value) in tested
            ):
                return True
            if isinstance(n, ast.Delete) and any(
                isinstance(t, ast.Subscript) and dotted(t.value) in tested for t in n.targets
            ):
                return True
    return False


def loop_exits(node: ast.While | ast.For | ast.AsyncFor) -> bool:
    """Whether the loop's own body can leave it (``break`` of this loop, or ``return``)."""
    todo: list[ast.AST] = list(node.body)
    while todo:
        current = todo.pop()
        if isinstance(current, ast.Return | ast.Break):
            return True
        if isinstance(current, _DEFINITIONS):
            continue
        for child in ast.iter_child_nodes(current):
            if isinstance(child, ast.While | ast.For | ast.AsyncFor):
                todo.extend(n for n in ast.walk(child) if isinstance(n, ast.Return))
            else:
                todo.append(child)
    return False


def _loop_shape(node: ast.While | ast.For | ast.AsyncFor) -> tuple[str, str] | None:
    """(shape, condition text) for an unbounded loop, None for a bounded one."""
    if isinstance(node, ast.While):
        test = node.test
        text = f"while {_short(test)}"
        if isinstance(test, ast.Constant):
            return ("infinite", text) if test.value else None
        if _drains(node):
            return None  # a worklist: `while stack: … stack.pop()` ends when it is empty
        bare = (
            test.operand if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) else test
        )
        if isinstance(bare, ast.Name | ast.Attribute):
            return "flag", text  # while running / while not self.stopped
        if (
            isinstance(bare, ast.Call)
            and isinstance(bare.func, ast.Attribute)
            and bare.func.attr in FLAG_METHODS
        ):
            return "flag", text  # while not stop.is_set()
        return None  # a comparison or a predicate on what the loop changes: it ends
    iterator = node.iter
    text = f"{'async ' if isinstance(node, ast.AsyncFor) else ''}for … in {_short(iterator)}"
    if isinstance(node, ast.AsyncFor):
        return "stream", text
    name = _last(_callee(iterator) or dotted(iterator))
    if name == "iter" and isinstance(iterator, ast.Call) and len(iterator.args) == 2:
        return "stream", text  # iter(queue.get, None): until the sentinel comes
    if name in UNBOUNDED_ITERATORS:
        return "infinite" if name in {"count", "cycle", "repeat"} else "stream", text
    return None


def _sleep_seconds(body: Sequence[ast.stmt], constants: dict[str, int | float]) -> float | None:
    """Seconds one iteration sleeps (``time.sleep``/``asyncio.sleep`` with a constant)."""
    total = 0.0
    for stmt in body:
        for node in [stmt, *_own_nodes(stmt)]:
            if isinstance(node, ast.Call) and _last(dotted(node.func)) == "sleep" and node.args:
                seconds = fold_float(node.args[0], constants)
                if seconds is not None and seconds > 0:
                    total += seconds
    return total or None


def _float_constants(tree: ast.Module) -> dict[str, int | float]:
    found: dict[str, int | float] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if isinstance(target, ast.Name):
            number = fold_float(value, found)
            if number is not None:
                found[target.id] = number
    return found


def _int_constants(tree: ast.Module) -> dict[str, int]:
    found: dict[str, int] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if isinstance(target, ast.Name):
            number = fold_int(value, found)
            if number is not None:
                found[target.id] = number
    return found


def _imports(tree: ast.Module, file: str) -> dict[str, str]:
    names: dict[str, str] = {}
    package = PurePosixPath(file).parent.as_posix().replace("/", ".")
    for node in module_statements(tree.body):  # imports inside functions are not followed
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.partition(".")[0]] = (
                    alias.name if alias.asname else alias.name.partition(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = f"{package}.{base}".strip(".") if package not in ("", ".") else base
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}".strip(".")
    return names


def module_statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, including those under ``if``/``try``/``with`` at top level."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If | ast.Try | ast.With):
            for inner in ("body", "orelse", "finalbody"):
                yield from module_statements(getattr(stmt, inner, []))
            for handler in getattr(stmt, "handlers", []):
                yield from module_statements(handler.body)


def _assigned(stmt: ast.stmt) -> list[tuple[ast.expr, ast.expr]]:
    if isinstance(stmt, ast.Assign):
        return [(t, stmt.value) for t in stmt.targets]
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        return [(stmt.target, stmt.value)]
    return []


class _Indexer:
    """One module's functions, containers and loops, added to the program."""

    def __init__(self, program: Program, module: Module) -> None:
        self.program = program
        self.module = module
        self.floats = _float_constants(module.tree)

    def index(self) -> None:
        file, tree = self.module.file, self.module.tree
        top = Function("<module>", file, tree)
        self.program.functions[(file, "<module>")] = top
        for stmt in module_statements(tree.body):
            for target, value in _assigned(stmt):
                self._maybe_container(target, value, "module", None)
                self._maybe_instance(target, value, None)
        self._loops(top)
        for node in tree.body:
            self._definition(node, None, "")

    def _maybe_instance(self, target: ast.AST, value: ast.AST, owner: str | None) -> None:
        """``CACHE = PageCache()``: calls of ``CACHE.put()`` reach ``PageCache.put``."""
        name = dotted(target)
        ctor = dotted(value.func) if isinstance(value, ast.Call) else None
        if name is None or ctor is None or not ctor.rpartition(".")[2][:1].isupper():
            return  # classes are named in CapWords; a call of a function is not an instance
        self.program.instances.setdefault((self.module.file, name, owner), ctor)

    def _maybe_container(
        self, target: ast.AST, value: ast.AST, scope: str, owner: str | None
    ) -> None:
        name = dotted(target)
        shape = container_kind(value)
        if name is None or shape is None:
            return
        kind, bounded = shape
        key = (self.module.file, name, owner)
        if key not in self.program.containers:
            self.program.containers[key] = Container(
                name, self.module.file, getattr(target, "lineno", 0), kind, scope, bounded, owner
            )

    def _definition(self, node: ast.AST, cls: ast.ClassDef | None, prefix: str) -> None:
        if isinstance(node, ast.ClassDef):
            qual = f"{prefix}{node.name}"
            bases = [_last(dotted(b)) for b in node.bases]
            if any(b.endswith(HANDLER_BASES) for b in bases):
                self.module.handler_classes.add(qual)
            for stmt in node.body:
                for target, value in _assigned(stmt):
                    if isinstance(target, ast.Name):
                        attr = ast.Attribute(ast.Name(qual), target.id, ast.Load())
                        ast.copy_location(attr, target)
                        self._maybe_container(attr, value, "class", None)
                self._definition(stmt, node, f"{qual}.")
            return
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        qual = f"{prefix}{node.name}"
        owner = cls.name if cls is not None else None
        if cls is not None and prefix.count(".") == 1:
            owner = prefix.rstrip(".")
        fn = Function(qual, self.module.file, node, owner, _entry_of(node, cls, self.module.file))
        self.program.functions[(self.module.file, qual)] = fn
        if (
            node.name == "__init__"
            and owner is not None
            and owner not in self.module.handler_classes
        ):
            for each in fn.facts.assigns:
                if isinstance(each, ast.Assign | ast.AnnAssign):
                    for target, value in _assigned(each):
                        if dotted(target) and str(dotted(target)).startswith("self."):
                            self._maybe_container(target, value, "instance", owner)
                        if str(dotted(target) or "").startswith("self."):
                            self._maybe_instance(target, value, owner)
        self._loops(fn)
        for inner in node.body:
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self._definition(inner, None, f"{qual}.")

    def _loops(self, fn: Function) -> None:
        for node in fn.facts.loops:
            shape = _loop_shape(node)
            if shape is None:
                continue
            loop = HotLoop(
                node,
                fn.qualname,
                fn.file,
                shape[0],
                shape[1],
                _sleep_seconds(node.body, self.floats),
            )
            self.program.loops.append(loop)
            # Locals made before the loop (not inside it) and filled in it live as long as it.
            inside = {id(n) for n in ast.walk(node)}
            rebound = {
                n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            for stmt in fn.facts.assigns:
                if id(stmt) in inside or not isinstance(stmt, ast.Assign | ast.AnnAssign):
                    continue
                if stmt.lineno > node.lineno:
                    continue
                for target, value in _assigned(stmt):
                    if (
                        isinstance(target, ast.Name)
                        and fn.qualname != "<module>"
                        and target.id not in rebound
                    ):
                        self._maybe_container(target, value, "loop-local", fn.qualname)


def parse_program(files: Sequence[tuple[str, bytes]], scope: BuildScope | None = None) -> Program:
    """Every file parsed and indexed; one that does not parse is named in ``problems``."""
    program = Program(scope=scope or BuildScope())
    for path, data in files:
        text = data.decode("utf-8", errors="replace")
        try:
            tree = ast.parse(text, filename=path, type_comments=False)
        except (SyntaxError, ValueError) as exc:
            where = f":{exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
            program.problems.append(f"{path}{where}: {exc.__class__.__name__}: {exc}")
            continue
        module = Module(path, tree, text, _int_constants(tree), _imports(tree, path))
        program.modules[path] = module
    for module in program.modules.values():
        _Indexer(program, module).index()
    return program
