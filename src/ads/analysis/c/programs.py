"""Which ``main`` is the service's, when a repository builds several programs.

redis's ``src/`` holds ``redis-server`` (``server.c``) beside ``redis-cli.c`` and
``redis-benchmark.c``, each with its own ``main``. Without the build's word, the files that define
another program's ``main`` are that program's: their loops say nothing about the service and
their leaks must not win ties. The service's ``main`` is the one whose file is named like the
service (``server.c`` for ``redis-server``); failing that, the only one, or the one that reaches
the most functions (the server is the program the rest of the code base exists for). A
``main`` under ``#ifdef`` is a file's self-test, not a program.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from .program import Function, Program
from .syntax import callee_name

__all__ = ["other_program_files"]

_GENERIC = frozenset({"main", "common", "entry", "app"})


def other_program_files(program: Program, service: str) -> frozenset[str]:
    """The in-scope files that define a ``main`` other than the service's."""
    mains = [
        fn
        for fn in program.functions.get("main", [])
        if program.scope.contains(fn.file) and not _conditional(fn)
    ]
    files = sorted({fn.file for fn in mains})
    if len(files) < 2:
        return frozenset()
    named = [f for f in files if _named_like(f, service)]
    if len(named) == 1:
        return frozenset(files) - {named[0]}
    reach = {f: _reached(program, f) for f in named or files}
    best = max(reach.values())
    leaders = [f for f, n in reach.items() if n == best]
    if len(leaders) != 1:
        return frozenset()  # no way to tell which program is the service: keep them all
    return frozenset(files) - {leaders[0]}


def _conditional(fn: Function) -> bool:
    """A ``main`` under ``#ifdef REDIS_TEST`` (a file's self-test) is not a program's."""
    node = fn.node.parent
    while node is not None:
        if node.type.startswith("preproc_"):
            return True
        node = node.parent
    return False


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", text.lower()) if t}


def _named_like(path: str, service: str) -> bool:
    """``server.c`` for ``redis-server``: every word of the file's name is in the service's."""
    words = _tokens(PurePosixPath(path).stem) - _GENERIC
    return bool(words) and words <= _tokens(service)


def _reached(program: Program, path: str) -> int:
    """How many functions the ``main`` of ``path`` reaches through direct calls."""
    seen: set[str] = set()
    pending = [fn for fn in program.functions.get("main", []) if fn.file == path]
    while pending:
        fn = pending.pop()
        for call in fn.calls:
            callee = callee_name(call)
            if callee and callee != "main" and callee in program.functions and callee not in seen:
                seen.add(callee)
                pending.extend(program.functions[callee])
    return len(seen)
