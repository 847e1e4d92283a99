"""A struct local that a callee fills with heap memory and the function never releases.

git's ``struct strbuf sb = STRBUF_INIT; strbuf_addf(&sb, …); return;`` (its history's leak fixes
are mostly ``strbuf_release`` calls added to such functions), curl's ``dynbuf``: the local is on
the stack, its members are on the heap. Before, ADS followed such a local only when the function
released it on some other path, so a function that never did — the plainest form of the leak —
was no finding at all. The filler is recognised by what its body does (``p->buf = realloc(…)``
through a macro, three calls down), never by its name; what hands the memory on (a detach into
the caller's struct), a helper that releases it through an alias, a ``static`` local, are not
leaks.
"""

from __future__ import annotations

from pathlib import Path

from ads.analysis.c.leaks import analyze_c_sources
from ads.models import FindingKind
from tests.fixtures.tiny import Step, diagnose_tiny, tiny_history

LONG_AGO = 24 * 60  # hours: the import is outside the history window, no commit speaks

# A string builder whose growth is a macro assigning a reallocation to its argument, reached
# from the public adders two calls down; a detach that hands the buffer out; a release.
BUILDER = """\
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

struct sbuf { size_t alloc, len; char *buf; };
static char empty_buf[1];
#define SBUF_INIT { 0, 0, empty_buf }
#define GROW_TO(x, n, alloc) do { if ((n) > (alloc)) { (alloc) = (n) * 2; \\
        (x) = realloc((x), (alloc)); } } while (0)

void sbuf_grow(struct sbuf *sb, size_t extra) {
    int fresh = !sb->alloc;
    if (fresh)
        sb->buf = NULL;
    GROW_TO(sb->buf, sb->len + extra + 1, sb->alloc);
    if (fresh)
        sb->buf[0] = '\\0';
}

void sbuf_add(struct sbuf *sb, const char *s, size_t n) {
    sbuf_grow(sb, n);
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\\0';
}

void sbuf_addstr(struct sbuf *sb, const char *s) { sbuf_add(sb, s, strlen(s)); }

char *sbuf_detach(struct sbuf *sb) {
    char *out = sb->alloc ? sb->buf : strdup("");
    sb->buf = empty_buf;
    sb->alloc = sb->len = 0;
    return out;
}

void sbuf_release(struct sbuf *sb) {
    if (sb->alloc) {
        free(sb->buf);
        sb->buf = empty_buf;
        sb->alloc = sb->len = 0;
    }
}
"""

HANDLERS = """\
#include <stdio.h>
#include <stdlib.h>

struct sbuf { size_t alloc, len; char *buf; };
static char empty_buf[1];
#define SBUF_INIT { 0, 0, empty_buf }
void sbuf_addstr(struct sbuf *sb, const char *s);
char *sbuf_detach(struct sbuf *sb);
void sbuf_release(struct sbuf *sb);

struct reply { char *text; };
struct job { struct sbuf *out; };

/* the leak: a greeting built per request and never released */
static void greet(const char *name) {
    struct sbuf line = SBUF_INIT;
    sbuf_addstr(&line, "hello ");
    sbuf_addstr(&line, name);
    puts(line.buf);
}

/* released: no leak */
static void greet_politely(const char *name) {
    struct sbuf line = SBUF_INIT;
    sbuf_addstr(&line, name);
    puts(line.buf);
    sbuf_release(&line);
}

/* handed on: the reply owns the text now */
static void keep(struct reply *r, struct sbuf *sb) { r->text = sbuf_detach(sb); }

static void answer(struct reply *r, const char *name) {
    struct sbuf line = SBUF_INIT;
    sbuf_addstr(&line, name);
    keep(r, &line);
}

/* released by a helper, through a local read from the member */
static void finish(struct sbuf *sb) {
    char *buf = sb->buf;
    if (sb->alloc)
        free(buf);
}

static void answer_and_finish(const char *name) {
    struct sbuf line = SBUF_INIT;
    sbuf_addstr(&line, name);
    puts(line.buf);
    finish(&line);
}

/* a static local is reused by every call, not lost */
static void remember(const char *name) {
    static struct sbuf last = SBUF_INIT;
    sbuf_addstr(&last, name);
}

int main(void) {
    char name[64];
    struct reply r;
    while (fgets(name, sizeof name, stdin)) {
        greet(name);
        greet_politely(name);
        answer(&r, name);
        free(r.text);
        answer_and_finish(name);
        remember(name);
    }
    return 0;
}
"""


