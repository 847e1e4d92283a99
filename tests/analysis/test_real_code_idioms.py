"""Idioms of real C code bases, each a tiny service written for the test, diagnosed end to end
(a real git history, ``analyse`` as ``ads analyze`` runs it). They are the failure classes
measured on redis, jq and curl (issue 11), shrunk to what shows each one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ads.models import Confidence, FindingKind, Support
from tests.fixtures.tiny import Step, diagnose_tiny, tiny_history

# A header-prefixed string like redis's sds: the caller's pointer is *inside* the block (past the
# header), and the string's own release frees at an offset. Nothing here is called malloc/free.
HDR_STRINGS = """\
#include <stdlib.h>
#include <string.h>

typedef char *hstr;
struct hstr_hdr { size_t len; size_t cap; };

void *zmalloc(size_t n) {
    void *p = malloc(n + sizeof(size_t));
    if (p == NULL) abort();
    *(size_t *)p = n;
    return (char *)p + sizeof(size_t);
}

void zfree(void *p) {
    if (p == NULL) return;
    free((char *)p - sizeof(size_t));
}

hstr hstr_new(const char *init) {
    size_t n = strlen(init);
    struct hstr_hdr *h = zmalloc(sizeof(struct hstr_hdr) + n + 1);
    memcpy((char *)(h + 1), init, n + 1);
    h->len = n;
    return (char *)(h + 1);
}

void hstr_release(hstr s) {
    if (s == NULL) return;
    zfree((struct hstr_hdr *)s - 1);
}
"""

SERVER = """\
#include <unistd.h>
#include "strings.h"

hstr hstr_new(const char *init);
void hstr_release(hstr s);
int reply(hstr s);

static volatile int running = 1;

int serve_forever(void) {
    int served = 0;
    while (running) {
        hstr request = hstr_new("GET /");
        served += reply(request);
        hstr_release(request);
        usleep(1000);
    }
    return served;
}
"""

REPLY = """\
#include <string.h>
typedef char *hstr;
int reply(hstr s) { return (int)strlen(s); }
"""

MAIN = """\
int serve_forever(void);
int main(void) { return serve_forever(); }
"""


def test_offset_wrapper_release_deleted_by_the_latest_commit_is_top_1_with_its_commit(
    tmp_path: Path,
) -> None:
    repo, shas = tiny_history(
        tmp_path / "svc",
        [
            Step("import the service", {"strings.c": HDR_STRINGS, "server.c": SERVER,
                                        "reply.c": REPLY, "main.c": MAIN}, hours=72),
            Step("reply: count bytes", {"reply.c": REPLY.replace("(int)", "(int) ")}, hours=30),
            Step("server: drop a redundant release",
                 {"server.c": SERVER.replace("        hstr_release(request);\n", "")}, hours=3),
        ],
    )  # fmt: skip
    diagnosis = diagnose_tiny(repo)
    top = diagnosis.findings[0]
    assert (top.file, top.function) == ("server.c", "serve_forever")
    assert top.line == 13  # hstr request = hstr_new("GET /");
    assert top.kind is FindingKind.LOOP_LEAK
    assert top.introduced_by is not None and top.introduced_by.sha == shas[-1]
    assert {Support.PATH, Support.CHANGE} <= set(top.support)
    assert top.confidence is Confidence.HIGH
    (introducing,) = [c for c in diagnosis.changes if c.sha == shas[-1]]
    assert "removed hstr_release(request) in serve_forever() (server.c)" in introducing.notes


LONG_AGO = 24 * 60  # hours: an import outside the history window


def _service(
    tmp_path: Path,
    files: dict[str, str],
    latest: dict[str, str] | None = None,
    *,
    imported_hours_ago: float = 72,
) -> Path:
    """The files imported three days before the incident (or ``imported_hours_ago``; 60 days
    puts the import outside the window, so no commit speaks for any finding), then ``latest``
    3 h before it."""
    steps = [Step("import the service", files, hours=imported_hours_ago)]
    if latest:
        steps.append(Step("latest change", latest, hours=3))
    repo, _ = tiny_history(tmp_path / "svc", steps)
    return repo


OUT_PARAM = """\
#include <stdlib.h>
#include <unistd.h>

static int make_buffer(char **out, size_t n) {
    *out = malloc(n);
    return *out != NULL;
}

int consume(const char *p);

int main(void) {
    for (;;) {
        char *chunk;
        if (make_buffer(&chunk, 1 << 20)) {
            consume(chunk);
        }
        usleep(1000);
    }
}
"""


def test_allocation_through_an_out_parameter_is_the_loop_leak(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"main.c": OUT_PARAM, "use.c": "int consume(const char *p);\n"})
    top = diagnose_tiny(repo).findings[0]
    assert (top.file, top.function, top.line) == ("main.c", "main", 14)
    assert top.kind is FindingKind.LOOP_LEAK
    assert top.bytes_per_iteration == 1 << 20


REFCOUNTED = """\
#include <stdlib.h>
#include <string.h>

struct jv_refcnt { int count; char data[]; };
typedef struct { int kind; struct jv_refcnt *ptr; } jv;

jv jv_string(const char *s) {
    struct jv_refcnt *r = malloc(sizeof(struct jv_refcnt) + strlen(s) + 1);
    r->count = 1;
    strcpy(r->data, s);
    jv j = {1, r};
    return j;
}

jv jv_copy(jv j) {
    if (j.ptr) j.ptr->count++;
    return j;
}

void jv_free(jv j) {
    if (j.ptr && --j.ptr->count == 0) free(j.ptr);
}
"""

HANDLER = """\
typedef struct { int kind; struct jv_refcnt *ptr; } jv;
jv jv_string(const char *s);
jv jv_copy(jv j);
void jv_free(jv j);

static void emit(jv v) { jv_free(v); }

static volatile int running = 1;

void handle_requests(void) {
    while (running) {
        jv msg = jv_string("hello");
        emit(jv_copy(msg));
        jv_free(msg);
    }
}
"""


def test_reference_counted_handle_whose_release_was_deleted(tmp_path: Path) -> None:
    repo = _service(
        tmp_path,
        {"jv.c": REFCOUNTED, "handler.c": HANDLER},
        latest={"handler.c": HANDLER.replace("        jv_free(msg);\n", "")},
    )
    diagnosis = diagnose_tiny(repo)
    top = diagnosis.findings[0]
    assert (top.file, top.function, top.line) == ("handler.c", "handle_requests", 12)
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"
    assert {Support.PATH, Support.CHANGE} <= set(top.support)


def test_reference_counted_handle_released_every_iteration_is_no_leak(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"jv.c": REFCOUNTED, "handler.c": HANDLER})
    findings = diagnose_tiny(repo).findings
    assert [f for f in findings if f.function == "handle_requests"] == []


REALLOC_GLOBAL = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *journal;
static size_t journal_len;

static void journal_append(const char *line) {
    size_t n = strlen(line);
    char *grown = realloc(journal, journal_len + n + 1);
    if (grown == NULL) return;
    journal = grown;
    memcpy(journal + journal_len, line, n + 1);
    journal_len += n;
}

int main(void) {
    while (1) {
        journal_append("request served\\n");
        usleep(100);
    }
}
"""


def test_realloc_growth_into_a_global_through_a_temporary(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"journal.c": REALLOC_GLOBAL})
    top = diagnose_tiny(repo).findings[0]
    assert (top.file, top.function, top.line) == ("journal.c", "journal_append", 10)
    assert top.kind is FindingKind.UNBOUNDED_GROWTH


