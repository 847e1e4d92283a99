"""The repo's C code as one program: its functions, what each does with its pointer arguments,
which of them are allocator wrappers, and which run inside unbounded loops.

Summaries are what keep the leak analysis honest on real code (on redis, every suspect of a naive
syntax rule was memory handed to a list or returned): a pointer handed to one of the repo's own
functions is followed into that function, transitively; a function whose code is not in the repo
is *uncertain*, never assumed to free.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import tree_sitter
import tree_sitter_c

from ads.analysis.c.aggregates import (
    address_argument,
    assigns_allocation,
    fills_members,
    hands_on_members,
    hands_to_a_release,
    releases_aggregate,
    writes_through,
)
from ads.analysis.c.branches import single_definitions, writes_of
from ads.analysis.c.constants import ConstantTable
from ads.analysis.c.dispatch import Dispatch
from ads.analysis.c.expressions import PATH_ENDERS, REALLOC_FAILURE
from ads.analysis.c.flow import (
    NORETURN,
    CalleeEffect,
    PathState,
    Region,
    Status,
    follow,
    initial_state,
    pointer_test,
)
from ads.analysis.c.statics import static_pointers, unreleased_slots
from ads.analysis.c.syntax import (
    LOOP_TYPES,
    Node,
    WordIndex,
    arrow_of,
    callee_name,
    declarators,
    declared_name,
    definition_of,
    find_all,
    find_kinds,
    function_declarator,
    function_name,
    function_parameters,
    line_of,
    parse_c,
    pointer_parameters,
    returns_pointer,
    strip_expression,
    text_of,
    walk,
)
from ads.analysis.c.vocabulary import BASE_ALLOCATORS, BASE_RELEASERS, OUT_PARAM_ALLOCATORS
from ads.analysis.scope import BuildScope

__all__ = ["BASE_ALLOCATORS", "Function", "LoopInfo", "Program"]

FREES = BASE_RELEASERS
# Library functions that read or write through a pointer but neither free nor keep it.
_USES_ONLY_NAMES = """memset memcpy memmove memcmp memchr strlen strnlen strcpy strncpy
    strcat strncat strcmp
    strncmp strcasecmp strncasecmp strchr strrchr strstr strspn strcspn strtok strtok_r sprintf
    snprintf vsnprintf vsprintf printf fprintf dprintf puts fputs fputc putc fwrite fread fgets
    read write pread pwrite send recv sendto recvfrom sscanf fscanf atoi atol atoll strtol
    strtoul strtoll strtoull strtod strtof qsort bsearch perror fflush bzero explicit_bzero
    inet_ntop inet_pton getcwd gethostname stat fstat lstat fopen open access unlink mkdir
    rename memrchr toupper tolower isalpha isdigit isspace assert syslog strdup strndup
    wcslen wcsnlen wcscpy wcsncpy wcscat wcsncat wcscmp wcsncmp wcschr wcsrchr wcsstr wcstol
    wcstoul wcstod wmemset wmemcpy wmemmove wmemcmp wprintf fwprintf swprintf vswprintf
    fputws fgetws wcsftime mbstowcs wcstombs puts fputs strerror_r"""
USES_ONLY = frozenset(_USES_ONLY_NAMES.split())
SLEEPS = {"usleep": 1e-6, "sleep": 1.0}
_MAX_SUMMARY_DEPTH = 12
#: the words of a C name: ``OPENSSL_free`` → OPENSSL, free; ``xmlFree`` → xml, Free
_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")
_DROPS = ("unref", "decref")


def external_release_name(name: str) -> bool:
    """A library's release by its name, for a function whose code is not in the repository:
    the last word ends in "free" or drops a reference (``OPENSSL_free``, ``ldap_memfree``,
    ``ber_memvfree``, ``xmlFree``, ``g_object_unref``, ``json_decref``). Only the last word,
    so ``krb5_free_principal(ctx, p)`` and ``XFreeGC(display, gc)``, which take a context
    first, are not read as releasing their first argument."""
    words = _NAME_WORDS.findall(name)
    last = words[-1].lower() if words else ""
    return last.endswith("free") or last in _DROPS


#: the node kinds looked up in function bodies often enough to find together (``Function.find``)
BODY_KINDS = (
    "call_expression", "init_declarator", "assignment_expression", "declaration",
    "return_statement",
)  # fmt: skip


@dataclass
class Function:
    name: str
    file: str
    node: Node
    params: list[str]
    locals: frozenset[str]
    returns_pointer: bool
    is_static: bool = False
    return_type: str = ""  # the type's name, so typedef'd pointers (``sds``) can be told apart

    _found: dict[str, list[Node]] | None = None

    def find(self, kind: str) -> list[Node]:
        """``find_all(self.body, kind)``; the ``BODY_KINDS`` are found by one query for all of
        them, once per function (every summary and every site asks for some of them). The
        list is shared: callers read it, never change it."""
        if kind not in BODY_KINDS:
            return find_all(self.body, kind)
        if self._found is None:
            self._found = find_kinds(self.body, BODY_KINDS)
        return self._found[kind]

    @property
    def calls(self) -> list[Node]:
        """Every call expression in the body, computed once."""
        return self.find("call_expression")

    _callees: list[str | None] | None = None

    @property
    def callees(self) -> list[str | None]:
        """``callee_name`` of each of ``calls``, in the same order, computed once: the
        discovery rounds, the driving loops and the member checks all ask for every call."""
        if self._callees is None:
            self._callees = [callee_name(call) for call in self.calls]
        return self._callees

    _body: tuple[Node | None] | None = None

    @property
    def body(self) -> Node | None:
        if self._body is None:
            self._body = (self.node.child_by_field_name("body"),)
        return self._body[0]

    _targets: dict[str, str] | None = None

    @property
    def pointer_targets(self) -> dict[str, str]:
        """Local function pointers initialised with a function's name and never assigned
        again: a call through one is a call of that function."""
        if self._targets is None:
            found: dict[str, str] = {}
            assigned: set[str] = set()
            nodes = [*self.find("init_declarator"), *self.find("assignment_expression")]
            for node in nodes:
                if node.type == "init_declarator":
                    value = strip_expression(node.child_by_field_name("value"))
                    name = declared_name(node.child_by_field_name("declarator"))
                    inner = node.child_by_field_name("declarator")
                    pointer_to_function = inner is not None and "(*" in text_of(inner)
                    if (
                        name
                        and value is not None
                        and value.type == "identifier"
                        and (pointer_to_function)
                    ):
                        found[name] = text_of(value)
                elif node.type == "assignment_expression":
                    assigned.add(text_of(node.child_by_field_name("left")))
            self._targets = {k: v for k, v in found.items() if k not in assigned}
        return self._targets

    _pointer_types: dict[str, str] | None = None

    @property
    def pointer_types(self) -> dict[str, str]:
        """Parameters and locals declared as one-level pointers to a named type: name → type
        (``clusterNode *n`` → ``clusterNode``; ``struct sdshdr *sh`` → ``sdshdr``)."""
        if self._pointer_types is None:
            found: dict[str, str] = {}
            nodes = [
                *find_all(self.node.child_by_field_name("declarator"), "parameter_declaration"),
                *self.find("declaration"),
            ]
            for node in nodes:
                words = text_of(node.child_by_field_name("type")).split()
                words = [w for w in words if w not in ("const", "struct", "volatile", "union")]
                if not words:
                    continue
                for inner in declarators(node):
                    if inner.type != "pointer_declarator":
                        continue
                    name = inner.child_by_field_name("declarator")
                    if name is not None and name.type == "identifier":
                        found[text_of(name)] = words[-1]
            self._pointer_types = found
        return self._pointer_types

    _arrays: frozenset[str] | None = None

    @property
    def local_arrays(self) -> frozenset[str]:
        """Locals declared as arrays (``char staticbuf[1024]``): storage on the stack, which a
        heap block can never be equal to (``if (buf != staticbuf) free(buf);``)."""
        if self._arrays is None:
            names = set()
            for node in self.find("declaration"):
                for inner in declarators(node):
                    array: Node | None = inner
                    while array is not None and array.type == "pointer_declarator":
                        array = array.child_by_field_name("declarator")  # T *samples[16]
                    if array is not None and array.type == "array_declarator":
                        name = declared_name(array)
                        if name:
                            names.add(name)
            self._arrays = frozenset(names)
        return self._arrays

    _pointees: dict[str, str] | None = None

    @property
    def local_pointees(self) -> dict[str, str]:
        """Pointer locals that only ever stand for another local: ``T **pp = &data;`` never
        assigned again and used only as ``*pp``. A store ``*pp = x`` is a store into ``data``,
        not an escape (Juliet's two-pointer flow). A ``pp`` passed, returned or re-pointed is
        not one: what a callee does through it is the callee's business."""
        if self._pointees is None:
            found: dict[str, str] = {}
            for node in self.find("init_declarator"):
                value = strip_expression(node.child_by_field_name("value"))
                name = declared_name(node.child_by_field_name("declarator"))
                if (
                    name
                    and value is not None
                    and value.type == "pointer_expression"
                    and value.children[0].type == "&"
                ):
                    target = strip_expression(value.child_by_field_name("argument"))
                    pointee = text_of(target) if target is not None else ""
                    bare_local = target is not None and target.type == "identifier"
                    if bare_local and pointee != name and pointee in self.locals:
                        found[name] = pointee
            self._pointees = {
                name: target for name, target in found.items() if self._only_dereferenced(name)
            }
        return self._pointees

    def _only_dereferenced(self, name: str) -> bool:
        for node in find_all(self.body, "identifier"):
            if text_of(node) != name:
                continue
            parent = node.parent
            if parent is None:
                return False
            if parent.type == "init_declarator" or (
                parent.type.endswith("declarator") and parent.type != "init_declarator"
            ):
                continue  # the declaration itself
            if parent.type == "pointer_expression" and parent.children[0].type == "*":
                continue
            return False
        return True

    @property
    def line(self) -> int:
        return line_of(self.node)


@dataclass
class LoopInfo:
    """How a loop ends: ``infinite`` (while (1), for (;;)), ``flag`` (while (running)),
    ``input`` (while (read(...) > 0)) or ``counted`` (for (i = 0; i < n; i++))."""

    node: Node
    function: Function
    shape: str
    condition: str
    seconds_per_iteration: float | None
    #: the loop reaches the function through a function pointer (a dispatch table entry, an
    #: event handler), not by a chain of direct calls
    through_pointer: bool = False

    @property
    def unbounded(self) -> bool:
        return self.shape != "counted"

    @property
    def line(self) -> int:
        return line_of(self.node)

    def describe(self) -> str:
        return f"{self.condition} at {self.function.file}:{self.line}"


_VALUES = """
(initializer_list (identifier) @value)
(initializer_pair value: (identifier) @value)
(argument_list (identifier) @value)
(assignment_expression right: (identifier) @value)
(init_declarator value: (identifier) @value)
(initializer_list (cast_expression value: (identifier) @value))
(initializer_pair value: (cast_expression value: (identifier) @value))
(argument_list (cast_expression value: (identifier) @value))
(assignment_expression right: (cast_expression value: (identifier) @value))
"""


@lru_cache(maxsize=1)
def _values_query() -> tree_sitter.Query:
    return tree_sitter.Query(tree_sitter.Language(tree_sitter_c.language()), _VALUES)


def _identifiers_used_as_values(root: Node) -> list[Node]:
    """Identifiers a file uses as values (table entries, callback arguments, assignments, also
    cast to a pointer type: jq's ``{(cfunction_ptr)f_plus, "_plus", 3}``):
    the functions among them are reached through function pointers (dispatch tables,
    event-loop handlers), not by name. Run by tree-sitter's query engine, not in Python."""
    captures = tree_sitter.QueryCursor(_values_query()).captures(root)
    return captures.get("value", [])


def _returned_names(fn: Function) -> frozenset[str]:
    """The variables ``fn`` returns by name (``return zl;``)."""
    names = set()
    for node in fn.find("return_statement"):
        value = strip_expression(node.named_children[0]) if node.named_children else None
        if value is not None and value.type == "identifier":
            names.add(text_of(value))
    return frozenset(names)


def _locals_of(fn: Function) -> frozenset[str]:
    names = {p for p in fn.params if p}
    for node in fn.find("declaration"):
        if any(
            c.type == "storage_class_specifier" and text_of(c) == "static" for c in node.children
        ):
            continue
        for declarator in declarators(node):
            name = declared_name(declarator)
            if name:
                names.add(name)
    return frozenset(names)


_NORETURN_MARK = re.compile(rb"\b(?:[A-Z_]*NORETURN|NO_RETURN|_Noreturn|noreturn|__noreturn__)\b")


def _returned_parameter(fn: Function) -> int | None:
    """The index of a parameter ``fn`` returns as it is (``return path;``, ``return c ? c :
    parent;``), or None."""
    for node in fn.find("return_statement"):
        pending: list[Node | None] = [node.named_children[0]] if node.named_children else []
        while pending:
            value = strip_expression(pending.pop())
            if value is None:
                continue
            if value.type == "conditional_expression":
                pending += [value.child_by_field_name("consequence"),
                            value.child_by_field_name("alternative")]  # fmt: skip
            elif value.type == "identifier" and text_of(value) in fn.params:
                return fn.params.index(text_of(value))
    return None


def _values_given(value: Node) -> list[Node]:
    """Each initialiser and plain assignment of the local ``value`` names,
    in its function; empty when it is not a local identifier, or its address is taken, or it
    is changed some other way (``rc |= …``, ``rc++``)."""
    if value.type != "identifier":
        return []
    name = text_of(value)
    function = definition_of(value)
    body = function.child_by_field_name("body") if function is not None else None
    given: list[Node] = []
    declared = False
    for node in walk(body) if body is not None else []:
        if (
            node.type == "init_declarator"
            and declared_name(node.child_by_field_name("declarator")) == name
        ):
            declared = True
            if (init := node.child_by_field_name("value")) is not None:
                given.append(init)
        elif (
            node.type == "assignment_expression"
            and text_of(strip_expression(node.child_by_field_name("left"))) == name
        ):
            operator = node.child_by_field_name("operator")
            if operator is None or operator.type != "=":
                return []
            if (right := node.child_by_field_name("right")) is not None:
                given.append(right)
        elif node.type in ("update_expression", "pointer_expression") and name in {
            text_of(strip_expression(node.child_by_field_name("argument")))
        }:
            return []
    return given if declared else []


def _null_test_of(condition: Node | None, target: str) -> bool | None:
    """For a test of ``target`` (``*out``): whether it holds exactly when that is NULL; None
    for a condition that tests something else."""
    test = pointer_test(condition, deref=True)
    return test[1] if test is not None and test[0] == target else None


def _under_null_test(value: Node, param: str) -> bool:
    """Whether the ``return`` of ``value`` runs only when ``*param`` is NULL: in the branch of
    ``if (!*param)`` (curl's ``if(!*out) return CURLE_OUT_OF_MEMORY;``)."""
    inner, node = value, value.parent
    while node is not None and node.type != "function_definition":
        if node.type == "if_statement":
            null = _null_test_of(node.child_by_field_name("condition"), f"*{param}")
            consequence = node.child_by_field_name("consequence")
            inside = consequence is not None and consequence.id == inner.id
            if null is not None and null == inside:
                return True
        inner, node = node, node.parent
    return False


def _arm_when_filled(value: Node, param: str) -> Node:
    """``return *out ? 0 : 3;``: the arm a filled ``*param`` returns; else ``value``."""
    bare = strip_expression(value)
    if bare is None or bare.type != "conditional_expression":
        return value
    null = _null_test_of(bare.child_by_field_name("condition"), f"*{param}")
    arm = {True: "alternative", False: "consequence"}.get(null) if null is not None else None
    chosen = bare.child_by_field_name(arm) if arm is not None else None
    return chosen if chosen is not None else value


def _nonzero_there(value: Node) -> bool:
    """``if (r) { …; return r; }``: the returned variable is the condition that let the
    path in, so it is not 0 there (``r != 0`` and ``r < 0`` say the same)."""
    name = text_of(value) if value.type == "identifier" else ""
    node = value.parent
    while node is not None and node.type not in ("if_statement", "function_definition"):
        child, node = node, node.parent
        if node is not None and node.type == "if_statement":
            consequence = node.child_by_field_name("consequence")
            if consequence is None or consequence.id != child.id:
                return False
    if not name or node is None or node.type != "if_statement":
        return False
    cond = strip_expression(node.child_by_field_name("condition"))
    if cond is not None and cond.type == "binary_expression":
        operator = cond.child_by_field_name("operator")
        right = text_of(cond.child_by_field_name("right")).strip()
        if operator is None or (operator.type, right) not in (("!=", "0"), ("<", "0")):
            return False
        cond = strip_expression(cond.child_by_field_name("left"))
    return cond is not None and cond.type == "identifier" and text_of(cond) == name


@dataclass
class Program:
    """Every function of the analysed files, with lazily computed summaries."""

    constants: ConstantTable
    functions: dict[str, list[Function]] = field(default_factory=dict)
    allocators: set[str] = field(default_factory=lambda: set(BASE_ALLOCATORS))
    wrappers: dict[str, Function] = field(default_factory=dict)
    #: the repo's functions that allocate into ``*param`` (name → parameter index)
    out_params: dict[str, int] = field(default_factory=dict)
    #: function-like macros that assign an allocation to their argument itself (git's
    #: ``CALLOC_ARRAY(x, n)``: ``(x) = xcalloc(...)``), name → parameter index: the block
    #: lands in the variable named at the call, not behind it
    assigning_macros: dict[str, int] = field(default_factory=dict)
    #: out-parameter allocators that fill it only on the paths that return 0 (and return a
    #: non-zero constant on every path that does not): git's and redis's getters
    filled_on_zero: set[str] = field(default_factory=set)
    #: out-parameter allocators that fill it only on the paths that return non-zero (``TRUE``)
    #: and return 0 on every path that does not: curl's ``split_str()``
    filled_on_nonzero: set[str] = field(default_factory=set)
    #: pointer wrappers that return either a fresh block or one of their arguments as it
    #: came (git's ``add_slash(path)``, rax's ``raxRemoveChild(parent, …)``), name → index
    passes_through: dict[str, int] = field(default_factory=dict)
    #: functions declared never to return (``NORETURN void die(…)``): a call ends the path
    noreturn: set[str] = field(default_factory=set)
    #: prototypes of functions: which parameters are ``const T *`` (read, never released)
    read_only: dict[str, list[bool]] = field(default_factory=dict)
    #: which files are the service's own code (other programs' loops drive nothing)
    scope: BuildScope = field(default_factory=BuildScope)
    _summaries: dict[tuple[str, str, int], CalleeEffect] = field(default_factory=dict)
    _depth: int = 0
    _loops: dict[int, LoopInfo] = field(default_factory=dict)
    _held: dict[tuple[str, str, int], bool] = field(default_factory=dict)  # (kind, name, index)
    _allocation_calls: dict[int, tuple[int, list[Node]]] = field(default_factory=dict)
    _conditions: dict[int, frozenset[tuple[str, str]]] = field(default_factory=dict)
    _writes: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    _definitions: dict[int, dict[str, Node]] = field(default_factory=dict)
    _handle_types: frozenset[str] | None = None
    _unions: dict[int, frozenset[str]] = field(default_factory=dict)
    _members: dict[int, frozenset[str]] = field(default_factory=dict)  # fn → p->array members
    #: file → its ``static T *`` variables; (file, name) → whether some use may release it
    statics: dict[str, list[str]] = field(default_factory=dict)
    static_verdicts: dict[tuple[str, str], bool] = field(default_factory=dict)
    _slots: dict[int, frozenset[str]] = field(default_factory=dict)
    _macros: dict[str, Function | None] = field(default_factory=dict)
    _values: dict[str, list[Node]] = field(default_factory=dict)  # file → identifiers as values
    _macro_trees: list[tree_sitter.Tree] = field(default_factory=list)
    _failing: dict[str, bool] = field(default_factory=dict)  # name → only fails (``error``)
    #: (callee, index) → whether it fills that struct parameter only when it returns 0
    #: (True), only when it does not (False), or either way (None)
    _conventions: dict[tuple[str, int], bool | None] = field(default_factory=dict)
    _enders: tuple[int, re.Pattern[bytes]] | None = None
    _ending: dict[int, bool] = field(default_factory=dict)  # node → holds a path ender
    _constants: dict[int, int | None] = field(default_factory=dict)  # node → its value
    #: fn → (how many allocators there were, the locals assigned an allocation)
    _allocated: dict[int, tuple[int, frozenset[str]]] = field(default_factory=dict)
    #: (how many allocators there were, name → whether calling it allocates)
    _allocating: tuple[int, dict[str, bool]] = field(default_factory=lambda: (-1, {}))
    _indexes: dict[int, WordIndex] = field(default_factory=dict)  # fn → its words' positions
    _hints: tuple[int, frozenset[str]] | None = None  # (macros seen, branch_hints())
    #: (function, parameter index) → the returns seen with the walks of its filling sites
    #: every function in the order added, and file → its functions: asked for by every
    #: whole-program pass, so kept instead of rebuilt from ``functions`` each time
    _all: list[Function] = field(default_factory=list)
    _by_file: dict[str, list[Function]] = field(default_factory=dict)
    _listed: tuple[int, list[Function]] = field(default_factory=lambda: (0, []))
    _fill_returns: dict[tuple[int, int], list[tuple[Node | None, PathState]]] = field(
        default_factory=dict
    )

    def region(
        self,
        fn: Function,
        *,
        site: Node | None = None,
        out_param: str | None = None,
        aggregate: bool = False,
    ) -> Region:
        """The region to follow a pointer through ``fn``, with what the program knows of its
        locals (function-pointer targets, pointers standing for locals, unions)."""
        from ads.analysis.c.sites import variable_of  # c_sites builds on this module

        status = variable_of(site) if site is not None and out_param is not None else None
        passed = self._passed_argument(site)
        on_zero, on_nonzero = set(self.filled_on_zero), set(self.filled_on_nonzero)
        if aggregate and site is not None and out_param is not None:
            name = callee_name(site)
            convention = self._aggregate_convention(site, out_param, fn.file)
            if name is not None and convention is not None:
                (on_zero if convention else on_nonzero).add(name)
        return Region(
            fn.file,
            fn.locals,
            self,
            site=site,
            out_param=out_param,
            calls=fn.pointer_targets,
            pointees=fn.local_pointees,
            arrays=fn.local_arrays,
            array_members=self._array_members(fn),
            unions=self._union_locals(fn),
            static_slots=self._static_slots(fn),
            allocated=self._allocated_locals(fn),
            filled_on_zero=frozenset(on_zero),
            filled_on_nonzero=frozenset(on_nonzero),
            aggregate=aggregate,
            status_var=status,
            passed_argument=passed,
            index=self._word_index(fn),
            branch_hints=self.branch_hints(),
        )

    def flags_failure(self, name: str | None, index: int, file: str) -> bool:
        """Whether the repo's ``name`` returns a pointer and writes ``*param`` (parameter
        ``index``) only with 0, or with a non-zero constant as the last thing before a
        ``return NULL;`` (jq's ``sort_items(…, &too_deep)``): the caller's test of that flag
        is a test of the result."""
        fn = self.lookup(name, file) if name else None
        if fn is None or fn.body is None or index >= len(fn.params) or not fn.params[index]:
            return False
        if not fn.returns_pointer:
            return False
        param, flagged = fn.params[index], False
        for node in walk(fn.body):
            if node.type != "assignment_expression":
                continue
            left = strip_expression(node.child_by_field_name("left"))
            if left is None or " ".join(text_of(left).split()) != f"*{param}":
                continue
            value = self.constant(node.child_by_field_name("right"))
            if value is None or (value != 0 and not _then_returns_null(node, self)):
                return False
            flagged = flagged or value != 0
        return flagged

    def branch_hints(self) -> frozenset[str]:
        """``__builtin_expect`` and the one-parameter macros whose body is just it, or just
        their parameter (``#define likely(x) __builtin_expect(!!(x), 1)``; the ``(x)`` of a
        build without it): a condition wrapped in one tests what it wraps."""
        if self._hints is None or self._hints[0] != len(self.constants.macro_bodies):
            found = {"__builtin_expect"}
            for name, (params, body) in self.constants.macro_bodies.items():
                if len(params) == 1 and _is_hint_body(body, params[0]):
                    found.add(name)
            self._hints = (len(self.constants.macro_bodies), frozenset(found))
        return self._hints[1]

    def _aggregate_convention(self, site: Node, local: str, file: str) -> bool | None:
        """For ``f(…, &v, …)`` filling the struct local ``v``: True when ``f`` fills that
        parameter only on the paths that return 0 (git's ``read_directory_contents()``: ``return
        error(…)`` before), False when only on those that return non-zero (``parse_signature()``
        fills both strbufs inside ``if (match != size) { …; return 1; }``), None otherwise."""
        name = callee_name(site)
        arguments = site.child_by_field_name("arguments")
        passed = [address_argument(a) for a in (arguments.named_children if arguments else [])]
        if name is None or local not in passed:
            return None
        return self._convention_of(name, passed.index(local), file)

    def _convention_of(self, name: str, index: int, file: str) -> bool | None:
        """``_fill_convention``, once per callee and parameter."""
        key = (name, index)
        if key not in self._conventions:
            self._conventions[key] = None  # a recursive filler decides nothing
            self._conventions[key] = self._fill_convention(name, index, file)
        return self._conventions[key]

    def _fill_convention(self, name: str, index: int, file: str) -> bool | None:
        """``_aggregate_convention``, by walking ``name`` from its first call that hands the
        parameter on to be written: which returns come with it filled."""
        fn = self.lookup(name, file)
        if fn is None or fn.body is None or index >= len(fn.params) or not fn.params[index]:
            return None
        param = fn.params[index]
        fills = [
            call
            for call in fn.calls
            if (callee := callee_name(call)) is not None
            and (arguments := call.child_by_field_name("arguments")) is not None
            and any(
                text_of(strip_expression(a)) == param
                and writes_through(self, fn.file, callee, i)
                and not self.releases_aggregate(callee, i, fn.file)  # the cleanup of a failure
                for i, a in enumerate(arguments.named_children)
            )
        ]
        if not fills:  # r->path = strdup(path): the first block stored into a member
            fills = [
                value
                for assignment in fn.find("assignment_expression")
                if (target := arrow_of(assignment.child_by_field_name("left"))) is not None
                and target[0] == param
                and (value := strip_expression(assignment.child_by_field_name("right"))) is not None
                and value.type == "call_expression"
                and self.allocates(callee_name(value))
            ]
        if not fills:
            return None
        region = self.region(fn, site=min(fills, key=lambda c: c.start_byte), out_param=param)
        region.aggregate, region.returns = True, []
        follow(region, fn.body, initial_state())
        # a path that released what it had filled (``strbuf_getcwd``: released, then -1)
        # hands the caller nothing, like one that never filled
        empty_states = (Status.NONE, Status.DEAD, Status.FREED)
        filled = [v for v, st in region.returns if st.status not in empty_states]
        seen = {v.id for v, _ in region.returns if v is not None}
        # the walk skips the returns before the site (every path there holds nothing)
        empty = [v for v, st in region.returns if st.status in (Status.NONE, Status.FREED)] + [
            node.named_children[0] if node.named_children else None
            for node in walk(fn.body)
            if node.type == "return_statement"
            and not (node.named_children and node.named_children[0].id in seen)
        ]
        if not filled or not empty or any(v is None for v in filled + empty):
            return None
        # what the caller's test relies on: every filled return is the one value (``if
        # (f(&v))`` got nothing), and some return that fills nothing is the other
        zero = [v is not None and self.constants.evaluate(v) == 0 for v in filled + empty]
        other = [v is not None and self._nonzero(v, fn.file) for v in filled + empty]
        if all(zero[: len(filled)]) and any(other[len(filled) :]):
            return True
        if all(other[: len(filled)]) and any(zero[len(filled) :]):
            return False
        return None

    def _word_index(self, fn: Function) -> WordIndex:
        key = id(fn.node)
        if key not in self._indexes:
            self._indexes[key] = WordIndex(fn.node)
        return self._indexes[key]

    def _passed_argument(self, site: Node | None) -> str | None:
        """The argument a pass-through wrapper called at ``site`` may hand back as it is."""
        index = self.passes_through.get(callee_name(site) or "") if site is not None else None
        arguments = site.child_by_field_name("arguments") if site is not None else None
        given = arguments.named_children if arguments is not None else []
        if index is None or index >= len(given):
            return None
        return " ".join(text_of(given[index]).split())

    def _allocated_locals(self, fn: Function) -> frozenset[str]:
        """Names in ``fn`` that receive an allocation's result (``p = zmalloc(n)``)."""
        from ads.analysis.c.sites import variable_of  # c_sites builds on this module

        known = len(self.allocators)
        cached = self._allocated.get(id(fn))
        if cached is None or cached[0] != known:
            calls = self.allocation_calls(fn)
            names = frozenset(name for call in calls if (name := variable_of(call)) is not None)
            cached = self._allocated[id(fn)] = (known, names)
        return cached[1]

    def _static_slots(self, fn: Function) -> frozenset[str]:
        key = id(fn.node)
        if key not in self._slots:
            self._slots[key] = unreleased_slots(self, fn) if fn.body is not None else frozenset()
        return self._slots[key]

    def _array_members(self, fn: Function) -> frozenset[str]:
        """``p->buf`` for each pointer ``p`` of ``fn`` whose struct declares ``buf`` an array
        (once per function: every allocation site in it asks)."""
        key = id(fn.node)
        if key not in self._members:
            self._members[key] = frozenset(
                f"{name}->{member}"
                for name, kind in fn.pointer_types.items()
                for member in self.constants.array_fields(kind)
            )
        return self._members[key]

    def _union_locals(self, fn: Function) -> frozenset[str]:
        key = id(fn.node)
        if key not in self._unions:
            names: set[str] = set()
            for node in fn.find("declaration"):
                if not self.constants.is_union(node.child_by_field_name("type")):
                    continue
                for inner in declarators(node):
                    if inner.type == "identifier":
                        names.add(text_of(inner))
            self._unions[key] = frozenset(names)
        return self._unions[key]

    def add_file(self, path: str, root: Node) -> None:
        self.constants.add_file(root)
        self._allocating = (-1, {})  # what a macro allocates may have changed
        self._constants.clear()
        self._values[path] = _identifiers_used_as_values(root)
        for node in walk(root, skip=frozenset({"function_definition"})):
            if node.type in ("declaration", "function_definition"):
                self._note_noreturn(node)
            if node.type == "declaration":
                self._add_prototype(node)
                if pointers := static_pointers(node):
                    self.statics.setdefault(path, []).extend(pointers)
                continue
            if node.type != "function_definition":
                continue
            name = function_name(node)
            if not name:
                continue
            params = function_parameters(node)
            fn = Function(name, path, node, params, frozenset(), returns_pointer(node))
            fn.locals = _locals_of(fn)
            fn.is_static = any(
                c.type == "storage_class_specifier" and text_of(c) == "static"
                for c in node.children
            )
            fn.return_type = text_of(node.child_by_field_name("type"))
            self.functions.setdefault(name, []).append(fn)
            self._all.append(fn)
            self._by_file.setdefault(path, []).append(fn)

    def _knows(self, name: str) -> bool:
        """A name the analysis can say something about: the C library's or the repo's own."""
        return (
            name in self.functions or name in FREES or name in BASE_ALLOCATORS or name in USES_ONLY
        )

    def macro_function(self, name: str) -> Function | None:
        """A function-like macro's body as a function of its parameters, so that what it does
        with each argument is summarised like a function's: ``#define dictSetKey(d, e, k)
        (e)->key = (k)`` keeps ``k``; ``FREE_AND_NULL(p)`` frees it. None when the body is not
        a statement C can parse (token pasting, a partial expression, a type)."""
        if name in self._macros:
            return self._macros[name]
        self._macros[name] = None
        params, body = self.constants.macro_bodies.get(name, ([], ""))
        named = [p for p in params if p.isidentifier()]
        if not named or len(named) != len(params) or "#" in body:
            return None
        declared = ", ".join(f"void *{p}" for p in named)
        tree = parse_c(f"void {name}({declared}) {{ {body}; }}\n".encode())
        if tree.root_node.has_error:
            return None
        node = next(
            (n for n in tree.root_node.named_children if n.type == "function_definition"), None
        )
        if node is None:
            return None
        self._macro_trees.append(tree)  # the nodes live as long as their tree
        macro = Function(name, "<macro>", node, named, frozenset(), False)
        macro.locals = _locals_of(macro)
        self._macros[name] = macro
        return macro

    def _macro_effect(self, name: str, file: str) -> CalleeEffect:
        """A function-like macro (``JVP_IS_ALLOCATED(j)``, ``FREE_AND_NULL(p)``): it frees
        when its body calls something that frees, else it only uses its arguments."""
        for used in self.constants.macro_names.get(name, frozenset()):
            if used == name:
                continue
            target = self.constants.resolve(used, self._knows)
            if target in FREES:
                return CalleeEffect.FREES
            callee = self.lookup(target, file)
            if callee is not None and any(
                self.effect(target, i, file) is CalleeEffect.FREES
                for i in range(len(callee.params))
            ):
                return CalleeEffect.FREES
        return CalleeEffect.USES

    def _note_noreturn(self, node: Node) -> None:
        """``NORETURN void die(…);``, ``void panic(…) __attribute__((noreturn));``,
        ``_Noreturn void fatal(int)``: a call of the function ends the path."""
        body = node.child_by_field_name("body")
        end = body.start_byte if body is not None else node.end_byte
        head = (node.text or b"")[: end - node.start_byte]
        if not _NORETURN_MARK.search(head):
            return
        declarator = next(iter(find_all(node, "function_declarator")), None)
        if declarator is None or (body is not None and declarator.start_byte >= body.start_byte):
            return
        name = text_of(declarator.child_by_field_name("declarator"))
        if name.isidentifier() and name not in self.noreturn:
            self.noreturn.add(name)
            self._ending.clear()

    def _add_prototype(self, node: Node) -> None:
        """``void printLine(const char *line);``: which parameters the declared function only
        reads (``const T *``), for when its code is not in the repository."""
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.type == "pointer_declarator":
            declarator = declarator.child_by_field_name("declarator")
        if declarator is None or declarator.type != "function_declarator":
            return
        name = text_of(declarator.child_by_field_name("declarator"))
        if name and declarator.child_by_field_name("parameters") is not None:
            self.read_only.setdefault(name, _const_pointers(declarator))

    def lookup(self, name: str, file: str) -> Function | None:
        """The definition a call in ``file`` reaches: the same file's first, else any."""
        found = self.functions.get(name)
        if not found and not self._knows(name):  # snprintf stays the C library's, whatever
            # a platform shim renames it to (#define snprintf c99_snprintf, Windows only)
            found = self.functions.get(self.constants.resolve(name, self.functions.__contains__))
        if not found:
            return None
        same_file = next((f for f in found if f.file == file), None)
        if same_file is not None:
            return same_file
        # another file's static function is invisible here; a header's static inline is not
        return next((f for f in found if not f.is_static or f.file.endswith(".h")), None)

    def all_functions(self) -> list[Function]:
        """Every function, grouped by name in the order names were first seen."""
        if len(self._all) != self._listed[0]:
            self._listed = (len(self._all), [fn for g in self.functions.values() for fn in g])
        return self._listed[1]

    def functions_in(self, file: str) -> list[Function]:
        """The functions defined in ``file``, in source order."""
        return self._by_file.get(file, [])

    # ----------------------------------------------------------------- CalleeOracle
    def _decided(self, key: tuple[str, str, int], decide: Callable[[], bool]) -> bool:
        """``decide()``, once per key; False while it is being decided, so a question that
        recurses through the call graph (a filler handing its struct to itself) ends."""
        if key not in self._held:
            self._held[key] = False
            self._held[key] = decide()
        return self._held[key]

    def releases_aggregate(self, name: str, index: int, file: str) -> bool:
        """Whether ``name(…, &local, …)`` releases what a struct local holds (``c_aggregates``):
        its own body frees a member, or a helper it hands the struct to does (and it puts no
        fresh memory in: a constructor cleaning up its failure is a filler)."""
        return self._decided(
            ("aggregate", name, index),
            lambda: (
                releases_aggregate(self, file, name, index)
                or (
                    not self.puts_memory_in(name, index, file)
                    and self.releases_members(name, index, file)
                )
            ),
        )

    def fills_members(self, name: str | None, index: int, file: str) -> bool:
        """Whether ``name(…, p, …)`` puts fresh heap memory into a member of ``*p`` and leaves
        it there for the caller (``c_aggregates``)."""
        if name is None:
            return False

        def decide() -> bool:
            if not self.puts_memory_in(name, index, file) or self.hands_on_members(
                name, index, file
            ):
                return False
            if not hands_to_a_release(self, file, name, index):
                return True
            # one that also releases them (fills, works, cleans up: merge_ort's entry points)
            # leaves the caller nothing; one that releases them only on its failure
            # (``repo_init``: ``repo_clear(repo); return -1;``) is a filler whose result says
            # which
            return self._convention_of(name, index, file) is not None

        return self._decided(("fills", name, index), decide)

    def puts_memory_in(self, name: str, index: int, file: str) -> bool:
        """``fills_members`` before asking whether the callee also releases or hands on."""
        return self._decided(
            ("fills-at-all", name, index), lambda: fills_members(self, file, name, index)
        )

    def hands_on_members(self, name: str | None, index: int, file: str) -> bool:
        """Whether ``name(…, &local, …)`` gives away what the local holds (``c_aggregates``)."""
        if name is None:
            return False
        return self._decided(
            ("hands", name, index), lambda: hands_on_members(self, file, name, index)
        )

    def fills(self, name: str | None, index: int) -> bool:
        """Whether ``name`` is one of the repo's out-parameter allocators for argument
        ``index`` (``Curl_bundle_create(data, &bundle)``): what it frees on its own failure is
        what it was filling, so a call of it is no release."""
        return name is not None and self.out_params.get(name) == index

    def assigns_allocation(self, name: str, index: int) -> bool:
        """Whether the macro ``name`` assigns heap memory to its argument ``index``."""
        return self._decided(
            ("assigns", name, index), lambda: assigns_allocation(self, name, index)
        )

    def returns_pointer(self, name: str, file: str) -> bool:
        fn = self.lookup(name, file)
        return fn is not None and fn.returns_pointer

    def never_returns(self, name: str) -> bool:
        return name in NORETURN or name in self.noreturn

    @property
    def path_enders(self) -> re.Pattern[bytes]:
        if self._enders is None or self._enders[0] != len(self.noreturn):
            words = b"|".join(re.escape(n.encode()) for n in sorted(self.noreturn))
            pattern = re.compile(PATH_ENDERS.pattern + (b"|" + words if words else b""))
            self._enders = (len(self.noreturn), pattern)
            self._ending.clear()
        return self._enders[1]

    def may_end_path(self, node: Node) -> bool:
        """Whether ``node``'s text holds a path ender, once per node: every allocation site's
        walk of a function asks it of the same statements (``_note_noreturn`` forgets the
        answers when the enders grow)."""
        found = self._ending.get(node.id)
        if found is None:
            found = self.path_enders.search(node.text or b"") is not None
            self._ending[node.id] = found
        return found

    def constant(self, node: Node | None) -> int | None:
        """``constants.evaluate`` of the bare ``node``, once per node: the walk of every site
        asks it of the same conditions (``add_file`` forgets the answers)."""
        if node is None:
            return None
        if node.id not in self._constants:
            self._constants[node.id] = self.constants.evaluate(strip_expression(node))
        return self._constants[node.id]

    def effect(self, name: str | None, index: int, file: str) -> CalleeEffect:
        if name is None:
            return CalleeEffect.UNCERTAIN
        name = self.constants.resolve(name, self._knows)
        if name in FREES or (name in ("realloc", "reallocarray") and index == 0):
            return CalleeEffect.FREES
        fn = self.lookup(name, file)
        if fn is None:  # code outside the repo, or a macro
            if name in USES_ONLY:
                return CalleeEffect.USES
            if name in self.constants.macro_names:
                macro = self.macro_function(name)
                if macro is None:
                    return self._macro_effect(name, file)
                if _casts_parameter(macro, index):
                    return CalleeEffect.RETURNS  # CURL_UNCONST(p): ((void *)(p)) is p
                fn = macro
            elif (
                index == 0 and external_release_name(name) and len(self.read_only.get(name, [])) < 2
            ):
                return CalleeEffect.FREES  # OPENSSL_free(p): a library's own release
            else:
                flags = self.read_only.get(name, [])
                # declared ``const T *``: code outside the repo that only reads through it
                return (
                    CalleeEffect.USES
                    if index < len(flags) and flags[index]
                    else CalleeEffect.UNCERTAIN
                )
        if _scalar_parameter(fn.node, index):
            return CalleeEffect.USES  # strbuf_setlen(&sb, sb.len - 1): a number holds no block
        key = (fn.file, fn.name, index)
        if key not in self._summaries:
            if self._depth >= _MAX_SUMMARY_DEPTH:
                # too deep from where it is asked: that says nothing of ``fn`` itself, so it
                # is not kept (kept, ``fn`` stayed "unknown" for every later caller, and a
                # finding depended on which function happened to be analysed first)
                return CalleeEffect.UNCERTAIN
            effect = self._summarise(fn, index)
            if effect in (CalleeEffect.USES, CalleeEffect.UNCERTAIN) and self._releases_held(
                fn.name, index, fn.file, 0
            ):
                effect = CalleeEffect.FREES  # jv_free(j): releases what the handle holds
            elif effect is CalleeEffect.UNCERTAIN and self._const_parameter(fn, index):
                # write_bulk(const char *buf) handing buf on through a function pointer
                # (redis's rio r->write): a read-only parameter does not take the block
                effect = CalleeEffect.USES
            elif effect is CalleeEffect.KEEPS and self._pool_release(fn, index):
                effect = CalleeEffect.FREES
            self._summaries[key] = effect
        return self._summaries[key]

    def _pool_release(self, fn: Function, index: int) -> bool:
        """``pool_free(pool, p)``: a function named as a release (last word ends in "free")
        that keeps its last pointer argument in what another argument reaches (the pool's free
        list, a cache) returns the block to a pool. For the caller that is a release: the
        block is no longer its to hold, and a path without the call leaks it (haproxy releases
        every buffer, trash chunk and stream this way)."""
        if not external_release_name(fn.name) or len(fn.params) < 2:
            return False
        pointers = pointer_parameters(fn.node)
        held = [i for i, pointer in enumerate(pointers) if pointer]
        return len(held) >= 2 and held[-1] == index

    @staticmethod
    def _const_parameter(fn: Function, index: int) -> bool:
        declarator = function_declarator(fn.node)
        flags = _const_pointers(declarator) if declarator is not None else []
        return index < len(flags) and flags[index]

    def _summarise(self, fn: Function, index: int) -> CalleeEffect:
        """What ``fn`` does with parameter ``index`` on its paths that return."""
        if index >= len(fn.params) or not fn.params[index] or fn.body is None:
            return CalleeEffect.USES  # variadic or unnamed: the callee cannot reach it by name
        self._summaries[(fn.file, fn.name, index)] = CalleeEffect.USES  # recursion guard
        self._depth += 1
        try:
            region = self.region(fn)
            outcome = follow(region, fn.body, initial_state([fn.params[index]], fn.line))
        finally:
            self._depth -= 1
        ends = [_grown_is_released(st) for st in [*outcome.fall.values(), *outcome.ret.values()]]
        statuses = {st.status for st in ends} - {Status.NONE}  # NONE: the NULL-check paths
        if Status.ESCAPED in statuses and self._retains(fn, fn.params[index], ends):
            return CalleeEffect.USES  # jv_copy(j): a new reference; the caller keeps its own
        if Status.ESCAPED in statuses and self._hands_back(fn, index, ends):
            return CalleeEffect.RETURNS
        if Status.ESCAPED in statuses:
            return CalleeEffect.KEEPS
        if statuses and statuses == {Status.FREED}:
            return CalleeEffect.FREES
        if Status.FREED in statuses:
            return CalleeEffect.MAY_FREE
        if Status.UNCERTAIN in statuses:
            return CalleeEffect.UNCERTAIN
        return CalleeEffect.USES

    def _hands_back(self, fn: Function, index: int, ends: list[PathState]) -> bool:
        """A pointer parameter that ``fn`` only ever returns (or a pointer computed from it:
        ``curlx_basename(buffer)``), never storing or releasing it: the block stays the
        caller's. Not for a handle passed by value, whose return is the reference itself."""
        escaped = [st for st in ends if st.status is Status.ESCAPED]
        if any(st.status is Status.FREED for st in ends) or not all(
            st.event.startswith("returned") for st in escaped
        ):
            return False
        pointers = pointer_parameters(fn.node)
        typedefed = _parameter_type(fn.node, index) in self.constants.pointer_types
        return index < len(pointers) and (pointers[index] or typedefed)

    def _retains(self, fn: Function, param: str, ends: list[PathState]) -> bool:
        """A reference-count retain: ``fn`` returns its argument after incrementing a count
        reached through it (``j.u.ptr->count++; return j;``, or through a helper such as
        ``jvp_refcnt_inc(j.u.ptr)``)."""
        escaped = [st for st in ends if st.status is Status.ESCAPED]
        if not escaped or not all(st.event.startswith("returned") for st in escaped):
            return False
        if fn.body is None or any(n.type in LOOP_TYPES for n in walk(fn.body)):
            # a retain does one increment; a loop that pushes items and bumps a length
            # (quicklistAppendValuesFromZiplist) fills the container it returns
            return False
        return self._increments_through(fn, param, 0)

    def _increments_through(self, fn: Function, param: str, depth: int) -> bool:
        """Whether ``fn`` increments a counter reached through ``param`` (maybe in a callee)."""

        def mentions(node: Node | None) -> bool:
            return node is not None and any(
                n.type == "identifier" and text_of(n) == param for n in walk(node)
            )

        for node in walk(fn.body) if fn.body is not None else []:
            target = None
            if node.type == "update_expression" and "++" in text_of(node):
                target = node.child_by_field_name("argument")
            elif node.type == "assignment_expression" and (
                text_of(node.child_by_field_name("operator")) == "+="
            ):
                target = node.child_by_field_name("left")
            elif node.type == "call_expression" and depth < 2:
                callee = self.lookup(callee_name(node) or "", fn.file)
                arguments = node.child_by_field_name("arguments")
                for index, argument in enumerate(arguments.named_children if arguments else []):
                    if callee is None or index >= len(callee.params) or not mentions(argument):
                        continue
                    if self._increments_through(callee, callee.params[index], depth + 1):
                        return True
                continue
            if target is not None and target.type == "field_expression" and mentions(target):
                return True
        return False

    # ----------------------------------------------------------------- wrappers
    def allocation_calls(self, fn: Function) -> list[Node]:
        """The calls in ``fn`` that allocate, recomputed only when the allocators grew (the
        wrapper discovery asks for every function in every round)."""
        known = len(self.allocators)
        cached = self._allocation_calls.get(id(fn))
        if cached is not None and cached[0] == known:
            return cached[1]
        found = [n for n, name in zip(fn.calls, fn.callees, strict=True) if self.allocates(name)]
        self._allocation_calls[id(fn)] = (known, found)
        return found

    # ----------------------------------------------------------------- the vocabulary
    def allocates(self, name: str | None) -> bool:
        """Whether calling ``name`` returns fresh heap memory (known, wrapper, or via macro)."""
        if name is None:
            return False
        if len(self.allocators) != self._allocating[0]:
            self._allocating = (len(self.allocators), {})  # the allocators only ever grow
        found = self._allocating[1].get(name)
        if found is None:
            found = name in self.allocators or any(
                t in self.allocators for t in self.constants.targets(name)
            )
            self._allocating[1][name] = found
        return found

    def releases(self, name: str | None, index: int, file: str) -> bool:
        """Whether calling ``name`` releases its argument ``index`` — directly, through the
        repo's wrappers, at an offset (``free(p - HDR)``), on some paths (a reference count
        dropped to zero), or by releasing what the argument holds (``jv_free(j)`` frees
        ``j.u.ptr``)."""
        if name is None:
            return False
        if self.effect(name, index, file) in (CalleeEffect.FREES, CalleeEffect.MAY_FREE):
            return True
        return self._releases_held(self.constants.resolve(name, self._knows), index, file, 0)

    def releases_members(self, name: str | None, index: int, file: str) -> bool:
        """Whether ``name`` releases what the object its pointer argument ``index`` points to
        holds (``strbuf_release(&sb)``, ``repo_clear(&r)``): for a caller passing ``&local``,
        that is the release of the local's resources."""
        if name is None:
            return False
        resolved = self.constants.resolve(name, self._knows)
        if self._releases_held(resolved, index, file, 0, through_pointer=True):
            return True
        if self._frees_pointee(resolved, index, file):
            return True
        return self.releases_members_by_macro(resolved, index, file)

    def releases_members_by_macro(self, name: str | None, index: int, file: str) -> bool:
        """A release macro of what its pointer argument holds (haproxy's ``b_free(buf)`` →
        ``__b_free``: ``pool_free(…, area)`` of ``char *area = (_buf)->area``): no function
        body to follow, the macro's own is read. ``b_free(buf)`` gives the buffer's area back."""
        if name is None:
            return False
        resolved = self.constants.resolve(name, self._knows)
        if self.lookup(resolved, file) is not None or resolved not in self.constants.macro_names:
            return False
        return self.releases_aggregate(resolved, index, file)

    def _frees_pointee(self, name: str, index: int, file: str) -> bool:
        """``ha_free(&p)``: the callee (a function or a macro) frees what its pointer-to-pointer
        parameter points to — ``free(*x)``, or through a copy, ``typeof(x) __x = (x); free(*__x);
        *__x = NULL;`` — so the caller's ``p`` is released (haproxy releases this way 500
        times; it read as "p handed to a macro that only uses it", and a path through it as
        a leak)."""
        key = ("pointee", name, index)
        cached = self._held.get(key)
        if cached is not None:
            return cached
        self._held[key] = False  # recursion guard
        fn = self.lookup(name, file)
        if fn is None and name in self.constants.macro_names:
            fn = self.macro_function(name)
        if fn is None or index >= len(fn.params) or not fn.params[index]:
            return False
        aliases = {fn.params[index]}
        for node in fn.find("init_declarator"):
            value = strip_expression(node.child_by_field_name("value"))
            if value is not None and value.type == "identifier" and text_of(value) in aliases:
                aliases.add(declared_name(node.child_by_field_name("declarator")) or "")
        found = False
        for call in fn.calls:
            arguments = call.child_by_field_name("arguments")
            for i, argument in enumerate(arguments.named_children if arguments else []):
                bare = strip_expression(argument)
                if (
                    bare is None
                    or bare.type != "pointer_expression"
                    or text_of(bare.children[0]) != "*"
                ):
                    continue
                inner = strip_expression(bare.child_by_field_name("argument"))
                if inner is None or inner.type != "identifier" or text_of(inner) not in aliases:
                    continue
                callee = callee_name(call)
                resolved = self.constants.resolve(callee or "", self._knows)
                if resolved in FREES or self.effect(callee, i, fn.file) is CalleeEffect.FREES:
                    found = True
        self._held[key] = found
        return found

    def _releases_held(
        self, name: str, index: int, file: str, depth: int, *, through_pointer: bool = False
    ) -> bool:
        """A release of something derived from parameter ``index`` (a member, a cast, the
        value a helper extracts), found through the call graph to a bounded depth."""
        key = ("members" if through_pointer else "held", name, index)
        cached = self._held.get(key)
        if cached is not None:
            return cached
        fn = self.lookup(name, file)
        if fn is None or index >= len(fn.params) or not fn.params[index] or depth > 4:
            return False
        pointers = pointer_parameters(fn.node)
        by_value = index < len(pointers) and not pointers[index]
        declared = _parameter_type(fn.node, index)
        if not through_pointer and (not by_value or declared in self.constants.pointer_types):
            # a pointer argument whose members are freed (reset(b) frees b->data) is still
            # the caller's block: only a handle passed by value is released this way.
            return False
        self._held[key] = False  # recursion guard
        param = fn.params[index]
        found = any(self._passes_to_release(call, param, fn, depth) for call in fn.calls)
        self._held[key] = found
        return found

    def _passes_to_release(self, call: Node, param: str, fn: Function, depth: int) -> bool:
        callee = callee_name(call)
        arguments = call.child_by_field_name("arguments")
        if callee is None or arguments is None:
            return False
        resolved = self.constants.resolve(callee, self._knows)
        for i, argument in enumerate(arguments.named_children):
            if not any(n.type == "identifier" and text_of(n) == param for n in walk(argument)):
                continue
            if self._copied(argument, param, fn.file):
                continue  # jv_object_has(jv_copy(args), …) releases the copy, not ``args``
            if resolved in FREES or self.effect(callee, i, fn.file) is CalleeEffect.FREES:
                return True
            if resolved != fn.name and self._releases_held(resolved, i, fn.file, depth + 1):
                return True
        return False

    def _copied(self, argument: Node, param: str, file: str) -> bool:
        """``g(param)`` as the argument, where ``g`` only reads or copies ``param`` (``jv_copy``
        takes a new reference and returns it): what the outer call gets is ``g``'s result."""
        bare = strip_expression(argument)
        if bare is None or bare.type != "call_expression":
            return False
        arguments = bare.child_by_field_name("arguments")
        passed = [
            i
            for i, inner in enumerate(arguments.named_children if arguments else [])
            if text_of(strip_expression(inner)) == param
        ]
        name = callee_name(bare)
        return len(passed) == 1 and self.effect(name, passed[0], file) is CalleeEffect.USES

    def is_growth_site(self, call: Node) -> bool:
        """``x = realloc(x, n)`` (or through a temporary): the same storage grown in place,
        not a fresh allocation."""
        from ads.analysis.c.sites import growth_target  # c_sites builds on this module

        fn_name = self.constants.resolve(callee_name(call) or "", self._knows)
        realloc_like = fn_name in ("realloc", "reallocarray") or (
            fn_name in self.wrappers and "realloc" in fn_name
        )
        if not realloc_like:
            return False
        body = call.parent
        while body is not None and body.type != "function_definition":
            body = body.parent
        return growth_target(call, body) is not None

    def out_param(self, call: Node) -> str | None:
        """Where ``call`` puts a fresh block other than its result (``out_param_of``), with
        the program's own out-parameter allocators and assigning macros."""
        return out_param_of(call, self.out_params, self.assigning_macros)

    def _discover_assigning_macros(self) -> bool:
        """Macros whose body assigns a (non-growing) allocation to a parameter; True when
        this found new ones (they can wrap wrappers found in the same round)."""
        from ads.analysis.c.sites import variable_of  # c_sites builds on this module

        found = False
        for name, (params, body) in self.constants.macro_bodies.items():
            if name in self.assigning_macros or "=" not in body:
                continue
            if not any(re.search(rf"\b{re.escape(p)}\s*\)?\s*=[^=]", body) for p in params):
                continue
            macro = self.macro_function(name)
            if macro is None:
                continue
            for call in self.allocation_calls(macro):
                callee = callee_name(call) or ""
                target = (variable_of(call) or "").strip("() ")
                if "realloc" in callee or target not in macro.params:
                    continue
                self.assigning_macros[name] = macro.params.index(target)
                self.allocators.add(name)
                found = True
                break
        return found

    def discover_wrappers(self, max_rounds: int = 6) -> None:
        """Functions that return a fresh allocation (``xmalloc``, ``createObject``...) or store
        one through an out-parameter (``make(&p, n)``), to a fixpoint over the call graph.

        Each round only looks again at functions with new allocation calls since the last: on
        redis-sized code a round over everything costs seconds."""
        examined: dict[tuple[str, str, int], int] = {}
        for _ in range(max_rounds):
            found = self._discover_assigning_macros()
            for fn in self.all_functions():
                if fn.name in self.allocators:
                    continue
                calls = self.allocation_calls(fn)
                key = (fn.file, fn.name, fn.line)
                if not calls or examined.get(key) == len(calls):
                    continue
                examined[key] = len(calls)
                pointer = fn.returns_pointer or fn.return_type in self.constants.pointer_types
                if pointer and any(self._returned_fresh(fn, call) for call in calls):
                    self.allocators.add(fn.name)
                    self.wrappers[fn.name] = fn
                    passed = _returned_parameter(fn)
                    if passed is not None:
                        self.passes_through[fn.name] = passed
                    found = True
                    continue
                if not self._may_store_through(fn, calls):
                    continue
                # every site is walked: each one's returns count for the 0-on-fill convention
                indexes = [i for call in calls if (i := self._stored_through(fn, call)) is not None]
                index = indexes[0] if indexes else None
                if index is not None:
                    self.allocators.add(fn.name)
                    self.wrappers[fn.name] = fn
                    self.out_params[fn.name] = index
                    found = True
            if not found:
                return

    def _may_store_through(self, fn: Function, calls: list[Node]) -> bool:
        """A cheap look before the path walk: does the body assign ``*param`` at all, or
        hand ``param`` on to an allocator that fills it?"""
        if fn.body is None:
            return False
        body = text_of(fn.body).replace(" ", "")
        if any(param and f"*{param}=" in body for param in fn.params):
            return True
        params = {f"*{param}" for param in fn.params if param}
        return any(self.out_param(c) in params and _result_unchanged(c) for c in calls)

    def _stored_through(self, fn: Function, call: Node) -> int | None:
        """The parameter ``i`` when ``fn`` stores the fresh allocation only into ``*param_i``
        (``int make(char **out, size_t n) { *out = malloc(n); ... }``)."""
        if fn.body is None or not fn.params:
            return None
        out_param = self.out_param(call)
        if out_param is not None and out_param.startswith("*"):
            # return fill(&tmp, out): the callee fills the caller's pointer this function was
            # handed, so the block lands in ``*out`` as surely as ``*out = malloc(n)``
            forwarded = [i for i, param in enumerate(fn.params) if param == out_param[1:]]
            if forwarded and _result_unchanged(call) and not self._passes_on(fn, call, out_param):
                for known in (self.filled_on_zero, self.filled_on_nonzero):
                    if callee_name(call) in known:
                        known.add(fn.name)  # the same convention, passed on
                return forwarded[0]
        region = self.region(fn, site=call, out_param=out_param)
        region.returns = []
        outcome = follow(region, fn.body, initial_state())
        ends = [*outcome.ret.values(), *outcome.fall.values()]
        escaped = [st for st in ends if st.status is Status.ESCAPED]
        targets = {st.event for st in escaped}
        if not targets:
            return None
        returned = _returned_names(fn)
        if any(st.names & returned for st in escaped):
            # ziplistDelete(zl, &p): ``*p = zl + offset`` points into the block the function
            # also returns; the caller owns it through the return value, not through ``*p``
            return None
        stored = {
            index
            for target in targets
            for index, param in enumerate(fn.params)
            if param and target.startswith(f"stored into *{param} ")
        }
        only_there = all(
            any(param and t.startswith(f"stored into *{param} ") for param in fn.params)
            for t in targets
        )
        if len(stored) != 1 or not only_there:
            return None
        index = stored.pop()
        # the returns of every site that fills this parameter (curl_url_get() fills *part at
        # two places, each followed by its own `return CURLUE_OK`)
        pooled = self._fill_returns.setdefault((fn.node.id, index), [])
        pooled += region.returns or []
        for convention, known in ((True, self.filled_on_zero), (False, self.filled_on_nonzero)):
            if self._fills_on_zero(fn, pooled, fn.params[index], zero=convention):
                known.add(fn.name)
            else:
                known.discard(fn.name)
        return index

    def _fills_on_zero(
        self,
        fn: Function,
        returns: list[tuple[Node | None, PathState]] | None,
        param: str,
        *,
        zero: bool = True,
    ) -> bool:
        """Every return that comes with ``*param`` filled returns 0, and some other
        ``return`` of ``fn`` a non-zero constant (or a call that only returns such: git's
        ``return error(...)``, ``_failure_call``): the caller's ``if (f(&p))`` branch got
        nothing. Another return may give 0 with nothing filled (curl's base64_encode()
        returns CURLE_OK for an empty input): that says nothing of the non-zero branch. With
        ``zero=False`` the other way round (filled: a non-zero constant such as ``TRUE``;
        some other: 0). (The walk starts at the allocation, so the returns before it are
        read from the body.)"""
        filled = set()
        for value, st in returns or []:
            if st.status is Status.ESCAPED and st.event.startswith(f"stored into *{param} "):
                if value is None:
                    return False
                if _under_null_test(value, param):
                    continue  # ``if (!*out) return 3;``: the allocation failed, nothing filled
                given = _arm_when_filled(value, param)
                failed = not self._nonzero(given, fn.file)
                if (self.constants.evaluate(given) != 0) if zero else failed:
                    return False
                filled.add(value.id)
        if not filled or fn.body is None:
            return False
        others = [
            node.named_children[0] if node.named_children else None
            for node in walk(fn.body)
            if node.type == "return_statement"
        ]
        others = [v for v in others if v is None or v.id not in filled]
        if not zero:
            return any(v is not None and self.constants.evaluate(v) == 0 for v in others)
        return any(v is not None and self._nonzero(v, fn.file) for v in others)

    def _nonzero(self, value: Node, file: str = "") -> bool:
        """A returned value that is never 0: a non-zero constant, ``c ? E_A : E_B`` with both
        non-zero, or the variable the enclosing ``if (r)`` tested."""
        bare = strip_expression(value)
        if bare is not None and bare.type == "conditional_expression":
            arms = [bare.child_by_field_name(f) for f in ("consequence", "alternative")]
            return all(arm is not None and self._nonzero(arm, file) for arm in arms)
        if self.constants.evaluate(value) not in (None, 0) or _nonzero_there(value):
            return True
        if self._failure_call(value, file):
            return True
        # ``return ifmissing;`` where every value the local is ever given is a non-zero
        # constant (curl's curl_url_get())
        given = _values_given(value)
        return bool(given) and all(self.constants.evaluate(v) not in (None, 0) for v in given)

    def _failure_call(self, value: Node, file: str) -> bool:
        """``return error("…")``, ``return die_message(…)``: a call of a function every
        ``return`` of which is a non-zero constant (or such a call), or of a macro that ends in
        one (git's ``(error(__VA_ARGS__), const_error())``): never 0, whatever it was told."""
        bare = strip_expression(value)
        while bare is not None and bare.type == "comma_expression":
            bare = strip_expression(bare.child_by_field_name("right"))
        name = callee_name(bare) if bare is not None and bare.type == "call_expression" else None
        if name is None:
            return False
        known = self._failing.get(name)
        if known is None:
            self._failing[name] = False  # a call of itself inside is no evidence
            known = self._failing[name] = self._only_fails(name, file)
        return known

    def _only_fails(self, name: str, file: str) -> bool:
        """Whether every value ``name`` can give back is a non-zero constant (``_failure_call``)."""
        fn = self.lookup(name, file)
        body = fn.body if fn is not None else None
        if name in self.constants.macro_bodies:  # the value of the macro's expansion
            expansion = self.constants.macro_bodies[name][1]
            tree = parse_c(f"int m(void) {{ return {expansion}; }}\n".encode())
            if tree.root_node.has_error:
                return False
            self._macro_trees.append(tree)  # the nodes live as long as their tree
            body = tree.root_node
        if body is None:
            return False
        values = [
            node.named_children[0] if node.named_children else None
            for node in walk(body)
            if node.type == "return_statement"
        ]
        return bool(values) and all(
            v is not None
            and (self.constants.evaluate(v) not in (None, 0) or self._failure_call(v, file))
            for v in values
        )

    @staticmethod
    def _passes_on(fn: Function, call: Node, target: str) -> bool:
        """Whether a call other than ``call`` is handed ``target`` (``free(*out)``, a
        cleanup): then the block ``call`` put there may not stay the caller's."""
        for other in fn.calls:
            arguments = other.child_by_field_name("arguments")
            if other.id == call.id or arguments is None:
                continue
            if any(" ".join(text_of(a).split()) == target for a in arguments.named_children):
                return True
        return False

    def _returned_fresh(self, fn: Function, call: Node) -> bool:
        if fn.body is None:
            return False
        region = self.region(fn, site=call, out_param=self.out_param(call))
        outcome = follow(region, fn.body, initial_state())
        ends = [*outcome.ret.values(), *outcome.fall.values()]
        returned = [st.status is Status.ESCAPED and st.event.startswith("returned") for st in ends]
        kept = [st.status is Status.ESCAPED and not st.event.startswith("returned") for st in ends]
        # Fresh only if never also stored elsewhere (createClient() links the client into a
        # global list and returns it: the caller does not own it alone).
        return any(returned) and not any(kept)

    def local_writes(self, function: Node) -> Mapping[str, Sequence[int]]:
        """Where each local of a function definition may change (``c_branches``), computed
        once per function for every region walked in it."""
        cached = self._writes.get(function.id)
        if cached is None:
            cached = self._writes[function.id] = writes_of(function)
        return cached

    def local_definitions(self, function: Node) -> Mapping[str, Node]:
        """The locals given their only value where declared (``int add_new = !refresh;``)."""
        cached = self._definitions.get(function.id)
        if cached is None:
            writes = self.local_writes(function)
            cached = self._definitions[function.id] = single_definitions(function, writes)
        return cached

    def by_value_parameters(self, fn: Function) -> list[tuple[int, str, str]]:
        """(index, name, declared type) of the parameters ``fn`` takes by value whose type is
        a typedef name or a struct (``jv j``, ``block b``): what could be a handle. Scalars,
        enums and typedef'd pointers (``sds``) are left out."""
        declarator = function_declarator(fn.node)
        params = declarator.child_by_field_name("parameters") if declarator else None
        found = []
        index = 0
        for param in params.named_children if params is not None else []:
            if param.type != "parameter_declaration":
                continue
            kind = param.child_by_field_name("type")
            inner = param.child_by_field_name("declarator")
            name = fn.params[index] if index < len(fn.params) else ""
            if (
                name
                and kind is not None
                and kind.type in ("type_identifier", "struct_specifier")
                and inner is not None
                and inner.type == "identifier"
                and text_of(kind) not in self.constants.pointer_types
            ):
                found.append((index, name, text_of(kind)))
            index += 1
        return found

    def handle_types(self) -> frozenset[str]:
        """Types passed by value that some function releases what they hold through
        (``void jv_free(jv j)``): the program's reference-counted handles (``c_handles``)."""
        if self._handle_types is None:
            found = set()
            for fn in self.all_functions():
                for index, _name, kind in self.by_value_parameters(fn):
                    if kind not in found and self._releases_held(fn.name, index, fn.file, 0):
                        found.add(kind)
            self._handle_types = frozenset(found)
        return self._handle_types

    def repeated_conditions(self, function: Node) -> frozenset[tuple[str, str]]:
        """The preprocessor tests (kind, condition text) a function definition makes more than
        once: one build compiles every such block or none (computed once per function, for
        every region walked in it)."""
        cached = self._conditions.get(function.id)
        if cached is None:
            counts: dict[tuple[str, str], int] = {}
            for kind in ("preproc_ifdef", "preproc_if"):
                for other in find_all(function, kind):
                    test = other.child_by_field_name("name") or other.child_by_field_name(
                        "condition"
                    )
                    if test is not None:
                        entry = (kind, " ".join(text_of(test).split()))
                        counts[entry] = counts.get(entry, 0) + 1
            cached = frozenset(k for k, n in counts.items() if n > 1)
            self._conditions[function.id] = cached
        return cached

    # ----------------------------------------------------------------- loops
    def loop_info(self, loop: Node, fn: Function) -> LoopInfo:
        cached = self._loops.get(loop.id)
        if cached is None:
            cached = self._loops[loop.id] = self._loop_info(loop, fn)
        return cached

    def _loop_info(self, loop: Node, fn: Function) -> LoopInfo:
        condition = loop.child_by_field_name("condition")
        if loop.type == "for_statement" and condition is None:
            shape, shown = "infinite", "for (;;)"
        else:
            shown = f"{loop.type.split('_')[0]} {text_of(condition)}"
            value = self.constants.evaluate(strip_expression(condition))
            bare = strip_expression(condition)
            if bare is not None and bare.type == "unary_expression":
                bare = strip_expression(bare.child_by_field_name("argument"))
            if (value is not None and value != 0) or (bare is not None and bare.type == "true"):
                shape = "infinite"
            elif bare is not None and bare.type in ("identifier", "field_expression"):
                # while (!server.stop) is a flag someone else sets; do { cursor =
                # scan(cursor, ...); } while (cursor) walks data until it runs out
                shape = "input" if _assigned_in(loop, text_of(bare)) else "flag"
            elif condition is not None and any(
                n.type == "call_expression" for n in walk(condition)
            ):
                shape = "input"
            else:
                shape = "counted"
        return LoopInfo(loop, fn, shape, shown, self._sleep_seconds(loop))

    def _sleep_seconds(self, loop: Node) -> float | None:
        """Seconds one iteration sleeps, from constant usleep/sleep/nanosleep in its body."""
        body = loop.child_by_field_name("body")
        total = 0.0
        for node in walk(body, skip=LOOP_TYPES) if body is not None else []:
            if node.type != "call_expression":
                continue
            name = callee_name(node) or ""
            arguments = node.child_by_field_name("arguments")
            first = arguments.named_children[0] if arguments and arguments.named_children else None
            if name in SLEEPS:
                value = self.constants.evaluate(first)
                if value is not None:
                    total += value * SLEEPS[name]
            elif name == "nanosleep" and first is not None:
                total += self._timespec_seconds(first, loop) or 0.0
        return total or None

    def _timespec_seconds(self, argument: Node, loop: Node) -> float | None:
        bare = strip_expression(argument)
        if bare is None or bare.type != "pointer_expression":
            return None
        name = text_of(bare.child_by_field_name("argument"))
        scope = loop.parent
        while scope is not None and scope.type != "function_definition":
            scope = scope.parent
        for node in walk(scope) if scope is not None else []:
            if node.type == "init_declarator" and declared_name(node) == name:
                value = node.child_by_field_name("value")
                parts = value.named_children if value is not None else []
                numbers = [self.constants.evaluate(p) for p in parts]
                if len(numbers) == 2 and None not in numbers:
                    return float(numbers[0] or 0) + (numbers[1] or 0) / 1e9
        return None

    def enclosing_loops(self, node: Node) -> list[Node]:
        """Loops around ``node`` inside its function, innermost first."""
        loops = []
        parent = node.parent
        while parent is not None and parent.type != "function_definition":
            if parent.type in LOOP_TYPES and not _in_condition(parent, node):
                loops.append(parent)
            parent = parent.parent
        return loops

    def driving_loops(self) -> dict[str, LoopInfo]:
        """For each function run (transitively) from an unbounded loop: the loop that drives it.

        Only the service's own code drives: a test program's or benchmark's ``for (;;)`` around
        a call says nothing about how often the service makes that call."""
        calls: dict[str, list[tuple[Function, Node]]] = {}
        for fn in self.all_functions():
            if not self.scope.contains(fn.file):
                continue
            for node, name in zip(fn.calls, fn.callees, strict=True):
                if name and name in self.functions and name != fn.name:
                    calls.setdefault(fn.name, []).append((fn, node))
        driven: dict[str, LoopInfo] = {}
        frontier: list[str] = []
        for caller, sites in calls.items():
            for fn, node in sites:
                for loop in self.enclosing_loops(node):
                    info = self.loop_info(loop, fn)
                    callee = callee_name(node) or ""
                    if info.unbounded and callee not in driven:
                        driven[callee] = info
                        frontier.append(callee)
            del caller
        self._propagate(driven, frontier, calls)
        # handlers: a function stored where a loop's pointer call reads it (``.proc =`` and
        # ``c->cmd->proc(c)``) runs once per turn of that loop; rounds, because a handler can
        # dispatch others (an event callback calling a command table)
        dispatch = Dispatch(self, self._values)
        while found := dispatch.loops(driven):
            for name, dispatcher in found.items():
                driven[name] = replace(dispatcher, through_pointer=True)
                frontier.append(name)
            self._propagate(driven, frontier, calls)
        return driven

    @staticmethod
    def _propagate(
        driven: dict[str, LoopInfo],
        frontier: list[str],
        calls: dict[str, list[tuple[Function, Node]]],
    ) -> None:
        while frontier:
            current = frontier.pop()
            for _, node in calls.get(current, []):
                callee = callee_name(node) or ""
                if callee not in driven:
                    driven[callee] = driven[current]
                    frontier.append(callee)


def _then_returns_null(assignment: Node, program: Program) -> bool:
    """``*flag = 1; return NULL;``: the statement after the assignment's returns NULL."""
    statement = assignment.parent
    if statement is None or statement.type != "expression_statement":
        return False
    following = statement.next_named_sibling
    while following is not None and following.type == "comment":
        following = following.next_named_sibling
    if following is None or following.type != "return_statement":
        return False
    value = following.named_children[0] if following.named_children else None
    return value is not None and program.constant(value) == 0


def _grown_is_released(st: PathState) -> PathState:
    """``p = realloc(p, n)`` on a parameter: for the caller that is what ``realloc`` does
    to its argument (the old block is released, the result is a block of its own), not the
    lost-on-failure case the walk of ``p`` itself records (jq's ``jv_mem_realloc()``)."""
    if st.status is Status.LOST and st.event.startswith(REALLOC_FAILURE):
        return st._replace(status=Status.FREED)
    return st


def _is_hint_body(body: str, param: str) -> bool:
    """``__builtin_expect(!!(x), 1)``, ``__builtin_expect((x), 0)`` or ``(x)`` for ``x``."""
    bare = re.sub(r"\s+", "", body)
    x = re.escape(param)
    hint = rf"\(*__builtin_expect\((?:!!)?\(*{x}\)*,[0-9]+[uUlL]*\)\)*"
    return re.fullmatch(hint, bare) is not None or re.fullmatch(rf"\(+{x}\)+", bare) is not None


def _casts_parameter(macro: Function, index: int) -> bool:
    """Whether the macro's whole expansion is its parameter ``index``, under parentheses and
    casts to a value type (curl's ``CURL_UNCONST(p)``, ``((void *)(p))``): its value is that
    argument, so it carries the block. A cast to ``void`` (``UNUSED(x)``) gives no value."""
    body = macro.body
    statements = body.named_children if body is not None else []
    if index >= len(macro.params) or len(statements) != 1:
        return False
    node = statements[0].named_children[0] if statements[0].named_children else None
    while node is not None and node.type in ("parenthesized_expression", "cast_expression"):
        if node.type == "cast_expression":
            kind = node.child_by_field_name("type")
            if kind is None or text_of(kind).replace(" ", "") == "void":
                return False
            node = node.child_by_field_name("value")
        else:
            node = node.named_children[0] if node.named_children else None
    return node is not None and node.type == "identifier" and text_of(node) == macro.params[index]


def _const_pointers(declarator: Node) -> list[bool]:
    """For each parameter of a function declarator: whether it is ``const T *`` (one level of
    pointer), a parameter the function can only read through."""
    params = declarator.child_by_field_name("parameters")
    flags = []
    for param in params.named_children if params is not None else []:
        if param.type != "parameter_declaration":
            continue
        inner = param.child_by_field_name("declarator")
        const = any(c.type == "type_qualifier" and text_of(c) == "const" for c in param.children)
        flags.append(const and inner is not None and inner.type == "pointer_declarator"
                     and text_of(inner).count("*") == 1)  # fmt: skip
    return flags


_SCALAR_TYPES = ("primitive_type", "sized_type_specifier", "enum_specifier")
_INTEGER_POINTERS = frozenset({"intptr_t", "uintptr_t"})  # a tagged pointer may travel so


def _scalar_parameter(fn: Node, index: int) -> bool:
    """Whether parameter ``index`` of the definition ``fn`` is a number (``size_t len``,
    ``unsigned long n``, an enum): what the callee does with it says nothing about a block
    whose member or length the caller passed (``sb->len = len`` is no store of the block)."""
    param = _parameter_declaration(fn, index) if fn.type == "function_definition" else None
    if param is None:
        return False
    kind, inner = param.child_by_field_name("type"), param.child_by_field_name("declarator")
    if kind is None or kind.type not in _SCALAR_TYPES or text_of(kind) in _INTEGER_POINTERS:
        return False
    return inner is None or inner.type == "identifier"


def _parameter_declaration(fn: Node, index: int) -> Node | None:
    """The ``parameter_declaration`` of parameter ``index`` of a definition, or None."""
    declarator = function_declarator(fn)
    params = declarator.child_by_field_name("parameters") if declarator else None
    found = [
        p for p in (params.named_children if params else []) if p.type == "parameter_declaration"
    ]
    return found[index] if index < len(found) else None


def _parameter_type(fn: Node, index: int) -> str:
    """The type name of parameter ``index`` (``jv`` in ``void jv_free(jv j)``)."""
    param = _parameter_declaration(fn, index)
    return text_of(param.child_by_field_name("type")) if param is not None else ""


def _in_condition(loop: Node, node: Node) -> bool:
    body = loop.child_by_field_name("body")
    return body is None or not (body.start_byte <= node.start_byte < body.end_byte)


def _assigned_in(loop: Node, name: str) -> bool:
    """Whether the loop's body assigns ``name`` (the loop's own condition variable), or
    hands its address to a call that may (``scan(de, &cursor)``)."""
    body = loop.child_by_field_name("body")
    if body is None:
        return False
    for node in walk(body):
        if node.type == "assignment_expression":
            target = node.child_by_field_name("left")
        elif node.type == "pointer_expression" and node.children[0].type == "&":
            target = node.child_by_field_name("argument")
        else:
            continue
        if text_of(target) == name:
            return True
    return False


def _result_unchanged(call: Node) -> bool:
    """``return fill(x, out);`` or ``fill(x, out);``: what the call returns (its success or
    failure, which says whether it filled ``out``) is the caller's unchanged, or unused. In
    ``return fill(x, out) == 0 ? 0 : -1`` the convention is re-encoded: not followed."""
    parent = call.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        parent = parent.parent
    return parent is not None and parent.type in ("return_statement", "expression_statement")


def out_param_of(
    call: Node,
    discovered: Mapping[str, int] | None = None,
    macros: Mapping[str, int] | None = None,
) -> str | None:
    """For ``asprintf(&p, ...)`` or the repo's ``make_buf(&p, n)``: ``p``, where the
    allocation lands (``discovered``: the program's own out-parameter allocators; ``macros``:
    its assigning macros, ``CALLOC_ARRAY(p, n)``)."""
    name = callee_name(call) or ""
    if macros and name in macros:
        arguments = call.child_by_field_name("arguments")
        at = macros[name]
        if arguments is None or len(arguments.named_children) <= at:
            return None
        target = strip_expression(arguments.named_children[at])
        return " ".join(text_of(target).split()) if target is not None else None
    index = OUT_PARAM_ALLOCATORS.get(name)
    if index is None and discovered:
        index = discovered.get(name)
    if index is None:
        return None
    arguments = call.child_by_field_name("arguments")
    first = (
        strip_expression(arguments.named_children[index])
        if arguments and len(arguments.named_children) > index
        else None
    )
    if first is not None and first.type == "pointer_expression" and first.children[0].type == "&":
        target = strip_expression(first.child_by_field_name("argument"))
        if target is not None:  # p, or spec->min: then the block lands in the caller's memory
            return " ".join(text_of(target).split())
    if first is not None and first.type == "identifier":
        return f"*{text_of(first)}"  # check(reply, err): lands in *err, the caller's pointer
    return None
