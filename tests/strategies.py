"""Hypothesis strategies for junk that is almost right: a good JSON document with one part
replaced by arbitrary JSON, removed, or nested thousands deep — the bodies that found the 500s
of issue 12 — plus arbitrary JSON and arbitrary bytes.

``mutated(valid)`` draws ``(document, raw bytes, what was done)``; the tests sign the bytes
(webhooks) or post them (Events API) and check the answer and what was stored.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

__all__ = ["FUZZ", "json_values", "mutated", "nested", "paths_of"]

# Deterministic and bounded in CI: the same examples every run, none remembered between runs.
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def nested(depth: int, kind: str) -> Any:
    """A value nested ``depth`` levels deep (lists or objects)."""
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def paths_of(document: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path into the objects of ``document`` (the places a mutation can hit)."""
    found: list[tuple[str, ...]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            found.append((*prefix, key))
            found.extend(paths_of(value, (*prefix, key)))
    return found


def _set(document: Any, path: tuple[str, ...], value: Any, delete: bool) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


@st.composite
def mutated(draw: st.DrawFn, valid: Any) -> tuple[Any, bytes, str]:
    """``valid`` itself, or with one change; ``(document or None, body, description)``."""
    kind = draw(
        st.sampled_from(["valid", "replace", "delete", "deep", "deep", "any json", "bytes"])
    )
    if kind == "bytes":
        raw = draw(st.binary(max_size=200))
        return None, raw, "bytes"
    if kind == "any json":
        document = draw(json_values)
        return document, json.dumps(document).encode(), "any json"
    if kind == "valid":
        return valid, json.dumps(valid).encode(), "valid"
    path = draw(st.sampled_from(paths_of(valid)))
    if kind == "deep":
        # 1000 is where the C parser gives up; 65 is the first depth ads.json_input refuses
        depth = draw(st.sampled_from([30, 63, 65, 200, 999, 1000, 5000]))
        shape = draw(st.sampled_from(["list", "object"]))
        where = f"{'.'.join(path)} nested {depth} deep"
        if depth < 900:
            document = _set(valid, path, nested(depth, shape), False)
            return document, json.dumps(document).encode(), where
        # json.dumps recurses too: write the nesting out by hand
        opener, closer = ("[", "]") if shape == "list" else ('{"a":', "}")
        text = json.dumps(_set(valid, path, "__deep__", False))
        raw = text.replace('"__deep__"', opener * depth + "1" + closer * depth).encode()
        return None, raw, where
    if kind == "delete":
        document = _set(valid, path, None, True)
        return document, json.dumps(document).encode(), f"{'.'.join(path)} removed"
    value = draw(json_values)
    document = _set(valid, path, value, False)
    return document, json.dumps(document).encode(), f"{'.'.join(path)} = {value!r}"[:200]