TAGGED = """\
#include <stdint.h>
#include <stdlib.h>

static void *tagged_new(void) {
    char *block = malloc(64);
    return (void *)((uintptr_t)block | 1);
}

static void tagged_free(void *t) {
    free((void *)((uintptr_t)t & ~(uintptr_t)1));
}

int main(void) {
    for (;;) {
        void *t = tagged_new();
        tagged_free(t);
    }
}
"""


def test_tagged_pointer_freed_by_the_caller_is_not_a_leak(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"tagged.c": TAGGED})
    findings = diagnose_tiny(repo, corroborate=True).findings
    assert all(f.confidence is Confidence.LOW for f in findings), findings


CONTAINER = """\
#include <stddef.h>
#include <stdlib.h>

struct link { struct link *next; };
struct node { int value; struct link link; };
struct pair { char *data; size_t len; };

static struct link *node_new(int value) {
    struct node *n = malloc(sizeof(struct node));
    n->value = value;
    return &n->link;
}

static void node_free(struct link *l) {
    free((char *)l - offsetof(struct node, link));
}

static struct pair pair_new(size_t len) {
    struct pair p;
    p.data = malloc(len);
    p.len = len;
    return p;
}

int main(void) {
    for (;;) {
        struct link *l = node_new(1);
        node_free(l);
        struct pair p = pair_new(32);
        free(p.data);
    }
}
"""


def test_pointers_returned_as_a_member_or_inside_a_struct_are_not_leaks(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"nodes.c": CONTAINER})
    findings = diagnose_tiny(repo, corroborate=True).findings
    assert all(f.confidence is Confidence.LOW for f in findings), findings


def test_leak_reached_only_from_a_test_programs_loop_is_not_the_oom_cause(
    tmp_path: Path,
) -> None:
    library = (
        "#include <stdlib.h>\n#include <string.h>\n"
        "void remember(const char *what) {\n"
        "    char *copy = malloc(strlen(what) + 1);\n"
        "    strcpy(copy, what);\n"
        "}\n"
    )
    service = 'void remember(const char *what);\nint main(void) { remember("up"); return 0; }\n'
    bench = 'void remember(const char *what);\nint main(void) { for (;;) { remember("x"); } }\n'
    repo = _service(tmp_path, {"src/remember.c": library, "src/main.c": service,
                               "tests/bench_remember.c": bench})  # fmt: skip
    diagnosis = diagnose_tiny(repo)
    leaks = [f for f in diagnosis.findings if f.function == "remember"]
    assert leaks, diagnosis.findings
    assert all(f.kind is not FindingKind.LOOP_LEAK for f in leaks), leaks
    assert all(f.confidence is Confidence.LOW for f in leaks)


CONSTANT_FALSE = """\
#include <stdlib.h>

static const int VERBOSE = 0;
int record(char *p);

int main(void) {
    for (;;) {
        char *entry = malloc(128);
        record(entry);
        if (VERBOSE) {
            continue;
        }
        free(entry);
    }
}
"""


def test_constant_false_branch_holding_the_only_missing_free_is_no_false_alarm(
    tmp_path: Path,
) -> None:
    repo = _service(tmp_path, {"main.c": CONSTANT_FALSE, "record.c": "int record(char *p);\n"})
    findings = diagnose_tiny(repo).findings
    assert [f for f in findings if f.function == "main"] == []


def test_an_else_if_chain_of_600_and_450_nested_blocks_are_analysed(tmp_path: Path) -> None:
    chain = "".join(f"    else if (x == {i}) {{ y += {i}; }}\n" for i in range(1, 600))
    nested = "{ " * 450 + "y++; " + "} " * 450
    source = (
        "#include <stdlib.h>\n"
        "int classify(int x) {\n    int y = 0;\n    if (x == 0) { y = 1; }\n"
        f"{chain}    {nested}\n    return y;\n}}\n"
        "int main(void) {\n    for (;;) {\n        char *p = malloc(8);\n"
        "        classify(p[0]);\n    }\n}\n"
    )
    repo = _service(tmp_path, {"deep.c": source})
    diagnosis = diagnose_tiny(repo)
    top = diagnosis.findings[0]
    assert (top.function, top.kind) == ("main", FindingKind.LOOP_LEAK)


WORKER = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int handle(const char *label, int job);

void work_forever(void) {
    for (int job = 0;; job++) {
        handle("job", job);
        usleep(1000);
    }
}
"""


def test_an_allocation_the_latest_commit_added_in_the_loop_is_top_1_with_its_commit(
    tmp_path: Path,
) -> None:
    labelled = WORKER.replace(
        '        handle("job", job);\n',
        "        char *label = malloc(256);\n"
        '        strcpy(label, "job");\n'
        "        handle(label, job);\n",
    )
    repo, shas = tiny_history(
        tmp_path / "svc",
        [
            Step("import", {"worker.c": WORKER, "handle.c": "int handle(const char *l, int j);\n"},
                 hours=72),
            Step("worker: label each job", {"worker.c": labelled}, hours=3),
        ],
    )  # fmt: skip
    top = diagnose_tiny(repo).findings[0]
    assert (top.file, top.function, top.line) == ("worker.c", "work_forever", 9)
    assert top.introduced_by is not None and top.introduced_by.sha == shas[-1]
    assert top.confidence is Confidence.HIGH


FORMAT = """\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *describe(const char *name);

char *label_for(const char *name) {
    char *described = describe(name);
    if (described == NULL) return NULL;
    char *label = malloc(strlen(described) + 8);
    free(described);
    if (label == NULL)
        return NULL;
    sprintf(label, "<%s>", name);
    return label;
}
"""


def test_a_release_moved_below_an_early_return_is_the_suspect(tmp_path: Path) -> None:
    # the latest commit moves free(described) below the early return: that path now leaks
    moved = FORMAT.replace(
        "    free(described);\n    if (label == NULL)\n        return NULL;\n",
        "    if (label == NULL)\n        return NULL;\n    free(described);\n",
    )
    describe = "#include <string.h>\nchar *describe(const char *n) { return strdup(n); }\n"
    repo = _service(tmp_path, {"label.c": FORMAT, "describe.c": describe},
                    latest={"label.c": moved})  # fmt: skip
    diagnosis = diagnose_tiny(repo)
    (change,) = [c for c in diagnosis.changes if c.subject == "latest change"]
    assert any(note.startswith("moved free(described) in label_for()") for note in change.notes)
    top = diagnosis.findings[0]
    assert (top.file, top.function, top.line) == ("label.c", "label_for", 8)
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"


COOKIES = """\
#include <stdio.h>
#include <stdlib.h>

