"""The language seam: what every front end answers the same way, whatever its language."""

from __future__ import annotations

import pytest

from ads.analysis.languages import front_end_for

C_SOURCE = b"""\
#include <stdlib.h>

static int counter;

char *make(int n) {
    char *p = malloc(n);
    return p;
}

void serve(void) {
    for (;;) {
        free(make(8));
    }
}
"""

PY_SOURCE = b"""\
import os

CACHE = {}

class Pages:
    def render(self, name):
        body = name * 2
        return body

def serve():
    while True:
        Pages().render("x")
"""


@pytest.mark.parametrize(
    ("path", "source", "line", "expected"),
    [
        ("svc/worker.c", C_SOURCE, 6, "make"),
        ("svc/worker.c", C_SOURCE, 12, "serve"),
        ("svc/worker.c", C_SOURCE, 3, None),  # a global, in no function
        ("app/pages.py", PY_SOURCE, 7, "Pages.render"),
        ("app/pages.py", PY_SOURCE, 12, "serve"),
        ("app/pages.py", PY_SOURCE, 3, None),
    ],
)
def test_a_front_end_names_the_function_holding_a_line(
    path: str, source: bytes, line: int, expected: str | None
) -> None:
    """How a run-time probe names the function of a frame it traced, for any language."""
    front_end = front_end_for(path)
    assert front_end is not None
    assert front_end.function_at(path, source, line) == expected


def test_a_file_of_no_front_end_has_none() -> None:
    assert front_end_for("notes/README.md") is None
