"""Macros the parser cannot see expanded, read as what they expand to.

tree-sitter parses the files as they are, without the preprocessor. Real code bases wrap
loops, attributes and types in macros (haproxy's ``list_for_each_entry(pos, head, member) {}``,
git's ``for_each_string_list_item``, BSD's ``TAILQ_FOREACH``); read as written, each was a
call missing its ``;`` and a parse error, and a diagnosis of a service whose only leak sat in
such a body failed with "nothing could be diagnosed".
"""

from __future__ import annotations

from pathlib import Path

from ads.analysis.c.syntax import parse_c
from ads.models import FindingKind
from tests.fixtures.tiny import Step, diagnose_tiny, tiny_history

LONG_AGO = 24 * 60  # hours: the import is outside the history window, no commit speaks

FOREACH_SERVER = """\
#include <stdlib.h>
#include <unistd.h>

struct item { struct item *next; int v; };
struct list { struct item *first; };
#define list_for_each_entry(pos, head) for (pos = (head)->first; pos; pos = pos->next)

int emit(const char *line) { return line[0] == 0 ? -1 : 0; }

void report(struct list *l) {
    struct item *it;
    list_for_each_entry(it, l) {
        char *line = malloc(64);
        line[0] = (char)it->v;
        if (emit(line) < 0)
            continue;
        free(line);
    }
}

int main(void) {
    struct list l = { 0 };
    for (;;) {
        report(&l);
        usleep(1000);
    }
}
"""


def test_a_leak_in_the_body_of_a_loop_macro_is_diagnosed(tmp_path: Path) -> None:
    repo, _ = tiny_history(tmp_path / "svc", [Step("import", {"server.c": FOREACH_SERVER},
                                                   hours=LONG_AGO)])  # fmt: skip
    diagnosis = diagnose_tiny(repo)
    top = diagnosis.findings[0]
    assert (top.function, top.kind) == ("report", FindingKind.LOOP_LEAK), diagnosis.findings
    assert "continue at line 16" in top.reasons[0], top.reasons
    assert not [n for n in diagnosis.notes if "parse" in n], diagnosis.notes


def test_a_loop_macro_is_read_as_a_loop_in_place() -> None:
    source = (
        b"void f(struct list *l) {\n"
        b"    TAILQ_FOREACH(w, &l->windows, entry)\n"
        b"        free(w->name);\n"
        b"    WITH_LOCK(&l->lock)\n"
        b"        touch(l);\n"
        b"}\n"
    )
    tree = parse_c(source)
    body = tree.root_node.children[0].child_by_field_name("body")
    assert body is not None
    kinds = [child.type for child in body.named_children]
    # the walk over windows is a loop over its one statement; a macro whose name says
    # nothing of a walk, before a statement without braces, is left as it was written
    assert kinds[0] == "while_statement", kinds
    assert "while_statement" not in kinds[1:], kinds
    assert len(tree.root_node.text or b"") == len(source)


COMPAT_H = """\
#define forceinline inline __attribute__((always_inline))
#define THREAD_LOCAL __thread
#define __maybe_unused __attribute__((unused))
#define NORETURN __attribute__((noreturn))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - __builtin_offsetof(type, member)))
"""

# haproxy's idioms: attributes spelled as macros, a type handed to container_of(), a fatal
# function marked by a NORETURN macro. The handler leaks `buf` on its error path; load() does
# not leak: die() never returns.
ATTRIBUTED_SERVER = """\
#include <stdlib.h>
#include <unistd.h>
#include "compat.h"

struct link { struct link *next; };
struct item { int v; struct link link; };

THREAD_LOCAL size_t handled = 0;
NORETURN void die(const char *why);

static forceinline int check(const char *buf __maybe_unused, struct link *node) {
    struct item *it = container_of(node, struct item, link);
    return it->v;
}

static forceinline int handle(struct link *node) {
    char *buf = malloc(512);
    if (check(buf, node) < 0)
        return -1;
    free(buf);
    handled++;
    return 0;
}

char *load(int ok) {
    char *conf = malloc(64);
    if (!ok)
        die("no configuration");
    return conf;
}

int main(void) {
    struct item first = { 1, { 0 } };
    char *conf = load(1);
    for (;;) {
        handle(&first.link);
        usleep(1000);
    }
    free(conf);
}
"""


def test_attribute_macros_and_types_handed_to_macros_parse(tmp_path: Path) -> None:
    files = {"compat.h": COMPAT_H, "server.c": ATTRIBUTED_SERVER}
    repo, _ = tiny_history(tmp_path / "svc", [Step("import", files, hours=LONG_AGO)])
    diagnosis = diagnose_tiny(repo)
    assert not [n for n in diagnosis.notes if "parse" in n], diagnosis.notes
    top = diagnosis.findings[0]
    assert (top.function, top.kind) == ("handle", FindingKind.LOOP_LEAK), diagnosis.findings
    assert not any("parser failed" in r for r in top.reasons), top.reasons


def test_a_noreturn_macro_still_ends_the_path(tmp_path: Path) -> None:
    files = {"compat.h": COMPAT_H, "server.c": ATTRIBUTED_SERVER}
    repo, _ = tiny_history(tmp_path / "svc", [Step("import", files, hours=LONG_AGO)])
    assert "load" not in {f.function for f in diagnose_tiny(repo).findings}