int write_all(FILE *out, int n, int use_stdout) {
    char **rows = calloc((size_t)n, sizeof(char *));
    if (rows == NULL) return 1;
    for (int i = 0; i < n; i++) {
        if (fprintf(out, "%d\\n", i) < 0) {
            free(rows);
            if (!use_stdout)
                fclose(out);
            return 1;
        }
    }
    free(rows);
    return 0;
}
"""


def test_a_release_moved_under_a_flag_is_the_suspect(tmp_path: Path) -> None:
    # curl's cookie_output, reverted: free(rows) moved under `if (!use_stdout)`, so the
    # error path that writes to stdout leaks. The flag alone would read as "who owns it".
    moved = COOKIES.replace(
        "            free(rows);\n            if (!use_stdout)\n                fclose(out);\n",
        "            if (!use_stdout) {\n"
        "                free(rows);\n                fclose(out);\n            }\n",
    )
    assert moved != COOKIES
    repo = _service(tmp_path, {"cookies.c": COOKIES}, latest={"cookies.c": moved})
    diagnosis = diagnose_tiny(repo)
    top = diagnosis.findings[0]
    assert (top.file, top.function) == ("cookies.c", "write_all")
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"
    assert not top.refuted


CACHE = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node { char *value; struct node *next; };
static struct node *recent;

static void remember(char *value) {
    struct node *n = malloc(sizeof(*n));
    if (n == NULL) abort();
    n->value = value;
    n->next = recent;
    recent = n;
}

static int handle(const char *request) {
    char *copy = strdup(request);
    if (copy == NULL) return -1;
    int size = (int)strlen(copy);
    free(copy);
    return size;
}

int main(void) {
    for (;;) {
        handle("GET /");
        usleep(1000);
    }
}
"""


def test_a_release_replaced_by_a_store_into_a_container_is_the_suspect(tmp_path: Path) -> None:
    # the latest commit keeps every request in a list instead of freeing it
    kept = CACHE.replace("    free(copy);\n", "    remember(copy);\n")
    assert kept != CACHE
    repo = _service(tmp_path, {"server.c": CACHE}, latest={"server.c": kept})
    diagnosis = diagnose_tiny(repo)
    top = diagnosis.findings[0]
    assert (top.file, top.function, top.kind) == (
        "server.c",
        "handle",
        FindingKind.UNBOUNDED_GROWTH,
    )
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"
    assert top.confidence is Confidence.MEDIUM  # the list might evict: not proved growth
    assert any("remember()" in reason for reason in top.reasons), top.reasons


def test_an_import_of_the_code_base_introduces_nothing(tmp_path: Path) -> None:
    files = {f"lib/part{i}.c": f"int part{i}(void) {{ return {i}; }}\n" for i in range(24)}
    files["main.c"] = OUT_PARAM
    repo = _service(tmp_path, {"use.c": "int consume(const char *p);\n"}, latest=files)
    diagnosis = diagnose_tiny(repo)
    (imported,) = [c for c in diagnosis.changes if c.subject == "latest change"]
    assert imported.notes == ["25 files at once: an import, not read at the C level"]
    assert all(f.introduced_by is None for f in diagnosis.findings)


STRBUF = """\
#include <stdlib.h>
#include <string.h>

struct strbuf { char *buf; size_t len; };

void strbuf_add(struct strbuf *sb, const char *text) {
    size_t n = strlen(text);
    char *grown = realloc(sb->buf, sb->len + n + 1);
    if (grown == NULL) return;
    sb->buf = grown;
    memcpy(sb->buf + sb->len, text, n + 1);
    sb->len += n;
}

void strbuf_release(struct strbuf *sb) {
    free(sb->buf);
    sb->buf = NULL;
    sb->len = 0;
}

int emit(const char *line);

void log_forever(void) {
    for (;;) {
        struct strbuf line = {NULL, 0};
        strbuf_add(&line, "tick");
        emit(line.buf);
        strbuf_release(&line);
    }
}
"""


def test_a_deleted_release_of_what_a_local_struct_holds_is_top_1(tmp_path: Path) -> None:
    repo = _service(
        tmp_path,
        {"log.c": STRBUF, "emit.c": "int emit(const char *line);\n"},
        latest={"log.c": STRBUF.replace("        strbuf_release(&line);\n", "")},
    )
    diagnosis = diagnose_tiny(repo)
    (change,) = [c for c in diagnosis.changes if c.subject == "latest change"]
    assert "removed strbuf_release(&line) in log_forever() (log.c)" in change.notes
    top = diagnosis.findings[0]
    assert (top.file, top.function) == ("log.c", "log_forever")
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"


def test_a_local_struct_released_every_iteration_is_no_leak(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"log.c": STRBUF, "emit.c": "int emit(const char *line);\n"})
    findings = diagnose_tiny(repo).findings
    assert [f for f in findings if f.function == "log_forever"] == []


# redis's bitfieldCommand before d490752: the operations parsed into a block grown from NULL in
# the argument loop, released at the end, and lost by the early return between the two.
BOUNDED_GROWTH_EARLY_RETURN = """\
#include <stdlib.h>
#include <unistd.h>

struct op { int type; int offset; };
int lookup(int key);
void reply(int value);

void bitfield_command(int argc, int key) {
    struct op *ops = NULL;
    int numops = 0;
    for (int j = 1; j < argc; j++) {
        ops = realloc(ops, sizeof(*ops) * (numops + 1));
        ops[numops].type = j;
        numops++;
    }
    if (lookup(key) < 0) return;
    for (int j = 0; j < numops; j++) reply(ops[j].type);
    free(ops);
}

int main(void) {
    for (;;) {
        bitfield_command(4, 1);
        usleep(1000);
    }
}
"""


def test_a_block_grown_in_a_bounded_loop_and_lost_by_an_early_return_is_the_loop_leak(
    tmp_path: Path,
) -> None:
    repo = _service(tmp_path, {"bitops.c": BOUNDED_GROWTH_EARLY_RETURN})
    top = diagnose_tiny(repo).findings[0]
    assert (top.file, top.function, top.line) == ("bitops.c", "bitfield_command", 12)
    assert top.kind is FindingKind.LOOP_LEAK
    assert any("return at line 16" in reason for reason in top.reasons), top.reasons
    assert top.released_elsewhere  # the free at the end says the function owns it


# Two handlers the loop runs, each a path-proved per-iteration leak: no path of one releases
# its block (on real code, more often a hand-over the analysis did not follow), the other
# releases it at the end and loses it on an early error return, as real leaks are. The first
# leaks more per iteration and comes first in the file: neither may decide.
OWNER_VS_HAND_OVER = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int parse(char *buf) { return buf[0] == 'G' ? 0 : -1; }
void log_line(const char *line) { (void)strlen(line); }

void note_request(const char *what) {
    char *copy = malloc(256);
    strncpy(copy, what, 255);
    log_line(copy);
}

int handle_request(const char *what) {
    char *buf = malloc(64);
    strncpy(buf, what, 63);
    if (parse(buf) < 0) return -1;
    free(buf);
    return 0;
}

int main(void) {
    for (;;) {
        note_request("GET /");
        handle_request("GET /");
        usleep(1000);
    }
}
"""


def test_a_leak_on_the_error_path_of_the_owner_outranks_a_block_no_path_releases(
    tmp_path: Path,
) -> None:
    repo = _service(tmp_path, {"server.c": OWNER_VS_HAND_OVER}, imported_hours_ago=LONG_AGO)
    findings = diagnose_tiny(repo).findings
    loop_leaks = [f for f in findings if f.kind is FindingKind.LOOP_LEAK]
    assert [f.function for f in loop_leaks[:2]] == ["handle_request", "note_request"], findings
    assert loop_leaks[0].score == loop_leaks[1].score  # the order is the evidence, not the score
    assert any("releases the block on its other paths" in r for r in loop_leaks[0].reasons)


# redis's raxGenericInsert: several blocks allocated, one test of them all for NULL, and the
# others not released on that branch. It leaks only once memory is already gone.
LEAK_ONLY_WHEN_ANOTHER_ALLOCATION_FAILS = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node { struct node *left, *right; };

int insert(struct node *h, int split) {
    struct node *first = malloc(4096);
    struct node *second = NULL;
    if (split) second = malloc(4096);
    if (first == NULL || (split && second == NULL)) {
        free(first);
        return 0;
    }
    h->left = first;
    h->right = second;
    return 1;
}

int check(const char *s) { return s[0] == 'G' ? 0 : -1; }

int handle(const char *what) {
    char *copy = malloc(64);
    strncpy(copy, what, 63);
    if (check(copy) < 0) return -1;
    free(copy);
    return 0;
}

int main(void) {
    static struct node root;
    for (;;) {
        insert(&root, 1);
        handle("PUT /");
        usleep(1000);
    }
}
"""


