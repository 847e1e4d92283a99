"""JSON from clients, parsed with a bound on its nesting.

Anything a client sends the local PagerDuty (its REST and Events bodies) is parsed here.
Python's parser recurses, and so does every walk over the result (validation, rendering,
``json.dumps`` when a document is stored): a body nested a thousand deep is a ``RecursionError``
somewhere, which a server answers with a 500. So nesting is bounded at ``MAX_JSON_DEPTH``
levels — the default of .NET's ``System.Text.Json`` and far beyond any PagerDuty payload — and
anything deeper, like anything that is not JSON, is a ``JsonInputError`` whose message can be
shown as it is.

ADS has the same bound in ``ads.json_input``; this server keeps its own copy, being a separate
product that imports nothing from ``ads``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "JsonInputError", "JsonTooDeep", "nesting_exceeds", "parse_json"]

MAX_JSON_DEPTH = 64


class JsonInputError(ValueError):
    """The input is not JSON, or is nested deeper than the bound; the message says which."""


class JsonTooDeep(JsonInputError):
    """Valid or not, the input nests arrays/objects deeper than the bound."""


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value in ``raw``; ``JsonInputError`` if it is not JSON or is nested deeper than
    ``max_depth`` arrays/objects."""
    try:
        value = json.loads(raw)
    except RecursionError:  # the C parser gives up near the interpreter's recursion limit
        raise JsonTooDeep(_too_deep(max_depth)) from None
    except json.JSONDecodeError as exc:
        raise JsonInputError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError:
        raise JsonInputError("not valid JSON: the text is not UTF-8") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise JsonInputError(f"not valid JSON: {str(exc)[:200]}") from None
    if nesting_exceeds(value, max_depth):
        raise JsonTooDeep(_too_deep(max_depth))
    return value


def nesting_exceeds(value: Any, max_depth: int) -> bool:
    """True if ``value`` nests arrays/objects more than ``max_depth`` levels (iterative: the
    check itself cannot overflow the stack, and it stops at the first level too deep)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _too_deep(max_depth: int) -> str:
    return f"JSON nested deeper than {max_depth} levels"