# haproxy's ha_free(&p): a macro that frees what its argument points to and clears it. It read
# as "p handed to a macro that only uses it", so every function releasing this way leaked on
# every path (sink.c's __sink_new was a Medium loop leak), and a commit removing one was no
# removed release.
HA_FREE_SERVER = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ha_free(x) do {                      \\
        typeof(x) __x = (x);                 \\
        free(*__x);                          \\
        *__x = NULL;                         \\
    } while (0)

int check(const char *s) { return s[0] == 'G' ? 0 : -1; }

int handle(const char *request) {
    char *copy = strdup(request);
    if (copy == NULL)
        return -1;
    if (check(copy) < 0) {
        ha_free(&copy);
        return -1;
    }
    ha_free(&copy);
    return 0;
}

int main(void) {
    for (;;) {
        handle("GET /");
        usleep(1000);
    }
}
"""


def test_a_release_through_the_address_of_the_pointer_is_a_release(tmp_path: Path) -> None:
    repo, _ = tiny_history(tmp_path / "svc", [Step("import", {"server.c": HA_FREE_SERVER},
                                                   hours=LONG_AGO)])  # fmt: skip
    assert "handle" not in {f.function for f in diagnose_tiny(repo).findings}


def test_a_commit_removing_a_release_through_the_address_is_named(tmp_path: Path) -> None:
    removed = HA_FREE_SERVER.replace(
        "        ha_free(&copy);\n        return -1;", "        return -1;"
    )
    steps = [
        Step("import", {"server.c": HA_FREE_SERVER}, hours=72),
        Step("return early on a bad request", {"server.c": removed}, hours=3),
    ]
    repo, _ = tiny_history(tmp_path / "svc", steps)
    top = diagnose_tiny(repo).findings[0]
    assert (top.function, top.kind) == ("handle", FindingKind.LOOP_LEAK), top
    assert top.introduced_by is not None, top.reasons
    assert top.introduced_by.subject == "return early on a bad request", top.introduced_by


# haproxy's __b_free: a release macro with a comment in the middle of its body. The C grammar
# ends a macro's value at the first comment, so the release after it was never read, and the
# lines after the comment were a parse error in the header.
BUFFER_H = """\
#include <stdlib.h>

#define area_release(_area)                                           \\
    do {                                                              \\
        char *__area = (_area);                                       \\
        /* let's clear it first: nobody's left holding a dangling one */ \\
        (_area) = NULL;                                               \\
        free(__area);                                                 \\
    } while (0)
"""

COMMENTED_RELEASE = """\
#include <unistd.h>
#include "buffer.h"

int emit(const char *area) { return area[0] == 0 ? -1 : 0; }

void serve(void) {
    for (;;) {
        char *area = malloc(64);
        area[0] = 'x';
        emit(area);
        area_release(area);
        usleep(1000);
    }
}
"""


def test_a_release_macro_with_a_comment_inside_is_read_whole(tmp_path: Path) -> None:
    files = {"buffer.h": BUFFER_H, "server.c": COMMENTED_RELEASE}
    repo, _ = tiny_history(tmp_path / "svc", [Step("import", files, hours=LONG_AGO)])
    diagnosis = diagnose_tiny(repo)
    assert [f for f in diagnosis.findings if f.function == "serve"] == []
    assert not any("could not read" in note for note in diagnosis.notes), diagnosis.notes
    # without the release the same loop leaks: the test would see a missing one
    leaky = COMMENTED_RELEASE.replace("        area_release(area);\n", "")
    files = {"buffer.h": BUFFER_H, "server.c": leaky}
    repo, _ = tiny_history(tmp_path / "leaky", [Step("import", files, hours=LONG_AGO)])
    assert [f.function for f in diagnose_tiny(repo).findings] == ["serve"]


# haproxy's h2_release_mbuf(): every buffer of a ring handed back with the macro b_free(buf),
# which releases the buffer's area (a member), not the buffer. A commit deleting that call.
RING_H = """\
#include <stdlib.h>

struct buffer { char *area; unsigned size; };
#define buf_free(_b)                              \\
    do {                                          \\
        char *__area = (_b)->area;                \\
        /* clear it first, then give it back */   \\
        (_b)->area = NULL;                        \\
        (_b)->size = 0;                           \\
        free(__area);                             \\
    } while (0)
struct buffer *ring_pick(void);
"""

RING = """\
#include <stdlib.h>
#include <unistd.h>
#include "ring.h"

static struct buffer slots[4];
static int next_slot;

struct buffer *ring_pick(void) { return &slots[next_slot++ % 4]; }

static void fill(struct buffer *b) { b->area = malloc(4096); b->size = 4096; }

static void release_all(void) {
    struct buffer *buf;
    while ((buf = ring_pick())->size) {
        buf_free(buf);
    }
}

int main(void) {
    for (;;) {
        fill(ring_pick());
        release_all();
        usleep(1000);
    }
}
"""


def test_a_commit_removing_a_release_macro_of_a_pointers_member_is_named(tmp_path: Path) -> None:
    steps = [
        Step("import", {"ring.h": RING_H, "ring.c": RING}, hours=72),
        Step("latest change", {"ring.c": RING.replace("        buf_free(buf);\n", "")}, hours=3),
    ]
    repo, _ = tiny_history(tmp_path / "svc", steps)
    diagnosis = diagnose_tiny(repo)
    (change,) = [c for c in diagnosis.changes if c.subject == "latest change"]
    assert "removed buf_free(buf) in release_all() (ring.c)" in change.notes
    top = diagnosis.findings[0]
    assert top.function == "release_all"
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"