def test_a_block_lost_only_when_another_allocation_failed_is_not_the_oom_cause(
    tmp_path: Path,
) -> None:
    files = {"rax.c": LEAK_ONLY_WHEN_ANOTHER_ALLOCATION_FAILS}
    repo = _service(tmp_path, files, imported_hours_ago=LONG_AGO)
    findings = diagnose_tiny(repo).findings
    assert (findings[0].function, findings[0].line) == ("handle", 23), findings
    failure_only = [f for f in findings if f.function == "insert"]
    assert [f.line for f in failure_only] == [10], failure_only  # `second`, when first is NULL
    assert failure_only[0].kind is FindingKind.ONE_OFF_LEAK
    assert failure_only[0].confidence is Confidence.LOW
    assert any("another allocation returned NULL" in r for r in failure_only[0].reasons)


# git's get_default_remote_submodule(): an out-parameter handed on to the allocator that fills
# it (``return fill(..., out)``), two levels above the strdup.
FORWARDED_OUT_PARAM = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fill_name(const char *config, char **out) {
    if (config == NULL) {
        *out = strdup("origin");
        return 0;
    }
    *out = strdup(config);
    return 0;
}

static int default_name(int which, char **out) {
    if (which < 0)
        return -1;
    return fill_name(which ? "upstream" : NULL, out);
}

size_t use(const char *name) { return strlen(name); }

void update_one(int which) {
    char *name;
    if (default_name(which, &name))
        return;
    use(name);
}

int main(void) {
    for (;;) {
        update_one(1);
        usleep(1000);
    }
}
"""


def test_an_out_parameter_handed_on_to_the_allocator_that_fills_it(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"submodule.c": FORWARDED_OUT_PARAM}, imported_hours_ago=LONG_AGO)
    top = diagnose_tiny(repo).findings[0]
    assert (top.function, top.line) == ("update_one", 24), top
    assert top.kind is FindingKind.LOOP_LEAK
    assert top.variable == "name" or "name" in top.allocation


# git's CALLOC_ARRAY(x, n): a macro that assigns the allocation to the variable it is given,
# beside FREE_AND_NULL(p), a macro that releases it. Only the block nothing releases leaks.
ASSIGNING_MACRO = """\
#include <stdlib.h>
#include <unistd.h>

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (p == NULL) abort();
    return p;
}
#define CALLOC_ARRAY(x, alloc) (x) = xcalloc((alloc), sizeof(*(x)))
#define FREE_AND_NULL(p) do { free(p); (p) = NULL; } while (0)

struct hash_ctx { unsigned state[8]; };

unsigned write_index(int extensions) {
    struct hash_ctx *eoie = NULL;
    unsigned *offsets = NULL;
    if (extensions)
        CALLOC_ARRAY(eoie, 1);
    CALLOC_ARRAY(offsets, 16);
    FREE_AND_NULL(offsets);
    return eoie ? eoie->state[0] : 0;
}

int main(void) {
    for (;;) {
        write_index(1);
        usleep(1000);
    }
}
"""


def test_a_macro_that_assigns_an_allocation_to_its_argument_allocates(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"read-cache.c": ASSIGNING_MACRO}, imported_hours_ago=LONG_AGO)
    findings = diagnose_tiny(repo).findings
    assert [(f.function, f.line) for f in findings] == [("write_index", 18)], findings
    assert findings[0].kind is FindingKind.LOOP_LEAK


# git's repo_config_get_string(): fills its out-parameter and returns 0, or returns 1 and fills
# nothing. The caller's `if (get(&dest))` branch holds nothing to leak; the path that got the
# string and drops it does.
FILLED_ON_ZERO = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *lookup_value(const char *key) { return key[0] == 'b' ? "upstream" : NULL; }

int config_get_string(const char *key, char **dest) {
    const char *value = lookup_value(key);
    if (value == NULL)
        return 1;
    *dest = strdup(value);
    return 0;
}

char *default_remote(void) {
    char *dest;
    if (config_get_string("branch.main.remote", &dest))
        return strdup("origin");
    return dest;
}

size_t pushurl_length(void) {
    char *dest;
    if (config_get_string("remote.pushurl", &dest) == 0)
        return strlen(dest);
    return 0;
}

int main(void) {
    for (;;) {
        free(default_remote());
        pushurl_length();
        usleep(1000);
    }
}
"""


def test_an_out_parameter_filled_only_when_the_call_returns_zero(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"config.c": FILLED_ON_ZERO}, imported_hours_ago=LONG_AGO)
    findings = diagnose_tiny(repo).findings
    assert [(f.function, f.line) for f in findings] == [("pushurl_length", 24)], findings
    assert findings[0].kind is FindingKind.LOOP_LEAK


# Two error-path leaks of the same kind: one in a walk over data that a cursor drives (redis's
# defrag scan: `do { ... scan(&cursor) ... } while (cursor)`), one in a request handler the
# service's event loop (`while (!stop)`) dispatches. The walk leaks more and comes first in the
# file; the handler runs per request, and is the better explanation of an OOM.
MAIN_LOOP_VS_DATA_WALK = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

unsigned long scan_step(unsigned long cursor, char *scratch) {
    scratch[0] = 0;
    return cursor > 8 ? 0 : cursor + 1;
}

int defrag_later(unsigned long *cursor);

int defrag_pass(void) {
    unsigned long cursor = 0;
    do {
        if (defrag_later(&cursor) < 0)
            return -1;
    } while (cursor);
    return 0;
}

int defrag_later(unsigned long *cursor) {
    char *scratch = malloc(1 << 20);
    *cursor = scan_step(*cursor, scratch);
    if (*cursor == 7)
        return -1;
    free(scratch);
    return 0;
}

int check(const char *s) { return s[0] == 'G' ? 0 : -1; }

int get_command(const char *request) {
    char *copy = malloc(64);
    strncpy(copy, request, 63);
    if (check(copy) < 0)
        return -1;
    free(copy);
    return 0;
}

typedef int (*handler)(const char *);
static handler table[] = {get_command};
static volatile int stop;

