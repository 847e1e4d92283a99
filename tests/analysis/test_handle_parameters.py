"""Handles passed by value and owned by the callee (jq's ``jv`` convention), each a tiny service
written for the test and diagnosed end to end: the function gives its reference away on some
paths and returns with it on another (jq's ``f_strptime``, ``jv_has`` and
``jq_compile_args`` leak fixes), and the shapes that are no leak.
"""

from __future__ import annotations

from pathlib import Path

from ads.analysis.c.fixes import propose_fix
from ads.models import Confidence, FindingKind
from tests.fixtures.tiny import Step, diagnose_tiny, tiny_history

# The handle's implementation: the only file that reads its representation (v.ptr, v.kind).
VALUES = """\
#include <stdlib.h>
#include <string.h>

struct counted { int count; char data[]; };
typedef struct { int kind; struct counted *ptr; } val;

val val_string(const char *s) {
    struct counted *c = malloc(sizeof(struct counted) + strlen(s) + 1);
    c->count = 1;
    strcpy(c->data, s);
    val v = {1, c};
    return v;
}

val val_null(void) {
    val v = {0, NULL};
    return v;
}

int val_kind(val v) { return v.kind; }

void val_free(val v) {
    if (v.ptr && --v.ptr->count == 0) free(v.ptr);
}

struct pair { val left, right; };

val val_join(val a, val b) {
    struct pair *p = malloc(sizeof *p);
    p->left = a;
    p->right = b;
    val v = {2, (struct counted *)p};
    return v;
}

val val_error(const char *why) { return val_string(why); }

/* takes the key only when it is a string: the implementation manages kinds by hand */
val val_keyed(val key) {
    if (key.kind != 1) return val_null();
    return key;
}
"""

BUILTINS = """\
#include <assert.h>
#include <unistd.h>

typedef struct { int kind; struct counted *ptr; } val;
val val_string(const char *s);
val val_null(void);
int val_kind(val v);
void val_free(val v);
val val_keyed(val key);
val val_error(const char *why);
val val_join(val a, val b);
#define AS_LIST(...) val_join(val_null(), __VA_ARGS__)

/* the leak: both inputs are given away below, but not on the type error */
static val f_concat(val a, val b) {
    if (val_kind(a) != 1 || val_kind(b) != 1)
        return val_error("concat needs strings");
    return val_join(a, b);
}

/* a consumer on every path */
static val f_first(val a, val b) {
    if (val_kind(a) != 1) {
        val_free(a);
        return b;
    }
    val_free(b);
    return a;
}

/* a borrower: it only reads its argument, the caller keeps its reference */
static int f_is_string(val v) { return val_kind(v) == 1; }

/* the kind that never happens ends the path */
static val f_wrap(val v) {
    if (val_kind(v) == 1)
        return val_join(val_null(), v);
    if (val_kind(v) == 0) {
        val_free(v);
        return val_null();
    }
    assert(0 && "a kind that cannot be");
    return val_null();
}

/* handed to a function-like macro on the return: what the macro does is not read */
static val f_listed(val v) {
    if (val_kind(v) == 0) {
        val_free(v);
        return val_null();
    }
    return AS_LIST(v);
}

typedef val (*builtin)(val, val);
struct entry { builtin fn; const char *name; };
static const struct entry table[] = {
    {(builtin)f_concat, "concat"},
    {(builtin)f_first, "first"},
    {(builtin)f_wrap, "wrap"},
    {(builtin)f_listed, "listed"},
};

static volatile int running = 1;

int serve(int which) {
    while (running) {
        val out = table[which].fn(val_string("a"), val_string("b"));
        if (f_is_string(out))
            which = (which + 1) % 4;
        val_free(out);
        usleep(100);
    }
    return 0;
}
"""


def _diagnose(tmp_path: Path, builtins: str = BUILTINS):  # type: ignore[no-untyped-def]
    # imported 60 days ago: no commit in the window speaks for any finding
    steps = [Step("import the service", {"values.c": VALUES, "builtins.c": builtins}, 24 * 60)]
    repo, _ = tiny_history(tmp_path / "svc", steps)
    return diagnose_tiny(repo)


def test_a_handle_given_away_on_some_paths_and_kept_on_another_is_the_leak(
    tmp_path: Path,
) -> None:
    findings = [f for f in _diagnose(tmp_path).findings if f.function == "f_concat"]
    assert sorted(f.variable for f in findings) == ["a", "b"], findings
    for finding in findings:
        assert (finding.file, finding.line) == ("builtins.c", 17)  # the type error's return
        # the table entry is dispatched from serve()'s loop: once per request
        assert finding.kind is FindingKind.LOOP_LEAK
        assert finding.confidence is Confidence.LOW  # its kind may hold no memory there
        assert finding.released_elsewhere
        assert any("val_join" in reason for reason in finding.reasons), finding.reasons


def test_consumers_borrowers_dead_paths_macros_and_the_implementation_are_no_leak(
    tmp_path: Path,
) -> None:
    reported = {f.function for f in _diagnose(tmp_path).findings}
    assert "f_concat" in reported  # the same service does have the leak above
    for function in ("f_first", "f_is_string", "f_wrap", "f_listed", "val_keyed", "val_free"):
        assert function not in reported, function


def test_the_fixed_function_is_no_leak(tmp_path: Path) -> None:
    fixed = BUILTINS.replace(
        '        return val_error("concat needs strings");\n',
        "    {\n        val_free(a);\n        val_free(b);\n"
        '        return val_error("x");\n    }\n',
    )
    assert fixed != BUILTINS
    reported = {f.function for f in _diagnose(tmp_path, fixed).findings}
    assert "f_concat" not in reported


def test_the_fix_names_the_return_that_keeps_the_handle(tmp_path: Path) -> None:
    finding = next(f for f in _diagnose(tmp_path).findings if f.function == "f_concat")
    proposal = propose_fix("builtins.c", BUILTINS, finding)
    assert proposal.diff is None  # a suggestion: the releaser is the code base's own
    assert proposal.summary.startswith("No automatic fix: f_concat() keeps its handle")
    assert "builtins.c:17" in (proposal.suggestion or "")
