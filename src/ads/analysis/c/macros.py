"""Attribute macros, read as the keywords they expand to.

Code bases spell declaration attributes as macros: haproxy's ``static forceinline char *f()``,
``THREAD_LOCAL size_t n``, ``__maybe_unused``; BSD's ``printflike(2, 3)``. The parser sees an
unknown word where a type or a declarator should be, and the whole function it starts is a
parse error (haproxy: some 400 of its inline functions), so its findings lose confidence.

A macro is an attribute macro when every definition the code base gives it is made only of
attributes (``__attribute__((…))``, ``__declspec(…)``, ``alignas(…)``), storage and inline
keywords, or other attribute macros — nothing that is code — and some definition spells one
(``#define HAVE_SSL`` alone is a flag for ``#ifdef``, not an attribute). An attribute saying
a function never returns is written ``noreturn`` (C23's keyword, which the parser knows and
the program reads to know a path ends there), or left as written where that does not fit.

Each use is written as the keywords it expands to, padded to the same length (so every
position and line still holds): ``forceinline`` → ``inline     ``, ``THREAD_LOCAL`` →
``__thread    ``, ``__maybe_unused`` → spaces. A name the code also defines as code in some
configuration is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "AttributeMacro",
    "attribute_macros",
    "blank_macro_comments",
    "expand_attributes",
    "rewrite_for_parse",
    "without_comments",
]

_DEFINE = re.compile(
    rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\((?:[^()\n]*)\))?[ \t]*(.*?)[ \t]*$", re.M
)
_COMMENT = re.compile(rb"/\*.*?\*/|//.*$", re.S | re.M)
_WORD = re.compile(rb"[A-Za-z_]\w*")
_NORETURN = re.compile(rb"noreturn")
#: the keywords an attribute macro may expand to, and how each is written back
_KEYWORDS = {
    b"inline": b"inline",
    b"__inline": b"inline",
    b"__inline__": b"inline",
    b"__forceinline": b"inline",
    b"static": b"static",
    b"extern": b"extern",
    b"__thread": b"__thread",
    b"_Thread_local": b"__thread",
    b"thread_local": b"__thread",
    b"const": b"const",
    b"volatile": b"volatile",
    b"_Noreturn": b"noreturn",
    b"noreturn": b"noreturn",
    b"__extension__": b"",
    b"restrict": b"restrict",
    b"__restrict": b"restrict",
    b"__restrict__": b"restrict",
}
#: constructs that are attributes whatever their arguments
_ATTRIBUTE_CALLS = frozenset(
    {b"__attribute__", b"__attribute", b"__declspec", b"_Alignas", b"alignas", b"__asm__"}
)


class AttributeMacro(NamedTuple):
    keywords: bytes  # what a use is written as (b"" for nothing)
    takes_arguments: bool  # ``printflike(2, 3)``: the arguments go with the name


def attribute_macros(files: Iterable[bytes]) -> dict[bytes, AttributeMacro]:
    """The code base's attribute macros, by name."""
    definitions: dict[bytes, list[bytes | None]] = {}
    takes: dict[bytes, bool] = {}
    for data in files:
        if b"define" not in data:
            continue
        for match in _DEFINE.finditer(data):
            name, body = match.group(1), match.group(3)
            if takes.setdefault(name, match.group(2) is not None) != (match.group(2) is not None):
                body = b"\\"  # object-like here, function-like there: not one macro
            definitions.setdefault(name, []).append(
                None if body.endswith(b"\\") else _COMMENT.sub(b" ", body)
            )
    found: dict[bytes, AttributeMacro] = {}
    changed = True
    while changed:  # attribute macros made of attribute macros: to a fixpoint
        changed = False
        for name, bodies in definitions.items():
            if name in found or name in _KEYWORDS or name in _ATTRIBUTE_CALLS:
                continue
            expansions = [_keywords(body, found) if body is not None else None for body in bodies]
            spelled = any(body and body.strip() for body in bodies)  # not only flags (HAVE_X)
            if spelled and all(e is not None for e in expansions):
                found[name] = AttributeMacro(expansions[0] or b"", takes[name])
                changed = True
    return found