int main(void) {
    defrag_pass();
    while (!stop) {
        table[0]("PUT /");
        usleep(1000);
    }
}
"""


def test_a_leak_the_event_loop_dispatches_outranks_one_in_a_walk_over_data(
    tmp_path: Path,
) -> None:
    repo = _service(tmp_path, {"server.c": MAIN_LOOP_VS_DATA_WALK}, imported_hours_ago=LONG_AGO)
    findings = diagnose_tiny(repo).findings
    leaks = [f for f in findings if f.kind is FindingKind.LOOP_LEAK]
    assert [f.function for f in leaks] == ["get_command", "defrag_later"], findings
    assert leaks[0].main_loop and not leaks[1].main_loop
    assert leaks[0].score == leaks[1].score and all(f.released_elsewhere for f in leaks)


# decNumber's decNumberFromString() (vendored in jq): `do { … break; … } while (0)` runs its body
# once and every `break` lands on the shared clean-up after it. There is no second iteration in
# which the block could be overwritten; `lossy` frees nothing, and stays the loop leak.
DO_WHILE_ZERO = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int digits(const char *s, int n) {
    int status = 0;
    int *scratch = NULL;
    do {
        if (n > 8) {
            scratch = malloc(n * sizeof *scratch);
            if (scratch == NULL) {
                status = 1;
                break;
            }
        }
        if (s[0] == '-')
            break;
        status = (int)strlen(s);
    } while (0);
    if (scratch != NULL)
        free(scratch);
    return status;
}

int lossy(const char *s, int n) {
    int *scratch = NULL;
    do {
        scratch = malloc(n * sizeof *scratch);
        if (scratch == NULL)
            break;
        scratch[0] = s[0];
    } while (0);
    return scratch != NULL;
}

int main(void) {
    for (;;) {
        digits("12345678901", 11);
        lossy("1", 16);
        usleep(1000);
    }
}
"""


def test_do_while_zero_runs_once_and_its_breaks_reach_the_shared_release(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"number.c": DO_WHILE_ZERO}, imported_hours_ago=LONG_AGO)
    findings = diagnose_tiny(repo).findings
    assert [f.function for f in findings if f.function == "digits"] == [], findings
    assert (findings[0].function, findings[0].line) == ("lossy", 28), findings
    assert findings[0].kind is FindingKind.LOOP_LEAK


# jq's jvp_array_new(): the block goes straight from the allocator into a returned struct as
# the address of its member (`jv r = {…, {&jvp_array_alloc(n)->refcnt}}; return r;`).
INLINE_MEMBER_ESCAPE = """\
#include <stddef.h>
#include <stdlib.h>

typedef struct { int count; } refcnt;
typedef struct { refcnt rc; int length; } array;
typedef struct { int kind; union { refcnt *ptr; double number; } u; } value;

static array *array_alloc(unsigned n) {
    array *a = malloc(sizeof(array) + n);
    a->rc.count = 1;
    a->length = 0;
    return a;
}

static value array_new(unsigned n) {
    value r = {1, {&array_alloc(n)->rc}};
    return r;
}

static void value_free(value v) {
    if (--v.u.ptr->count == 0)
        free((char *)v.u.ptr - offsetof(array, rc));
}

int main(void) {
    for (;;) {
        value v = array_new(16);
        value_free(v);
    }
}
"""


def test_a_block_returned_as_the_address_of_its_member_straight_from_the_allocator(
    tmp_path: Path,
) -> None:
    repo = _service(tmp_path, {"array.c": INLINE_MEMBER_ESCAPE}, imported_hours_ago=LONG_AGO)
    findings = diagnose_tiny(repo).findings
    assert [f for f in findings if f.function == "array_new"] == [], findings


# curl's base64_encode(): `if(NULL == output) return …;` tests the block the other way round;
# on that path there is nothing to release.
YODA_NULL_CHECK = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int encode(const char *in, size_t n, char **outptr) {
    char *output;
    char *encoded;
    *outptr = NULL;
    encoded = output = malloc(n * 4 / 3 + 4);
    if (NULL == output)
        return 1;
    while (n > 0) {
        *output = in[0];
        output += 4;
        n--;
    }
    *output = '\\0';
    *outptr = encoded;
    return 0;
}

int main(void) {
    for (;;) {
        char *text;
        if (encode("abc", 3, &text) == 0)
            free(text);
        usleep(1000);
    }
}
"""


def test_a_null_check_written_constant_first_guards_the_early_return(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"base64.c": YODA_NULL_CHECK}, imported_hours_ago=LONG_AGO)
    findings = diagnose_tiny(repo).findings
    assert [f for f in findings if f.function == "encode"] == [], findings


# jq kept the decNumber library in src/decNumber/ with its ICU-license.html: another project's
# code, whose one-off leaks must not rank above the service's own, and whose loops drive nothing.
def test_a_directory_with_its_own_licence_file_is_vendored_code(tmp_path: Path) -> None:
    vendored = (
        "#include <stdlib.h>\n"
        "int big_parse(const char *s) {\n"
        "    char *digits = malloc(64);\n"
        "    if (s[0] == '-')\n"
        "        return -1;\n"
        "    free(digits);\n"
        "    return 0;\n"
        "}\n"
        'void big_selftest(void) { for (;;) { big_parse("-1"); } }\n'
    )
    own = (
        "#include <stdlib.h>\n#include <string.h>\n"
        "int big_parse(const char *s);\n"
        "int parse_line(const char *s) {\n"
        "    char *copy = strdup(s);\n"
        "    if (copy[0] == '#')\n"
        "        return 0;\n"
        "    free(copy);\n"
        "    return big_parse(s);\n"
        "}\n"
        'int main(void) { return parse_line("1"); }\n'
    )
    files = {"src/main.c": own, "src/bignum/big.c": vendored,
             "src/bignum/ICU-license.html": "<p>Copyright (c) IBM</p>\n"}  # fmt: skip
    repo = _service(tmp_path, files, imported_hours_ago=LONG_AGO)
    diagnosis = diagnose_tiny(repo)
    found = [(f.file, f.function, f.in_scope) for f in diagnosis.findings]
    assert found == [("src/main.c", "parse_line", True), ("src/bignum/big.c", "big_parse", False)]
    assert all(f.kind is FindingKind.ONE_OFF_LEAK for f in diagnosis.findings)
    assert any("vendored" in n and "src/bignum" in n for n in diagnosis.notes), diagnosis.notes


# redis's src/ builds redis-server (server.c) and, beside it, redis-cli.c and redis-benchmark.c,
# each with its own main(); dict.c's main() under #ifdef REDIS_TEST is a self-test.
KV_SERVER = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int reply(const char *text);

void handle(const char *request) {
    char *copy = strdup(request);
    if (copy[0] == '?')
        return;
    reply(copy);
    free(copy);
}

int main(void) {
    for (;;) {
        handle("GET k");
        usleep(1000);
    }
}
"""
KV_CLIENT = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int send_line(const char *line);

int main(void) {
    for (;;) {
        char *line = malloc(512);
        send_line(line);
        usleep(1000);
    }
}
"""
KV_SELF_TEST = """\
#include <stdlib.h>

int table_add(int key) { return key; }

