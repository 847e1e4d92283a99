"""Small helpers over tree-sitter-c syntax trees: parsing, walking, names and lines.

Every C rule in ADS reads the syntax tree through these helpers, never the raw text with regular
expressions, so that comments, strings and macros cannot fool a rule and every line number is the
one the parser saw.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from functools import lru_cache

import tree_sitter
import tree_sitter_c

__all__ = [
    "LOOP_TYPES",
    "Node",
    "WordIndex",
    "arrow_of",
    "callee_name",
    "declarators",
    "declared_name",
    "enclosing_function",
    "error_lines",
    "find_all",
    "find_kinds",
    "function_declarator",
    "function_name",
    "function_parameters",
    "identifier_pattern",
    "line_of",
    "macro_loops",
    "macro_type_arguments",
    "parse_c",
    "pointer_parameters",
    "returns_pointer",
    "strip_expression",
    "text_of",
    "walk",
]

Node = tree_sitter.Node

LOOP_TYPES = frozenset({"while_statement", "for_statement", "do_statement"})


@lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


@lru_cache(maxsize=16)
def _query(source: str) -> tree_sitter.Query:
    return tree_sitter.Query(tree_sitter.Language(tree_sitter_c.language()), source)


def find_all(node: Node | None, kind: str) -> list[Node]:
    """Every node of type ``kind`` under ``node`` (itself included), in source order, found
    by tree-sitter's query engine: on real code bases this is the difference between
    milliseconds and seconds compared with a walk in Python."""
    if node is None:
        return []
    captures = tree_sitter.QueryCursor(_query(f"({kind}) @found")).captures(node)
    return sorted(captures.get("found", []), key=lambda n: n.start_byte)


def find_kinds(node: Node | None, kinds: tuple[str, ...]) -> dict[str, list[Node]]:
    """``find_all(node, kind)`` for each of ``kinds`` at once: one query walks the tree once,
    and the walk, not the matching, is what a query costs."""
    if node is None:
        return {kind: [] for kind in kinds}
    source = "\n".join(f"({kind}) @{kind}" for kind in kinds)
    captures = tree_sitter.QueryCursor(_query(source)).captures(node)
    return {kind: sorted(captures.get(kind, []), key=lambda n: n.start_byte) for kind in kinds}


def parse_c(source: bytes, rewrite: Callable[[bytes], bytes] | None = None) -> tree_sitter.Tree:
    """Parse C source bytes; tree-sitter always returns a tree, with ERROR nodes where it failed.

    Where it failed, ``rewrite`` (the code base's attribute macros, ``macros.py``) and the loop
    macros are read as what they expand to (``macro_loops``), in place, and the source is
    parsed again: the parser cannot see ``list_for_each_entry(pos, head, member) { … }``
    expanded, and took it for a call missing its ``;`` followed by a block, so the block was
    no loop body."""
    tree = _parser().parse(source)
    if tree.root_node.has_error:
        rewritten = rewrite(source) if rewrite is not None else source
        if rewritten != source:
            tree = _parser().parse(rewritten)
            source = rewritten
        if tree.root_node.has_error:
            looped = macro_type_arguments(macro_loops(source, tree.root_node), tree.root_node)
            if looped != source:
                tree = _parser().parse(looped)
    return tree


_BODIES = "(function_definition body: (compound_statement) @body)"
#: ``, struct stream *`` or ``, const struct x`` as an argument: a type handed to a macro
_TYPE_ARGUMENT = re.compile(
    rb",(\s*)((?:const\s+)?(?:struct|union|enum)\s+)([A-Za-z_]\w*)((?:\s*\*)*)(?=\s*[,)])"
)


def macro_type_arguments(source: bytes, root: Node) -> bytes:
    """``source`` with each type handed to a macro inside a function written as the bare type
    name, in place: ``container_of(p, struct conn, list)`` → ``container_of(p,        conn,
    list)``, ``LIST_ELEM(l, struct stream *, req)`` → ``LIST_ELEM(l,        stream  , req)``.

    A type cannot be a function's argument, and the parser failed on the whole statement; as a
    name, the call and what the statement does with its result parse. Only after a comma (a
    first argument is a cast or ``sizeof``'s type) and only in function bodies that did not
    parse (a prototype's unnamed ``struct x *`` parameter stays)."""
    out: bytearray | None = None
    for body in tree_sitter.QueryCursor(_query(_BODIES)).captures(root).get("body", []):
        if not body.has_error:
            continue
        start, text = body.start_byte, source[body.start_byte : body.end_byte]
        for match in _TYPE_ARGUMENT.finditer(text):
            if out is None:
                out = bytearray(source)
            keyword, stars = match.span(2), match.span(4)
            for left, right in (keyword, stars):
                out[start + left : start + right] = b" " * (right - left)
    return bytes(out) if out is not None else source


_MACRO_LOOP = """
(compound_statement
  (expression_statement (call_expression function: (identifier) @name) (MISSING ";")) @call
  .
  (_) @body)
"""
#: names that say a macro walks something, for a body without braces (``TAILQ_FOREACH(…) f(x);``)
_LOOP_WORDS = re.compile(rb"(?i)for|each|loop|iter|walk|scan")


def macro_loops(source: bytes, root: Node) -> bytes:
    """``source`` with each loop macro written as a ``while`` over the macro's arguments, in
    place (``list_for_each_entry(pos, head, member)`` → ``while              (pos, head,
    member)``): same length, same lines, so every position still holds.

    A loop macro is a call in statement position that the parser found without its ``;`` and
    followed by a block (``{ … }``), or by one statement when the macro's name says it walks
    something (for, each, loop, iter, walk, scan); names shorter than ``while`` stay."""
    spans = []
    for _, match in tree_sitter.QueryCursor(_query(_MACRO_LOOP)).matches(root):
        name, body = match["name"][0], match["body"][0]
        if name.end_byte - name.start_byte < len(b"while") or body.type == "comment":
            continue
        if body.type == "compound_statement" or _LOOP_WORDS.search(name.text or b""):
            spans.append((name.start_byte, name.end_byte))
    if not spans:
        return source
    out = bytearray(source)
    for start, end in spans:
        out[start:end] = b"while".ljust(end - start)
    return bytes(out)


def text_of(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def line_of(node: Node) -> int:
    """1-based line where ``node`` starts."""
    return node.start_point[0] + 1


def walk(node: Node, *, skip: frozenset[str] = frozenset()) -> Iterator[Node]:
    """Every named node under ``node`` (itself included), depth first, without recursion.

    Subtrees whose type is in ``skip`` are yielded but not entered.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current.type in skip and current is not node:
            continue
        stack.extend(reversed(current.named_children))


def error_lines(root: Node) -> list[int]:
    """Lines of ERROR and MISSING nodes: where the parser could not follow the code."""
    lines: list[int] = []
    stack = [root] if root.has_error else []
    while stack:  # only subtrees that hold an error are entered
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            lines.append(line_of(node))
        # MISSING tokens (a `;`, an `#endif` the parser made up) are not named children
        stack.extend(c for c in node.children if c.has_error or c.is_missing)
    return sorted(set(lines))


def _innermost_declarator(node: Node | None) -> Node | None:
    while node is not None and node.type not in ("identifier", "field_identifier"):
        if node.type == "parenthesized_declarator":  # (*fp): no field name on the inside
            node = node.named_children[0] if node.named_children else None
        elif node.type == "function_declarator" or "declarator" in node.type:
            node = node.child_by_field_name("declarator")
        else:
            return None
    return node


def function_declarator(fn: Node) -> Node | None:
    """The ``function_declarator`` of a definition (under any pointer declarators)."""
    node = fn.child_by_field_name("declarator")
    while node is not None and node.type != "function_declarator":
        node = node.child_by_field_name("declarator")
    return node


def function_name(fn: Node) -> str | None:
    """Name of a ``function_definition``, or None for shapes macros made unreadable."""
    declarator = function_declarator(fn)
    if declarator is None:
        return None
    name = declarator.child_by_field_name("declarator")
    return text_of(name) if name is not None and name.type == "identifier" else None


def enclosing_function(root: Node, line: int) -> str | None:
    """The name of the function definition whose lines hold ``line`` (1-based), if any."""
    for node in root.named_children:
        if node.type != "function_definition":
            continue
        if node.start_point[0] + 1 <= line <= node.end_point[0] + 1:
            return function_name(node)
    return None


def definition_of(node: Node) -> Node | None:
    """The ``function_definition`` that holds ``node``, or None at file scope."""
    parent = node.parent
    while parent is not None and parent.type != "function_definition":
        parent = parent.parent
    return parent


def function_parameters(fn: Node) -> list[str]:
    """Parameter names in order ('' for unnamed ones) of a ``function_definition``."""
    declarator = function_declarator(fn)
    params = declarator.child_by_field_name("parameters") if declarator else None
    names: list[str] = []
    for param in params.named_children if params is not None else []:
        if param.type != "parameter_declaration":
            continue
        names.append(text_of(_innermost_declarator(param.child_by_field_name("declarator"))))
    return names


def pointer_parameters(fn: Node) -> list[bool]:
    """For each parameter of a ``function_definition``: whether it is declared as a pointer
    (``T *p``, ``T p[]``); typedef'd pointers are the caller's to check."""
    declarator = function_declarator(fn)
    params = declarator.child_by_field_name("parameters") if declarator else None
    found: list[bool] = []
    for param in params.named_children if params is not None else []:
        if param.type != "parameter_declaration":
            continue
        inner = param.child_by_field_name("declarator")
        found.append(inner is not None and inner.type in ("pointer_declarator", "array_declarator"))
    return found


def returns_pointer(fn: Node) -> bool:
    """Whether a function definition returns a pointer (``T *f(...)``), or a typedef'd one."""
    node = fn.child_by_field_name("declarator")
    return node is not None and node.type == "pointer_declarator"


def declarators(declaration: Node) -> Iterator[Node]:
    """The declarators of a declaration, without their initialisers: ``char *p = x, b[4]``
    gives the ``*p`` and ``b[4]`` nodes."""
    for declarator in declaration.children_by_field_name("declarator"):
        inner = (
            declarator.child_by_field_name("declarator")
            if declarator.type == "init_declarator"
            else declarator
        )
        if inner is not None:
            yield inner


def declared_name(declarator: Node | None) -> str | None:
    """The identifier an (init_)declarator declares: ``char *buf[4] = x`` → ``buf``."""
    found = _innermost_declarator(declarator)
    return text_of(found) if found is not None else None


def callee_name(call: Node) -> str | None:
    """Name of the function a ``call_expression`` calls directly, None for calls via pointers."""
    function = call.child_by_field_name("function")
    while (  # (Curl_cfree)(mem): the parentheses keep a macro from expanding; same callee
        function is not None
        and function.type == "parenthesized_expression"
        and function.named_child_count == 1
    ):
        function = function.named_children[0]
    return text_of(function) if function is not None and function.type == "identifier" else None


def arrow_of(node: Node | None) -> tuple[str, str] | None:
    """``x->field`` as (x, field), for an identifier ``x``; None for anything else."""
    bare = strip_expression(node)
    if bare is None or bare.type != "field_expression":
        return None
    operator = bare.child_by_field_name("operator")
    base = strip_expression(bare.child_by_field_name("argument"))
    if operator is None or operator.type != "->" or base is None or base.type != "identifier":
        return None
    return text_of(base), text_of(bare.child_by_field_name("field"))


def strip_expression(node: Node | None) -> Node | None:
    """Remove parentheses and casts: ``((void *)(p))`` → ``p``."""
    while node is not None:
        if node.type == "parenthesized_expression" and node.named_child_count == 1:
            node = node.named_children[0]
        elif node.type == "cast_expression":
            node = node.child_by_field_name("value")
        else:
            return node
    return None


@lru_cache(maxsize=4096)
def identifier_pattern(names: frozenset[str]) -> re.Pattern[bytes]:
    """A regex finding any of ``names`` as a whole C identifier (``p`` is not in ``printf``):
    the walks' C-speed test of whether some source text can touch a followed pointer."""
    alternatives = b"|".join(re.escape(n.encode()) for n in sorted(names))
    return re.compile(rb"(?<![A-Za-z0-9_$])(?:" + alternatives + rb")(?![A-Za-z0-9_$])")


#: the bytes of a C identifier (and ``$``, which compilers accept in one)
_IDENTIFIER_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$")
_IDENTIFIER_RUN = re.compile(rb"[A-Za-z0-9_$]+")


class WordIndex:
    """Where each identifier a walk asks about occurs, as a whole word, in one function's
    text: the walks ask "does this statement mention p?" of every statement for every
    allocation site, and a bisection in these positions answers what ``identifier_pattern``
    would find in the statement's text, without copying or scanning that text each time.

    ``mentions`` answers None when it cannot say exactly what the regex would (a node outside
    the function, a word that is not an identifier, a node whose edge cuts an identifier):
    the caller then runs the regex."""

    def __init__(self, node: Node) -> None:
        self._text = node.text or b""
        self._start = node.start_byte
        self._end = self._start + len(self._text)
        self._at: dict[bytes, list[int]] | None = None
        #: the words asked about, as bytes; None for a set with a word that is not an identifier
        self._encoded: dict[frozenset[str], tuple[bytes, ...] | None] = {}

    def _positions(self, word: bytes) -> list[int]:
        if self._at is None:  # every identifier of the function, found in one scan
            self._at = {}
            for match in _IDENTIFIER_RUN.finditer(self._text):
                self._at.setdefault(match.group(), []).append(match.start() + self._start)
        return self._at.get(word, [])

    def _cuts(self, offset: int) -> bool:
        """Whether byte ``offset`` (absolute) falls inside a run of identifier bytes."""
        at = offset - self._start
        if at <= 0 or at >= len(self._text):
            return False
        return self._text[at - 1] in _IDENTIFIER_BYTES and self._text[at] in _IDENTIFIER_BYTES

    def mentions(self, node: Node, words: frozenset[str]) -> bool | None:
        start, end = node.start_byte, node.end_byte
        if start < self._start or end > self._end:
            return None
        if words in self._encoded:
            encoded = self._encoded[words]
        else:
            encoded = tuple(w.encode() for w in words)
            if not all(_IDENTIFIER_RUN.fullmatch(w) for w in encoded):
                encoded = None
            self._encoded[words] = encoded
        if encoded is None:
            return None
        if start < end and (self._cuts(start) or self._cuts(end)):
            return None  # the regex on the node's own text would see a word boundary there
        for word in encoded:
            starts = self._positions(word)
            i = bisect_left(starts, start)
            if i < len(starts) and starts[i] + len(word) <= end:
                return True
        return False
