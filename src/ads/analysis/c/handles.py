"""Handles a function owns on entry: a by-value reference it releases on some paths only.

Some code bases pass reference-counted handles by value (jq's ``jv``, its compiler's
``block``): a function that receives one owns that reference and must, on every path,
release it (``jv_free(a)``), hand it to a callee that keeps it, store it, or return it. The
path analysis of allocation sites never sees these leaks: the reference was allocated by a
caller, which rightly gave it away. jq's own leak fixes are mostly of this kind (``f_strptime``
returning an error before freeing its inputs, ``jv_has`` forgetting ``t`` on its NaN branch).

The convention is not guessed from names. A *handle type* is the declared type of a by-value
parameter that some function of the program releases what it holds through (``jv_free(jv j)``
reaching ``jv_mem_free(j.u.ptr)``); pointer typedefs and scalar types are never handles. A
function is taken to own such a parameter only when it gives it away on some path — kept by
a callee, stored or returned — and a path that returns with the reference untouched is then
the leak. No function of a file that reads a handle's representation (``j.u.ptr``) is
reported: that is the type's implementation, where the releasers (``jv_free``, whose other
paths are the kinds and counts with nothing to free) and helpers manage counts and kinds by
hand. Neither is a function that only reads its parameter (``jv_get_kind``): borrowing is a
convention too.

Low confidence always: the handle's kind may hold no heap memory on that path (jq's ``null``,
``true``, plain numbers), which the syntax cannot tell.
"""

from __future__ import annotations

import re

from ads.analysis.c.flow import Status, follow, initial_state
from ads.analysis.c.program import Function, LoopInfo, Program
from ads.analysis.c.syntax import callee_name, find_all, line_of, text_of
from ads.models import Confidence, Finding, FindingKind, Support

__all__ = ["HANDLE_ISSUE", "unreleased_handles"]

HANDLE_ISSUE = "reference-counted handle parameter not released on a path"
_RETURN_LINE = re.compile(r"return at line (\d+)")


def unreleased_handles(program: Program, driven: dict[str, LoopInfo]) -> list[Finding]:
    """A finding per in-scope function and handle parameter it owns but keeps on some path."""
    handles = program.handle_types()
    if not handles:
        return []
    own = _implementations(program, handles)
    findings: list[Finding] = []
    for fn in program.all_functions():
        if fn.body is None or not program.scope.contains(fn.file):
            continue
        for _index, param, kind in program.by_value_parameters(fn):
            if kind not in handles or fn.file in own.get(kind, ()):
                continue
            finding = _kept_on_some_path(program, fn, param, kind, driven.get(fn.name))
            if finding is not None:
                findings.append(finding)
    return findings


def _implementations(program: Program, handles: frozenset[str]) -> dict[str, set[str]]:
    """handle type → the files that implement it: where a function reads the representation
    of a handle parameter (``j.u.ptr``, ``b.first``). Code there manages counts and kinds by
    hand (``jvp_object_add_slot`` takes the key only when a slot is free, ``jv_invalid_with_msg``
    drops a ``null``); the convention is its users'."""
    files: dict[str, set[str]] = {}
    for fn in program.all_functions():
        params = {p: kind for _, p, kind in program.by_value_parameters(fn) if kind in handles}
        if not params or fn.body is None:
            continue
        for member in find_all(fn.body, "field_expression"):
            holder = member.child_by_field_name("argument")
            name = text_of(holder) if holder is not None and holder.type == "identifier" else ""
            if name in params and text_of(member.child_by_field_name("operator")) == ".":
                files.setdefault(params[name], set()).add(fn.file)
                break
    return files


def _kept_on_some_path(
    program: Program, fn: Function, param: str, kind: str, driver: LoopInfo | None
) -> Finding | None:
    assert fn.body is not None
    region = program.region(fn)
    # ``if (nerrors == 0) compile(…, args)``: a handle given away on one branch only is what
    # these leaks are, not an ownership flag saying who releases it
    region.trust_owner_flags = False
    outcome = follow(region, fn.body, initial_state([param], fn.line))
    ends = [*outcome.ret.values(), *outcome.fall.values()]
    given = sorted({st.event for st in ends if st.status in (Status.FREED, Status.ESCAPED)})
    kept = [st for st in ends if st.status is Status.OWNED and not st.allocation_failed]
    if not given or not kept:
        return None  # a borrower (never gives it away), or a consumer on every path
    end = fn.node.end_point[0] + 1  # a path that falls off the end
    lines = sorted(
        {int(m.group(1)) if (m := _RETURN_LINE.search(st.event)) else end for st in kept}
    )
    lines = [n for n in lines if not _returned_through_macro(program, fn, param, n)]
    if not lines:
        return None
    per_call = driver is not None and driver.unbounded
    shown = ", ".join(str(n) for n in lines[:3]) + (" ..." if len(lines) > 3 else "")
    reasons = [
        f"{fn.name}() owns its {kind} parameter {param}: on other paths it is {given[0]}",
        f"returning at line {shown}, the reference is kept: it is never released",
        "the handle may hold no heap memory on that path (a kind without a count), which the "
        "code does not say",
    ]
    if per_call and driver is not None:
        reasons.append(f"{fn.name}() runs on every iteration of {driver.describe()}")
    return Finding(
        file=fn.file,
        function=fn.name,
        line=lines[0],
        end_line=lines[0],
        kind=FindingKind.LOOP_LEAK if per_call else FindingKind.ONE_OFF_LEAK,
        issue=HANDLE_ISSUE,
        allocation=f"{kind} {param} (parameter)",
        variable=param,
        evidence=[
            f"parameter {param} of {fn.name}() at {fn.file}:{fn.line}, a {kind} passed by value",
            f"given away on another path: {given[0]}",
        ],
        confidence=Confidence.LOW,
        reasons=reasons,
        support=[Support.PATH],
        score=0.9 if per_call else 0.2,
        loop_line=driver.line if per_call and driver is not None else None,
        in_scope=True,
        released_elsewhere=True,  # it owns the reference: the classic error-path leak
        main_loop=per_call and driver is not None and driver.shape in ("infinite", "flag"),
    )


def _returned_through_macro(program: Program, fn: Function, param: str, line: int) -> bool:
    """``return JV_ARRAY(value);``: the handle goes into a function-like macro on the return
    that keeps it; what a macro does with an argument is not read, so it is not a leak."""
    assert fn.body is not None
    for node in find_all(fn.body, "return_statement"):
        if line_of(node) != line:
            continue
        for call in find_all(node, "call_expression"):
            arguments = call.child_by_field_name("arguments")
            passed = [text_of(a) for a in arguments.named_children] if arguments else []
            if param in passed and (callee_name(call) or "") in program.constants.macro_names:
                return True
    return False