#ifdef KV_TEST
int main(void) {
    for (;;) {
        table_add(1);
    }
}
#endif
"""


def test_another_program_in_the_repository_is_not_the_service(tmp_path: Path) -> None:
    files = {"src/server.c": KV_SERVER, "src/kv-cli.c": KV_CLIENT, "src/table.c": KV_SELF_TEST}
    repo = _service(tmp_path, files, imported_hours_ago=LONG_AGO)
    diagnosis = diagnose_tiny(repo, name="kv-server")
    assert (diagnosis.findings[0].function, diagnosis.findings[0].in_scope) == ("handle", True)
    client = [f for f in diagnosis.findings if f.file == "src/kv-cli.c"]
    assert [f.in_scope for f in client] == [False], diagnosis.findings
    assert any(
        "other programs" in n and "src/kv-cli.c" in n and "table.c" not in n
        for n in diagnosis.notes
    ), diagnosis.notes


# Status codes and helpers of curl, git and redis that decide who holds a block. Each service
# calls `run` from its main loop; `run` releases the block on every path where it has one.
_STATUS_ENUM = """\
#include <stdlib.h>
#include <string.h>
typedef enum { E_OK, E_NOMEM, E_BAD } code_t;
static code_t decode(const char *s, char **out) {
    char *ns = malloc(strlen(s) + 1);
    if (!ns)
        return E_NOMEM;
    strcpy(ns, s);
    *out = ns;
    return E_OK;
}
"""
_FILLER_HEAD = """\
#include <stdlib.h>
#include <string.h>
static int clean_name(char **out, const char *name) {
    *out = NULL;
    if (!name)
        return 2;
    if (strlen(name) > 255)
        return 1;
"""
_BASENAME = """\
#include <stdlib.h>
#include <string.h>
static char *base_of(char *path) {
    char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
"""
_FILLER_USER = """\
int run(const char *s) {
    char *p;
    int status = clean_name(&p, s);
    if (status)
        return status;
    int n = (int)strlen(p);
    free(p);
    return n;
}
"""

STATUS_IDIOMS = {
    # curl's ssh_check_fingerprint(): the status is an enumeration constant, CURLE_OK
    "enum-status": _STATUS_ENUM
    + """\
int run(const char *s) {
    char *p;
    if (decode(s, &p) != E_OK)
        return 1;
    int n = (int)strlen(p);
    free(p);
    return n;
}
""",
    # curl's Curl_pin_peer_pubkey(): the status lands in a variable that is tested after
    "status-variable": _STATUS_ENUM
    + """\
int run(const char *s) {
    char *p;
    code_t rc = decode(s, &p);
    if (rc)
        return (int)rc;
    int n = (int)strlen(p);
    free(p);
    return n;
}
""",
    # curl's Curl_urldecode(): the filler returns the status it got, inside `if (r)`
    "status-returned-when-set": """\
#include <stdlib.h>
#include <string.h>
int convert(char *s);
static int decode(const char *s, char **out) {
    char *ns = malloc(strlen(s) + 1);
    if (!ns)
        return 27;
    int r = convert(ns);
    if (r) {
        free(ns);
        return r;
    }
    *out = ns;
    return 0;
}
int run(const char *s) {
    char *p;
    if (decode(s, &p))
        return 1;
    int n = (int)strlen(p);
    free(p);
    return n;
}
""",
    # curl's old http(): the success form of a sign test, `>= 0`
    "success-sign": """\
#include <stdlib.h>
#include <string.h>
static int encode(const char *s, char **out) {
    char *buf = malloc(strlen(s) * 2 + 1);
    if (!buf)
        return -1;
    strcpy(buf, s);
    *out = buf;
    return (int)strlen(buf);
}
int run(const char *s) {
    char *p;
    int n = 0;
    if (encode(s, &p) >= 0) {
        n = (int)strlen(p);
        free(p);
    }
    return n;
}
""",
    # curl's unescape_word(): `if (!p || rc)`, either says there is no block
    "null-or-status": _STATUS_ENUM
    + """\
int run(const char *s) {
    char *p = NULL;
    code_t rc = decode(s, &p);
    if (!p || rc)
        return 1;
    int n = (int)strlen(p);
    free(p);
    return n;
}
""",
    # git's add_slash(): a fresh copy, or the argument itself when it already ends in '/'
    "passes-its-argument": """\
#include <stdlib.h>
#include <string.h>
static const char *add_slash(const char *path) {
    size_t len = strlen(path);
    if (path[len - 1] != '/') {
        char *with_slash = malloc(len + 2);
        memcpy(with_slash, path, len);
        with_slash[len] = '/';
        with_slash[len + 1] = 0;
        return with_slash;
    }
    return path;
}
int run(const char *s) {
    const char *dir = add_slash(s);
    int n = (int)strlen(dir);
    if (dir != s)
        free((char *)dir);
    return n;
}
""",
    # curl's add_file_name_to_url(): `if (!rc && p) { …; free(p); }`, nothing held in the else
    "status-and-pointer": _STATUS_ENUM
    + """\
int run(const char *s) {
    char *p = NULL;
    code_t rc = decode(s, &p);
    if (!rc && p) {
        int n = (int)strlen(p);
        free(p);
        return n;
    }
    return 0;
}
""",
    # curl's curl_url_get(): two places fill *part, each followed by its own `return OK`; a
    # failure returns `c ? E_A : E_B`
    "two-filling-sites": """\
#include <stdlib.h>
#include <string.h>
enum { OK, E_NONE, E_MEM };
static int get_part(const char *s, int which, char **part) {
    if (!s)
        return which ? E_NONE : E_MEM;
    if (which) {
        *part = strdup(s);
        return OK;
    }
    char *copy = malloc(strlen(s) + 2);
    if (!copy)
        return E_MEM;
    strcpy(copy, s);
    *part = copy;
    return OK;
}
int run(const char *s) {
    char *p;
    if (get_part(s, 1, &p))
        return 1;
    int n = (int)strlen(p);
    free(p);
    return n;
}
""",
    # curl's split_str(): fills and returns TRUE, or returns FALSE having filled nothing
    "filled-when-true": """\
#include <stdlib.h>
#include <string.h>
#define FALSE 0
#define TRUE 1
static int split(const char *s, char **out) {
    char *copy = malloc(strlen(s) + 1);
    if (!copy)
        return FALSE;
    strcpy(copy, s);
    *out = copy;
    return TRUE;
}
int run(const char *s) {
    char *p;
    int rc = 0;
    if (!split(s, &p)) {
        rc = 90;
        goto quit;
    }
    rc = (int)strlen(p);
    free(p);
quit:
    return rc;
}
""",
    # curl's curl_url_get(): `return ifmissing;`, a local only ever given non-zero constants
    "returned-local-never-zero": """\
#include <stdlib.h>
#include <string.h>
struct url { const char *host; const char *path; };
static int url_get(const struct url *u, int what, char **part) {
    const char *ptr = NULL;
    int ifmissing = 1;
    if (!u)
        return 2;
    switch (what) {
    case 0: ptr = u->host; ifmissing = 3; break;
    case 1: ptr = u->path; ifmissing = 4; break;
    }
    if (ptr) {
        char *s = strdup(ptr);
        if (!s)
            return 5;
        *part = s;
        return 0;
    }
    return ifmissing;
}
int run(const char *s) {
    struct url u = {s, s};
    char *p;
    if (url_get(&u, 1, &p))
        return 1;
    int n = (int)strlen(p);
    free(p);
    return n;
}
""",
    # curl's msdosify()-style fillers: the block goes straight into *out, and the status says
    # whether it got there: `return (*out ? 0 : 3);`, or `if (!*out) return 3;` after it
    "filled-status-by-ternary": _FILLER_HEAD
    + """\
    *out = strdup(name);
    return (*out ? 0 : 3);
}
"""
    + _FILLER_USER,
    # curl's rename_if_reserved_dos(): `base = curlx_basename(buffer)` before `*out = buffer`;
    # a function that returns a pointer into its argument leaves the block with the caller
    "filled-after-a-basename": _BASENAME
    + """\
static int clean_name(char **out, const char *name) {
    *out = NULL;
    if (name[0] == '/') {
        *out = strdup(name);
        if (!*out)
            return 3;
        return 0;
    }
    char *buffer = strdup(name);
    if (!buffer)
        return 1;
    char *base = base_of(buffer);
    if (base[0] == '.')
        base[0] = '_';
    *out = buffer;
    return 0;
}
"""
    + _FILLER_USER,
    "filled-status-after-null-test": _FILLER_HEAD
    + """\
    *out = strdup(name);
    if (!*out)
        return 3;
    return 0;
}
"""
    + _FILLER_USER,
}
_LOOP = 'int run(const char *s);\nint main(void) { for (;;) { run("a/b"); } }\n'


@pytest.mark.parametrize("idiom", sorted(STATUS_IDIOMS))
def test_a_block_released_wherever_the_callee_says_there_is_one_is_no_leak(
    tmp_path: Path, idiom: str
) -> None:
    files = {"run.c": STATUS_IDIOMS[idiom], "main.c": _LOOP}
    repo = _service(tmp_path, files, imported_hours_ago=LONG_AGO)
    findings = diagnose_tiny(repo).findings
    assert [f for f in findings if f.function == "run"] == [], findings


# redis's rioWriteBulkStreamID (fixed in 2f8134a7ff): the sds goes to a writer that takes it as
# `const char *` and hands it on through a function pointer (rio's r->write); the early return
# loses it. A read-only parameter does not take the block, whatever the pointer calls.
CONST_THROUGH_POINTER = """\
#include <stdlib.h>
#include <string.h>

