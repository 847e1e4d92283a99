"""What the service builds: the files whose code runs in the OOM-killed process.

A repository holds more than the service: tests and benchmarks with their own ``main`` loops,
examples, vendored dependencies, fuzzers, docs. Their loops must not make a one-off leak look
per-iteration, and their findings must not win ties. The build says best which files are the
service (``compile_commands.json``, read by the workflow); without it, directories that by
convention hold other programs or other people's code are outside, unless the service's
``sources`` name them explicitly.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import PurePosixPath

__all__ = ["OUTSIDE_DIRECTORIES", "BuildScope"]

OUTSIDE_DIRECTORIES = frozenset(
    {"test", "tests", "testing", "testsuite", "unittest", "unittests", "example", "examples",
     "sample", "samples", "bench", "benchmark", "benchmarks", "fuzz", "fuzzing", "deps",
     "vendor", "third_party", "thirdparty", "3rdparty", "external", "contrib", "doc", "docs"}
)  # fmt: skip


@dataclass(frozen=True)
class BuildScope:
    """Which analysed files are the service's own code."""

    #: files the build compiles (repo-relative), when the build told us; None: not known
    built: frozenset[str] | None = None
    #: the service's configured ``sources`` (paths under one of them are always in scope)
    explicit: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_build(cls, built: Collection[str] | None, sources: Collection[str] = ()) -> BuildScope:
        explicit = tuple(s.strip("/") for s in sources if s.strip("/") not in ("", "."))
        return cls(frozenset(built) if built else None, explicit)

    def contains(self, path: str) -> bool:
        if any(path == s or path.startswith(s + "/") for s in self.explicit):
            return True
        if self.built is not None and path.endswith(".c"):
            return path in self.built
        parts = PurePosixPath(path).parts
        name = parts[-1] if parts else path
        if name.startswith("test_") or name.endswith(("_test.c", "_tests.c", "-test.c")):
            return False
        return not any(part.lower() in OUTSIDE_DIRECTORIES for part in parts[:-1])

    def describe(self) -> str:
        if self.built is not None:
            return f"the {len(self.built)} C files the build compiles (compile_commands.json)"
        return "the repository minus tests, examples, benchmarks, fuzzers and vendored code"
