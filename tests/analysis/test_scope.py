"""Which files are the service's own code when no build says so."""

from __future__ import annotations

from ads.analysis.scope import BuildScope, is_licence_file


def test_licence_files_are_recognised_by_name_and_source_files_never() -> None:
    assert all(map(is_licence_file, ["LICENSE", "COPYING", "LICENSE-MIT", "ICU-license.html"]))
    assert not any(map(is_licence_file, ["license.c", "copying.h", "README", "licenses.py"]))


def test_a_licensed_directory_holding_most_of_the_code_is_the_service_itself() -> None:
    analysed = ["server/a.c", "server/b.c", "server/c.c", "tools/x.c"]
    scope = BuildScope.from_build(None, ["."], licensed=["server", "tools"], analysed=analysed)
    assert scope.vendored == ("tools",)
    assert scope.contains("server/a.c") and not scope.contains("tools/x.c")


def test_a_configured_source_inside_a_licensed_directory_keeps_it_in_scope() -> None:
    scope = BuildScope.from_build(
        None, ["deps/hiredis"], licensed=["deps/hiredis"], analysed=["deps/hiredis/net.c", "a.c"]
    )
    assert scope.vendored == ()
    assert scope.contains("deps/hiredis/net.c")