typedef struct sink { size_t (*write)(struct sink *s, const void *buf, size_t len); } sink;
int read_request(void);

static size_t write_bulk(sink *s, const char *buf, size_t len) {
    return s->write(s, buf, len);
}

static int write_id(sink *s, int id) {
    char *text = malloc(32);
    memset(text, 'a' + id % 26, 31);
    text[31] = '\\0';
    if (write_bulk(s, text, strlen(text)) == 0) return 0;
    free(text);
    return 1;
}

static sink the_sink;

int main(void) {
    for (;;) write_id(&the_sink, read_request());
}
"""


def test_a_block_handed_to_a_const_parameter_stays_the_callers(tmp_path: Path) -> None:
    repo = _service(tmp_path, {"rio.c": CONST_THROUGH_POINTER}, imported_hours_ago=LONG_AGO)
    top = diagnose_tiny(repo).findings[0]
    assert (top.function, top.line, top.kind) == ("write_id", 12, FindingKind.LOOP_LEAK), top
    assert top.released_elsewhere


# The other side of the same summary: `buf = normalise(buf)` hands the block back, so the early
# return after it still loses the block (it used to count as "kept by normalise()").
HANDED_BACK = """\
#include <stdlib.h>
#include <string.h>
int reply(const char *s);
static char *normalise(char *s) {
    for (char *p = s; *p; p++)
        if (*p == '\\t') *p = ' ';
    return s;
}
int run(const char *line) {
    char *buf = strdup(line);
    buf = normalise(buf);
    if (reply(buf) < 0)
        return -1;
    free(buf);
    return 0;
}
"""


def test_a_block_handed_back_by_the_callee_is_still_the_callers(tmp_path: Path) -> None:
    files = {"run.c": HANDED_BACK, "main.c": _LOOP}
    repo = _service(tmp_path, files, imported_hours_ago=LONG_AGO)
    top = diagnose_tiny(repo).findings[0]
    assert (top.function, top.line, top.kind) == ("run", 10, FindingKind.LOOP_LEAK), top
    assert "return at line 13" in " ".join(top.reasons)


REDIRECTS = """\
#include <stdlib.h>
#include <string.h>

int next_kind(void);
void follow(char *url);

static void step(int kind) {
    char *url = strdup("http://example.invalid/next");
    if (kind == 1) {
        follow(url);
    }
    else if (kind == 2) {
        follow(url);
    }
    free(url);
}

int main(void) {
    for (;;)
        step(next_kind());
}
"""


def test_a_release_split_into_two_branches_by_one_commit_is_the_suspect(tmp_path: Path) -> None:
    # curl's multi_runsingle, reverted: one free after the branches becomes a free in each
    # branch ("moved" + "added" in one commit); a path taking neither branch leaks
    freed = "        follow(url);\n        free(url);\n"
    split = REDIRECTS.replace("        follow(url);\n", freed)
    split = split.replace("    }\n    free(url);\n}", "    }\n}")
    repo = _service(tmp_path, {"step.c": REDIRECTS}, latest={"step.c": split})
    diagnosis = diagnose_tiny(repo)
    (change,) = [c for c in diagnosis.changes if c.subject == "latest change"]
    assert any(note.startswith("moved free(url) in step()") for note in change.notes)
    top = diagnosis.findings[0]
    assert (top.file, top.function, top.line) == ("step.c", "step", 8)
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"
    assert top.confidence is not Confidence.LOW


PEER_NAMES = """\
#include <stddef.h>

int tls_peer_name(char **out, const void *cert);
void ASN1_free_text(char *text);
void TLS_free(void *block);
int matches(const char *name, const char *host);

int verify_peer(const void *cert, const char *host) {
    char *peer = NULL;
    if (tls_peer_name(&peer, cert) < 0)
        return -1;
    int ok = matches(peer, host);
    TLS_free(peer);
    return ok;
}

int serve(const void *cert, const char *host) {
    for (;;) {
        if (verify_peer(cert, host) < 0)
            return 1;
    }
}
"""


def test_a_deleted_release_of_a_library_named_like_one_is_the_suspect(tmp_path: Path) -> None:
    # curl's verifyhost, reverted: OPENSSL_free(peer_CN) removed. The library's release has
    # no code here; its name says what it does (the last word: "free")
    removed = PEER_NAMES.replace("    TLS_free(peer);\n", "")
    repo = _service(tmp_path, {"peer.c": PEER_NAMES}, latest={"peer.c": removed})
    diagnosis = diagnose_tiny(repo)
    (change,) = [c for c in diagnosis.changes if c.subject == "latest change"]
    assert any(note.startswith("removed TLS_free(peer)") for note in change.notes), change.notes
    top = diagnosis.findings[0]
    assert (top.file, top.function) == ("peer.c", "verify_peer")
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"


def test_a_block_handed_to_a_library_release_is_released(tmp_path: Path) -> None:
    handed = (
        "#include <stdlib.h>\nvoid EXT_free(void *block);\nvoid ext_fill(char *buf);\n"
        "int main(void) {\n    for (;;) {\n        char *buf = malloc(64);\n"
        "        ext_fill(buf);\n        EXT_free(buf);\n    }\n}\n"
    )
    findings = diagnose_tiny(_service(tmp_path, {"main.c": handed})).findings
    assert findings == [], findings  # not "handed to EXT_free(), whose effect is unknown"
    # a context-first library call (the release word is not the last) does not release it
    kept = handed.replace("EXT_free(void *block)", "EXT_free_entry(void *block, int n)")
    kept = kept.replace("EXT_free(buf)", "EXT_free_entry(buf, 1)")
    findings = diagnose_tiny(_service(tmp_path / "kept", {"main.c": kept})).findings
    assert [f.function for f in findings] == ["main"]


# A growing buffer struct like git's strbuf: what a local ``struct buf`` holds is the memory.
BUF_ADD = """\
#include <stdlib.h>
#include <string.h>

struct buf { char *data; size_t len; };