def _findings(files: dict[str, str]):  # type: ignore[no-untyped-def]
    report = analyze_c_sources((path, text.encode()) for path, text in files.items())
    return report.findings


def test_a_struct_local_filled_and_never_released_is_the_per_request_leak(
    tmp_path: Path,
) -> None:
    repo, _ = tiny_history(
        tmp_path / "svc",
        [Step("import", {"sbuf.c": BUILDER, "server.c": HANDLERS}, hours=LONG_AGO)],
    )
    diagnosis = diagnose_tiny(repo)
    top = diagnosis.findings[0]
    assert (top.file, top.function, top.kind) == ("server.c", "greet", FindingKind.LOOP_LEAK)
    assert top.line == 17  # the first call that puts heap memory into the local
    assert any("sbuf_addstr() puts heap memory into its members" in r for r in top.reasons)
    assert any("greet() never releases it" in r for r in top.reasons)


def test_released_handed_on_released_by_a_helper_or_static_is_no_finding() -> None:
    findings = _findings({"sbuf.c": BUILDER, "server.c": HANDLERS})
    assert sorted({f.function for f in findings if f.file == "server.c"}) == ["greet"]


def test_a_callee_that_fills_and_then_releases_leaves_the_caller_nothing() -> None:
    # the filler cleans up after itself (it hands the struct to the release on its way out)
    scoped = HANDLERS.replace(
        "void sbuf_release(struct sbuf *sb);\n",
        "void sbuf_release(struct sbuf *sb);\n"
        "static void shout(struct sbuf *sb, const char *s) {\n"
        "    sbuf_addstr(sb, s);\n    puts(sb->buf);\n    sbuf_release(sb);\n}\n",
    ).replace(
        '    sbuf_addstr(&line, "hello ");\n    sbuf_addstr(&line, name);\n',
        "    shout(&line, name);\n",
    )
    findings = _findings({"sbuf.c": BUILDER, "server.c": scoped})
    assert [f for f in findings if f.function == "greet"] == []


def test_a_local_whose_type_only_has_a_releaser_somewhere_is_no_finding() -> None:
    # written by a macro that stores no heap memory (redis's stack string objects)
    plain = HANDLERS.replace(
        '    sbuf_addstr(&line, "hello ");\n    sbuf_addstr(&line, name);\n',
        "    line.len = 0;\n",
    )
    findings = _findings({"sbuf.c": BUILDER, "server.c": plain})
    assert [f for f in findings if f.function == "greet"] == []


# git's repo_init(): fills the struct, and on its failure releases it before returning -1
OPENER = """\
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

struct repo { char *path; char *name; };

void repo_clear(struct repo *r) {
    free(r->path);
    free(r->name);
    r->path = r->name = NULL;
}

int repo_open(struct repo *r, const char *path) {
    memset(r, 0, sizeof(*r));
    r->path = strdup(path);
    if (r->path == NULL)
        goto fail;
    r->name = strdup(strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    if (r->name == NULL)
        goto fail;
    return 0;
fail:
    repo_clear(r);
    return -1;
}

static int describe(const char *path) {
    struct repo r;
    if (repo_open(&r, path))
        return -1;
    printf("%s\\n", r.name);
    return 0;
}

static int describe_and_close(const char *path) {
    struct repo r;
    if (repo_open(&r, path))
        return -1;
    printf("%s\\n", r.name);
    repo_clear(&r);
    return 0;
}

int main(void) {
    char path[256];
    while (fgets(path, sizeof path, stdin)) {
        describe(path);
        describe_and_close(path);
    }
    return 0;
}
"""


def test_a_filler_that_releases_only_on_its_failure_leaves_the_caller_owning_it() -> None:
    findings = _findings({"repo.c": OPENER})
    opened = OPENER.splitlines().index("    if (repo_open(&r, path))") + 1
    assert [(f.function, f.line, f.kind) for f in findings] == [
        ("describe", opened, FindingKind.LOOP_LEAK)
    ]
    # the path where repo_open() failed holds nothing (it released what it had filled), so
    # the leak is on every path that got the struct, and describe_and_close() has none
    assert "no free or escape on any path" in findings[0].reasons[0]
