"""Constant folding for C size expressions: ``#define``s, ``sizeof`` and the repo's own structs.

A finding is far more useful when it says "8 MiB per iteration" than "some bytes": the impact
estimate (bytes per iteration × iterations per second against the memory limit) needs the
number. Sizes follow the LP64 model that Linux containers run (char 1, int 4, long and pointers 8).
Anything that cannot be folded is ``None``, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache

import tree_sitter
import tree_sitter_c

from ads.analysis.c.macros import without_comments
from ads.analysis.c.syntax import (
    Node,
    declared_name,
    function_name,
    parse_c,
    strip_expression,
    text_of,
    walk,
)

__all__ = ["ConstantTable"]

_PRIMITIVE_SIZES = {
    "char": 1, "bool": 1, "_Bool": 1, "int8_t": 1, "uint8_t": 1,
    "short": 2, "int16_t": 2, "uint16_t": 2,
    "int": 4, "unsigned": 4, "signed": 4, "float": 4, "int32_t": 4, "uint32_t": 4,
    "long": 8, "double": 8, "size_t": 8, "ssize_t": 8, "int64_t": 8, "uint64_t": 8,
    "uintptr_t": 8, "intptr_t": 8, "off_t": 8, "ptrdiff_t": 8, "time_t": 8,
}  # fmt: skip
_POINTER_SIZE = 8
_MAX_DEPTH = 20
# Every place a variable can change: assigned, incremented, or its address handed out.
_WRITES = """
(assignment_expression left: (identifier) @name)
(update_expression argument: (identifier) @name)
(pointer_expression operator: "&" argument: (identifier) @name)
"""


@lru_cache(maxsize=1)
def _writes_query() -> tree_sitter.Query:
    return tree_sitter.Query(tree_sitter.Language(tree_sitter_c.language()), _WRITES)


def _define_directives(source: bytes) -> Iterator[Node]:
    """Every ``#define`` of a file, each parsed on its own.

    A file's tree puts a ``#define`` inside an ERROR node when something near it does not parse
    (in curl's curl_setup.h, the whole allocator block); one directive alone always parses.
    The directive's lines (with their ``\\`` continuations) are found line by line, then
    tree-sitter reads each one."""
    lines = source.split(b"\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        index += 1
        if not stripped.startswith(b"#") or not stripped[1:].lstrip().startswith(b"define"):
            continue
        directive = [line]
        while directive[-1].rstrip().endswith(b"\\") and index < len(lines):
            directive.append(lines[index])
            index += 1
        text = without_comments(b"\n".join(directive))
        tree = parse_c(text + b"\n")  # alive while its nodes are read
        for node in tree.root_node.named_children:
            if node.type in ("preproc_def", "preproc_function_def"):
                yield node


def _written_names(root: Node) -> set[str]:
    """Names written anywhere in the file (run by tree-sitter's query engine, not in Python)."""
    captures = tree_sitter.QueryCursor(_writes_query()).captures(root)
    return {text_of(node) for node in captures.get("name", [])}


def _parse_int(literal: str) -> int | None:
    digits = literal.rstrip("uUlL")
    try:
        if digits.lower().startswith("0x"):
            return int(digits, 16)
        if digits.lower().startswith("0b"):
            return int(digits, 2)
        if len(digits) > 1 and digits.startswith("0") and digits.isdigit():
            return int(digits, 8)
        return int(digits)
    except ValueError:
        return None


def _binary(op: str, left: int, right: int) -> int | None:
    if op in ("/", "%") and right == 0:
        return None
    table = {
        "+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
        "/": lambda: int(left / right), "%": lambda: left % right,
        "<<": lambda: left << right if 0 <= right < 64 else None,
        ">>": lambda: left >> right if 0 <= right < 64 else None,
        "&": lambda: left & right, "|": lambda: left | right, "^": lambda: left ^ right,
        "<": lambda: int(left < right), ">": lambda: int(left > right),
        "<=": lambda: int(left <= right), ">=": lambda: int(left >= right),
        "==": lambda: int(left == right), "!=": lambda: int(left != right),
        "&&": lambda: int(bool(left) and bool(right)), "||": lambda: int(bool(left or right)),
    }  # fmt: skip
    compute = table.get(op)
    return compute() if compute is not None else None


def _declared_as(fields: list[Node], declarator_type: str) -> frozenset[str]:
    """The names of the struct ``fields`` declared with ``declarator_type`` (``buf[16]``:
    an array declarator; ``*next``: a pointer declarator)."""
    names = set()
    for field in fields:
        for declarator in field.children_by_field_name("declarator"):
            if declarator.type == declarator_type:
                inner = declarator.child_by_field_name("declarator")
                if inner is not None and inner.type == "field_identifier":
                    names.add(text_of(inner))
    return frozenset(names)


def _member_name(declarator: Node | None) -> str | None:
    """The member a field declarator declares: ``(*fn)(int)`` → ``fn``."""
    while declarator is not None and declarator.type != "field_identifier":
        if declarator.type == "parenthesized_declarator":
            declarator = declarator.named_children[0] if declarator.named_children else None
        else:
            declarator = declarator.child_by_field_name("declarator")
    return text_of(declarator) if declarator is not None else None


class ConstantTable:
    """Object-like ``#define``s, typedefs and struct layouts collected from the repo's files."""

    def __init__(self) -> None:
        self._defines: dict[str, str] = {}
        self._parsed: dict[str, tuple[tree_sitter.Tree, Node] | None] = {}
        self._structs: dict[str, Node] = {}
        self._typedefs: dict[str, Node] = {}
        self._struct_sizes: dict[str, int | None] = {}
        #: typedef names that are pointers (``typedef char *sds;``): functions returning one
        #: return a pointer, even though their declarator does not show a ``*``.
        self.pointer_types: set[str] = set()
        #: macros that only rename a function (``#define s_free zfree``, ``#define xfree(p)
        #: my_free(p)``): a call through the macro is a call of the function.
        #: (one per ``#if`` branch: ``curlx_malloc`` is malloc, Curl_cmalloc or curl_dbg_malloc)
        self.aliases: dict[str, list[str]] = {}
        #: file-scope variables with a constant initialiser (``static const int F = 0;``,
        #: ``int globalFive = 5;``) and functions that only ``return`` a constant; a variable
        #: counts as a constant only if nothing in the analysed code writes it.
        self._variables: dict[str, Node] = {}
        self._constant_functions: dict[str, Node] = {}
        self._written: set[str] = set()
        #: function-like macros that are not renamings: name → the identifiers their body uses
        self.macro_names: dict[str, frozenset[str]] = {}
        #: function-like macros: name → (parameter names, body text), so a call of one can be
        #: summarised like a function (``dictSetKey(d, e, key)`` stores ``key``)
        self.macro_bodies: dict[str, tuple[list[str], str]] = {}
        #: enumeration constants: name → (the last explicit value at or before it, how many
        #: places after that value it sits): ``CURLE_OK`` is 0, ``C_ERR`` is -1
        self._enumerators: dict[str, tuple[Node | None, int]] = {}

    def add_file(self, root: Node) -> None:
        """Record the ``#define NAME value`` lines, struct bodies and typedefs of one file."""
        self._written |= _written_names(root)
        for directive in _define_directives(root.text or b""):
            self._add_define(directive)
        for node in walk(root, skip=frozenset({"function_definition"})):
            if node.type == "function_definition":
                self._constant_function(node)
            elif (
                node.type == "declaration"
                and node.parent is not None
                and (node.parent.type in ("translation_unit", "preproc_if", "preproc_ifdef"))
            ):
                for item in node.children_by_field_name("declarator"):
                    value = item.child_by_field_name("value")
                    name = declared_name(item.child_by_field_name("declarator"))
                    if item.type == "init_declarator" and name and value is not None:
                        self._variables.setdefault(name, value)
                        # a function pointer set to a function: Curl_cmalloc = malloc
                        bare = strip_expression(value)
                        if bare is not None and bare.type == "identifier" and text_of(bare) != name:
                            self._alias(name, text_of(bare))
            elif node.type == "enumerator_list":
                self._add_enumerators(node)
            elif node.type == "struct_specifier" and node.child_by_field_name("body"):
                name = text_of(node.child_by_field_name("name"))
                if name:
                    self._structs.setdefault(name, node)
            elif node.type == "type_definition":
                declarator = node.child_by_field_name("declarator")
                kind = node.child_by_field_name("type")
                if declarator is not None and declarator.type == "type_identifier" and kind:
                    self._typedefs.setdefault(text_of(declarator), kind)
                elif declarator is not None and declarator.type == "pointer_declarator":
                    inner = declarator.child_by_field_name("declarator")
                    if inner is not None and inner.type == "type_identifier":
                        self.pointer_types.add(text_of(inner))

    def _add_enumerators(self, body: Node) -> None:
        """``enum { A, B = 4, C }``: A is 0, B is 4, C is 5 (a value may name a #define)."""
        base: Node | None = None
        offset = 0
        for item in body.named_children:
            if item.type != "enumerator":
                continue
            value = item.child_by_field_name("value")
            if value is not None:
                base, offset = value, 0
            name = text_of(item.child_by_field_name("name"))
            if name:
                self._enumerators.setdefault(name, (base, offset))
            offset += 1

    def _add_define(self, node: Node) -> None:
        if node.type == "preproc_def":
            name = text_of(node.child_by_field_name("name"))
            value = node.child_by_field_name("value")
            if name and value is not None:
                self._defines.setdefault(name, text_of(value).strip())
                target = text_of(value).strip()
                if target.isidentifier() and target != name:
                    self._alias(name, target)
        elif node.type == "preproc_function_def":
            self._function_alias(node)

    def _constant_function(self, node: Node) -> None:
        """``int staticReturnsTrue(void) { return 1; }``: a call of it is that constant."""
        body = node.child_by_field_name("body")
        statements = [c for c in body.named_children if c.type != "comment"] if body else []
        name = function_name(node)
        if name and len(statements) == 1 and statements[0].type == "return_statement":
            returned = statements[0].named_children
            if returned:
                self._constant_functions.setdefault(name, returned[0])

    def _function_alias(self, node: Node) -> None:
        """``#define NAME(a, b) target(a, b)``: NAME is another name of ``target``."""
        name = text_of(node.child_by_field_name("name"))
        parameters = node.child_by_field_name("parameters")
        value = node.child_by_field_name("value")
        if not name or parameters is None or value is None:
            return
        params = [text_of(p) for p in parameters.named_children]
        self.macro_bodies.setdefault(name, (params, text_of(value)))
        tree = parse_c(b"void __ads_alias(void) { " + text_of(value).encode() + b"; }\n")
        calls = [n for n in walk(tree.root_node) if n.type == "call_expression"]
        used = frozenset(text_of(n) for n in walk(tree.root_node) if n.type == "identifier")
        self.macro_names.setdefault(name, used - {"__ads_alias"})
        if tree.root_node.has_error or len(calls) != 1:
            return
        function = calls[0].child_by_field_name("function")
        arguments = calls[0].child_by_field_name("arguments")
        passed = [text_of(a).strip("() ") for a in arguments.named_children] if arguments else []
        # the macro's parameters go first and in order (extra ones: __LINE__, __FILE__ ...)
        if (
            function is not None
            and function.type == "identifier"
            and passed[: len(params)] == params
        ):
            target = text_of(function)
            if target != name:
                self._alias(name, target)

    def _alias(self, name: str, target: str) -> None:
        targets = self.aliases.setdefault(name, [])
        if target not in targets:
            targets.append(target)

    def targets(self, name: str) -> list[str]:
        """Every function ``name`` may call through renaming macros (and function pointers
        initialised with a function), nearest first, a few levels deep."""
        found: list[str] = []
        frontier = [name]
        for _ in range(4):
            frontier = [t for n in frontier for t in self.aliases.get(n, []) if t not in found]
            if not frontier:
                break
            found += frontier
        return found

    def resolve(self, name: str, known: Callable[[str], bool] | None = None) -> str:
        """The function a name calls: the first target ``known`` accepts (the first target
        when none does, or when ``known`` is not given), else the name itself."""
        if known is not None and known(name):
            return name  # free stays free even where a build may map it to je_free
        targets = self.targets(name)
        if known is not None:
            return next((t for t in targets if known(t)), targets[0] if targets else name)
        return targets[-1] if targets else name

    def define_names(self) -> Iterable[str]:
        return self._defines.keys()

    def _define_node(self, name: str) -> Node | None:
        if name not in self._parsed:
            value = self._defines.get(name)
            parsed: tuple[tree_sitter.Tree, Node] | None = None
            if value:
                tree = parse_c(b"long __ads_value = (" + value.encode() + b");\n")
                found = [n for n in walk(tree.root_node) if n.type == "init_declarator"]
                if found and not tree.root_node.has_error:
                    node = found[0].child_by_field_name("value")
                    parsed = (tree, node) if node is not None else None
            self._parsed[name] = parsed
        entry = self._parsed[name]
        return entry[1] if entry is not None else None

    def evaluate(
        self, node: Node | None, bindings: Mapping[str, int] | None = None, _depth: int = 0
    ) -> int | None:
        """Fold an expression to an integer, or None when any part is not a known constant."""
        if node is None or _depth > _MAX_DEPTH:
            return None
        depth = _depth + 1
        kind = node.type
        if kind == "number_literal":
            return _parse_int(text_of(node))
        if kind in ("true", "false", "null"):  # tree-sitter reads TRUE, FALSE, NULL so too
            return 1 if kind == "true" else 0
        if kind == "identifier":
            name = text_of(node)
            if bindings and name in bindings:
                return bindings[name]
            defined = self._define_node(name)
            if defined is None and name in self._enumerators:
                base, offset = self._enumerators[name]
                start = 0 if base is None else self.evaluate(base, None, depth)
                return None if start is None else start + offset
            if defined is None and name not in self._written:
                defined = self._variables.get(name)
            return self.evaluate(defined, None, depth)
        if kind == "call_expression":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if function is None or function.type != "identifier" or arguments is None:
                return None
            returned = self._constant_functions.get(text_of(function))
            return self.evaluate(returned, None, depth) if returned is not None else None
        if kind == "parenthesized_expression" and node.named_child_count == 1:
            return self.evaluate(node.named_children[0], bindings, depth)
        if kind == "cast_expression":
            return self.evaluate(node.child_by_field_name("value"), bindings, depth)
        if kind == "binary_expression":
            left = self.evaluate(node.child_by_field_name("left"), bindings, depth)
            operator = node.child_by_field_name("operator")
            if operator is not None and left is not None:
                # C's short circuit: 0 && anything, 1 || anything (assert(0 && "why"))
                if operator.type == "&&" and left == 0:
                    return 0
                if operator.type == "||" and left != 0:
                    return 1
            right = self.evaluate(node.child_by_field_name("right"), bindings, depth)
            if left is None or right is None or operator is None:
                return None
            return _binary(operator.type, left, right)
        if kind == "unary_expression":
            value = self.evaluate(node.child_by_field_name("argument"), bindings, depth)
            operator = node.child_by_field_name("operator")
            if value is None or operator is None:
                return None
            ops = {"-": -value, "+": value, "~": ~value, "!": int(not value)}
            return ops.get(operator.type)
        if kind == "sizeof_expression":
            described = node.child_by_field_name("type")
            return self.size_of_type(described) if described is not None else None
        return None

    def size_of_type(self, node: Node, _depth: int = 0) -> int | None:
        """``sizeof`` of a type_descriptor / type node, LP64; None when unknown."""
        if _depth > _MAX_DEPTH:
            return None
        declarator = node.child_by_field_name("declarator")
        if declarator is not None and declarator.type == "abstract_pointer_declarator":
            return _POINTER_SIZE
        if declarator is not None and declarator.type == "abstract_array_declarator":
            return None
        kind = node.child_by_field_name("type") if node.type == "type_descriptor" else node
        if kind is None:
            return None
        words = text_of(kind).replace("unsigned", "").replace("signed", "").split()
        if kind.type in ("primitive_type", "sized_type_specifier"):
            if "long" in words or "double" in words:
                return 8
            if "short" in words:
                return 2
            return _PRIMITIVE_SIZES.get(words[-1] if words else "int", 4)
        if kind.type == "struct_specifier":
            body = kind.child_by_field_name("body")
            if body is not None:
                return self._layout(body, _depth + 1)
            return self._struct_size(text_of(kind.child_by_field_name("name")), _depth + 1)
        if kind.type == "type_identifier":
            name = text_of(kind)
            if name in _PRIMITIVE_SIZES:
                return _PRIMITIVE_SIZES[name]
            target = self._typedefs.get(name)
            return self.size_of_type(target, _depth + 1) if target is not None else None
        return None

    def _struct_body(self, type_name: str, _depth: int = 0) -> Node | None:
        """The ``struct_specifier`` with a body that ``type_name`` (a struct tag or a typedef
        of one) names, or None."""
        body = self._structs.get(type_name)
        if body is None and _depth < 4:
            target = self._typedefs.get(type_name)
            if target is not None and target.type == "struct_specifier":
                if target.child_by_field_name("body") is not None:
                    return target
                return self._struct_body(text_of(target.child_by_field_name("name")), _depth + 1)
        return body

    def _fields(self, type_name: str) -> list[Node]:
        body = self._struct_body(type_name)
        fields = body.child_by_field_name("body") if body is not None else None
        return [f for f in (fields.named_children if fields is not None else [])
                if f.type == "field_declaration"]  # fmt: skip

    def member_names(self, kind: Node) -> list[str | None] | None:
        """The members of the struct a declaration's type names, in order (None for one
        without a name, an anonymous union), or None when the type is no known struct."""
        if kind.type == "struct_specifier" and kind.child_by_field_name("body") is not None:
            body: Node | None = kind.child_by_field_name("body")
        elif kind.type in ("struct_specifier", "type_identifier"):
            name = text_of(kind.child_by_field_name("name") if kind.type == "struct_specifier"
                           else kind)  # fmt: skip
            found = self._struct_body(name)
            body = found.child_by_field_name("body") if found is not None else None
        else:
            return None
        if body is None:
            return None
        names: list[str | None] = []
        for field in body.named_children:
            if field.type != "field_declaration":
                continue
            declared = field.children_by_field_name("declarator")
            names += [_member_name(d) for d in declared] if declared else [None]
        return names

    def array_fields(self, type_name: str) -> frozenset[str]:
        """Members of a struct declared as arrays (``char buf[]``, ``int slots[16]``): ``p->buf``
        is then an address inside the block ``p`` points to, like ``&p->member``."""
        return _declared_as(self._fields(type_name), "array_declarator")

    def link_fields(self, type_name: str) -> frozenset[str]:
        """Members that point to another object of the same struct (``struct Bigint *next``):
        links of a list or tree, which whoever walks it releases, not each node."""
        body = self._struct_body(type_name)
        if body is None:
            return frozenset()
        own = {type_name, text_of(body.child_by_field_name("name"))} - {""}
        own |= {alias for alias, target in self._typedefs.items() if target.id == body.id}
        tag = text_of(body.child_by_field_name("name"))
        same_type = []
        for field in self._fields(type_name):
            kind = field.child_by_field_name("type")
            kind_name = (
                text_of(kind.child_by_field_name("name"))
                if kind is not None and (kind.type == "struct_specifier")
                else text_of(kind)
            )
            if kind_name in own or kind_name == tag:
                same_type.append(field)
        return _declared_as(same_type, "pointer_declarator")

    def is_union(self, kind: Node | None, _depth: int = 0) -> bool:
        """Whether a declaration's type is a union (``union u``, or a typedef of one): its
        members share one storage, so a pointer stored through one is read through another."""
        if kind is None or _depth > 8:
            return False
        if kind.type == "union_specifier":
            return True
        if kind.type == "type_identifier":
            return self.is_union(self._typedefs.get(text_of(kind)), _depth + 1)
        return False

    def _struct_size(self, name: str, depth: int) -> int | None:
        if name not in self._struct_sizes:
            self._struct_sizes[name] = None  # guards against self-reference
            body = self._structs.get(name)
            self._struct_sizes[name] = (
                self._layout(body.child_by_field_name("body"), depth) if body else None
            )
        return self._struct_sizes[name]

    def _layout(self, body: Node | None, depth: int) -> int | None:
        """Size of a struct body with natural alignment (each field aligned to its own size)."""
        if body is None:
            return None
        offset, widest = 0, 1
        for field in body.named_children:
            if field.type != "field_declaration":
                continue
            base = field.child_by_field_name("type")
            declarators: list[Node | None] = list(field.children_by_field_name("declarator"))
            for declarator in declarators or [None]:
                size, count = self._field_size(base, declarator, depth)
                if size is None:
                    return None
                align = min(size, 8)
                offset = (offset + align - 1) // align * align + size * count
                widest = max(widest, align)
        return (offset + widest - 1) // widest * widest

    def _field_size(
        self, base: Node | None, declarator: Node | None, depth: int
    ) -> tuple[int | None, int]:
        count = 1
        while declarator is not None and declarator.type == "array_declarator":
            length = self.evaluate(declarator.child_by_field_name("size"))
            if length is None:
                return None, 1
            count *= length
            declarator = declarator.child_by_field_name("declarator")
        if declarator is not None and declarator.type == "pointer_declarator":
            return _POINTER_SIZE, count
        return (self.size_of_type(base, depth) if base is not None else None), count