static void buf_add(struct buf *b, const char *s) {
    size_t n = strlen(s);
    b->data = realloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}
"""

PATHS = (
    BUF_ADD
    + """
static void buf_release(struct buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

int open_dir(const char *path);
int next_entry(int fd);

static int scan(const char *dir) {
    struct buf path = {0};
    buf_add(&path, dir);
    int fd = open_dir(path.data);
    buf_release(&path);
    if (fd < 0)
        return -1;
    while (next_entry(fd) > 0)
        ;
    return 0;
}

int main(int argc, char **argv) {
    for (;;)
        scan(argc > 1 ? argv[1] : ".");
}
"""
)


def test_a_release_split_onto_both_paths_is_no_leak(tmp_path: Path) -> None:
    # git's die_if_checked_out, reverted: one release becomes one per path, both covered; the
    # release itself (it takes &path) must not be read as the allocation that fills path
    split = PATHS.replace(
        "    buf_release(&path);\n    if (fd < 0)\n        return -1;\n",
        "    if (fd < 0) {\n        buf_release(&path);\n        return -1;\n    }\n",
    ).replace("        ;\n    return 0;", "        ;\n    buf_release(&path);\n    return 0;")
    repo = _service(tmp_path, {"scan.c": PATHS}, latest={"scan.c": split})
    diagnosis = diagnose_tiny(repo)
    (change,) = [c for c in diagnosis.changes if c.subject == "latest change"]
    assert any(note.startswith("moved buf_release(&path) in scan()") for note in change.notes)
    blamed = [f for f in diagnosis.findings if f.function == "scan"]
    assert all(f.confidence is Confidence.LOW for f in blamed), blamed


# A const parameter the callee stores through a cast macro (curl's `Curl_slist_append_nodup(list,
# const char *data)` keeps `CURL_UNCONST(data)` in the new node): the list owns the block then.
# The control frees the node but not what it kept, so the block is lost again.
KEPT_THROUGH_A_CAST = """\
#include <stdlib.h>
#include <string.h>
#define UNCONST(p) ((void *)(p))
struct node { struct node *next; char *data; };
int reply(const char *s);
static struct node *append_nodup(struct node *list, const char *data) {
    struct node *n = malloc(sizeof(*n));
    if (!n)
        return NULL;
    n->next = list;
    n->data = UNCONST(data);
    return n;
}
static void free_all(struct node *l) {
    while (l) {
        struct node *next = l->next;
        free(l->data);
        free(l);
        l = next;
    }
}
int run(const char *s) {
    struct node *head = NULL, *tmp;
    for (int i = 0; i < 4; i++) {
        char *dup = strdup(s);
        if (!dup)
            break;
        tmp = append_nodup(head, dup);
        if (!tmp) {
            free(dup);
            break;
        }
        head = tmp;
    }
    reply(head ? head->data : "");
    free_all(head);
    return 0;
}
"""


@pytest.mark.parametrize("kept", [True, False], ids=["kept by the node", "not kept"])
def test_a_const_parameter_stored_through_a_cast_macro_is_kept(tmp_path: Path, kept: bool) -> None:
    source = KEPT_THROUGH_A_CAST
    if not kept:
        source = source.replace("    n->data = UNCONST(data);\n", "    reply(UNCONST(data));\n")
        assert source != KEPT_THROUGH_A_CAST
    files = {"run.c": source, "main.c": _LOOP}
    findings = diagnose_tiny(_service(tmp_path, files, imported_hours_ago=LONG_AGO)).findings
    dup = [f for f in findings if f.function == "run" and f.line == 25]
    assert (dup == []) is kept, findings


def _chain(depth: int) -> str:
    """``hop0(p)`` → ``hop1(p)`` → … → ``release(p)``: a release ``depth`` calls down."""
    hops = [f"void hop{i}(char *p) {{ hop{i + 1}(p); }}\n" for i in range(depth - 1)]
    hops.append(f"void hop{depth - 1}(char *p) {{ release(p); }}\n")
    return "".join(reversed(hops))


def test_a_release_is_known_to_every_caller_whichever_is_analysed_first(tmp_path: Path) -> None:
    # a deep chain asked first once cut hop12's own summary to "unknown" for every caller
    source = (
        "#include <stdlib.h>\nvoid release(char *p) { free(p); }\n"
        + _chain(14)
        + "void deep(void) {\n    for (;;) {\n        char *b = malloc(8);\n"
        "        hop0(b);\n    }\n}\n"
        "void direct(void) {\n    for (;;) {\n        char *b = malloc(8);\n"
        "        hop12(b);\n    }\n}\n"
    )
    findings = diagnose_tiny(_service(tmp_path, {"chain.c": source})).findings
    assert not [f for f in findings if f.function == "direct"], findings


LENGTHS = (
    BUF_ADD
    + """
static void buf_setlen(struct buf *b, size_t len) {
    b->len = len;
    b->data[len] = '\\0';
}

static void buf_release(struct buf *b) {
    free(b->data);
    b->data = NULL;
}

int check(const char *name);

static int work(const char *name) {
    struct buf b = {0};
    buf_add(&b, name);
    buf_setlen(&b, b.len - 1);
    if (check(b.data) < 0)
        return -1;
    buf_release(&b);
    return 0;
}

int main(int argc, char **argv) {
    for (;;)
        work(argc > 1 ? argv[1] : "x/");
}
"""
)


def test_a_length_handed_to_a_callee_is_not_the_block(tmp_path: Path) -> None:
    # git's cmd_clone: strbuf_setlen(&buf, buf.len - 1) stores the number, not the memory,
    # so the early return still leaks what the struct local holds
    findings = diagnose_tiny(_service(tmp_path, {"work.c": LENGTHS})).findings
    leaks = [f for f in findings if f.function == "work" and f.kind is FindingKind.LOOP_LEAK]
    assert leaks and "return at line 30" in " ".join(leaks[0].reasons), findings


# haproxy's pools: pool_free(pool, p) pushes the block on the pool's free list, where the next
# pool_alloc() takes it again. For its caller that is a release (a path without it keeps the
# block from ever coming back), and the commit that removed it is the leak's cause. It was
# read as "kept by pool_free()", no release at all, so the removal said nothing.
POOLED = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pool { void *free_list; size_t size; };
static struct pool buffers = { NULL, 4096 };

void *pool_alloc(struct pool *pool) {
    void *block = pool->free_list;
    if (block != NULL) {
        pool->free_list = *(void **)block;
        return block;
    }
    return malloc(pool->size);
}

void pool_free(struct pool *pool, void *block) {
    *(void **)block = pool->free_list;
    pool->free_list = block;
}

int handle(const char *request) {
    char *buf = pool_alloc(&buffers);
    if (buf == NULL)
        return -1;
    strncpy(buf, request, 4095);
    pool_free(&buffers, buf);
    return 0;
}

int main(void) {
    for (;;) {
        handle("GET /");
        usleep(1000);
    }
}
"""


def test_a_release_into_a_pool_that_a_commit_removed_is_the_cause(tmp_path: Path) -> None:
    removed = POOLED.replace("    pool_free(&buffers, buf);\n", "")
    repo = _service(tmp_path, {"server.c": POOLED}, {"server.c": removed})
    top = diagnose_tiny(repo).findings[0]
    assert (top.function, top.kind) == ("handle", FindingKind.LOOP_LEAK), top
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change", top
    assert top.confidence is Confidence.HIGH, top.reasons