def _keywords(body: bytes, known: dict[bytes, AttributeMacro]) -> bytes | None:
    """The keywords ``body`` is made of, once its attributes are taken out; None when it holds
    anything else (a type, an expression, a statement)."""
    words: list[bytes] = []
    at = 0
    while at < len(body):
        if body[at : at + 1].isspace():
            at += 1
            continue
        match = _WORD.match(body, at)
        if match is None:
            return None  # an operator, a literal, a brace: code
        word = match.group()
        at = match.end()
        if word in _ATTRIBUTE_CALLS:
            end = _after_arguments(body, at)
            if end == at:
                return None
            if _NORETURN.search(body, at, end):
                words.append(b"noreturn")  # what the program reads to know die() ends a path
            at = end
        elif word in known:
            macro = known[word]
            at = _after_arguments(body, at) if macro.takes_arguments else at
            if macro.keywords:
                words.append(macro.keywords)
        elif word in _KEYWORDS:
            if _KEYWORDS[word]:
                words.append(_KEYWORDS[word])
        else:
            return None
    return b" ".join(words)


def _after_arguments(text: bytes, at: int) -> int:
    """Where a parenthesised argument list starting at ``at`` (after blanks) ends; ``at`` when
    there is none or it does not close."""
    start = at
    while start < len(text) and text[start : start + 1] in (b" ", b"\t"):
        start += 1
    if text[start : start + 1] != b"(":
        return at
    depth = 0
    for index in range(start, len(text)):
        char = text[index : index + 1]
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
            if depth == 0:
                return index + 1
        elif char == b"\n" and depth > 4:
            return at
    return at


def expand_attributes(source: bytes, macros: dict[bytes, AttributeMacro]) -> bytes:
    """``source`` with each use of the attribute ``macros`` written as its keywords, in place;
    preprocessor lines stay as they are."""
    if not macros:
        return source
    pattern = re.compile(rb"\b(?:" + b"|".join(re.escape(n) for n in sorted(macros)) + rb")\b")
    out = bytearray(source)
    for match in pattern.finditer(source):
        line_start = source.rfind(b"\n", 0, match.start()) + 1
        if source[line_start : match.start()].lstrip().startswith(b"#"):
            continue
        macro = macros[match.group()]
        end = _after_arguments(source, match.end()) if macro.takes_arguments else match.end()
        if macro.takes_arguments and end == match.end():
            continue  # the name alone, not a use (a function pointer of the same name)
        span = source[match.start() : end]
        if b"\n" in span:
            continue  # arguments over several lines: a line would move
        keywords = macro.keywords
        if len(keywords) > len(span):
            if b"noreturn" in keywords:
                continue  # ``NORET void die()``: as written, the word still says it
            keywords = b""
        out[match.start() : end] = keywords.ljust(len(span))
    return bytes(out)


# a string or character literal (kept) or a comment (blanked), left to right
_LITERAL_OR_COMMENT = re.compile(
    rb'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|/\*.*?\*/|//[^\n]*', re.DOTALL
)
#: a ``#define`` whose line goes on (ends in a backslash), to the end of its last line
_CONTINUED_DEFINE = re.compile(rb"^[ \t]*#[ \t]*define\b(?:[^\n]*\\\r?\n)+[^\n]*", re.MULTILINE)


def without_comments(text: bytes) -> bytes:
    """``text`` with its comments blanked, in place (same length; a comment's ``\\`` line ends
    and newlines kept), string and character literals untouched.

    The C grammar ends a macro's value at a comment inside it: haproxy's ``__b_free`` (``do {
    char *area = (_buf)->area; … /* let's first clear … */ … pool_free(…, area); } while
    (0)``) read as its first two lines, so its release was never seen, and the lines after the
    comment were a parse error in the header."""

    def blank(match: re.Match[bytes]) -> bytes:
        found = match.group(0)
        if found[:1] in b"\"'":
            return found
        return re.sub(rb"[^\\\n]", b" ", found)

    return _LITERAL_OR_COMMENT.sub(blank, text)


def blank_macro_comments(source: bytes) -> bytes:
    """``source`` with the comments inside its multi-line ``#define``s blanked, in place."""
    if b"/*" not in source and b"//" not in source:
        return source
    return _CONTINUED_DEFINE.sub(lambda m: without_comments(m.group(0)), source)


def rewrite_for_parse(source: bytes, macros: dict[bytes, AttributeMacro]) -> bytes:
    """What a file that did not parse is parsed again as: comments out of its multi-line
    macros, its attribute macros written as their keywords (both in place)."""
    return expand_attributes(blank_macro_comments(source), macros)
