"""Out-parameter fillers whose failure paths give the block back, and the callers that trust
their result: false positives measured on real code bases, each shrunk to a tiny program
written for the test."""

from __future__ import annotations

from ads.analysis.c.leaks import analyze_c_sources

# ``*out = malloc(n)``, then on a failed read ``free(*out); *out = NULL; return 0;``: only the
# paths that return 1 fill the caller's pointer.
READER = """\
#include <stdio.h>
#include <stdlib.h>

int read_len(FILE *fp, long *out);

int read_text(FILE *fp, char **target) {
    long len;
    *target = NULL;
    if (!read_len(fp, &len))
        return 0;
    if (len <= 0)
        return 0;
    *target = (char *)malloc(len);
    if (fread(*target, 1, len, fp) != (size_t)len) {
        free(*target);
        *target = NULL;
        return 0;
    }
    (*target)[len - 1] = '\\0';
    return 1;
}
"""


def _findings(source: str) -> list[tuple[str | None, int]]:
    report = analyze_c_sources([("reader.c", source.encode())])
    return [(f.function, f.line) for f in report.findings]


def test_a_filler_that_frees_its_slot_on_failure_fills_only_on_success() -> None:
    caller = """
int print_all(FILE *fp, long n) {
    char *text;
    for (long i = 0; i < n; i++) {
        if (!read_text(fp, &text))
            return 0;
        puts(text);
        free(text);
    }
    return 1;
}
"""
    assert _findings(READER + caller) == []


def test_the_caller_that_never_frees_what_was_filled_still_leaks() -> None:
    caller = """
int print_all(FILE *fp, long n) {
    char *text;
    for (long i = 0; i < n; i++) {
        if (!read_text(fp, &text))
            return 0;
        puts(text);
    }
    return 1;
}
"""
    assert [f for f in _findings(READER + caller) if f[0] == "print_all"] != []


# ``if (likely(it))`` / ``if (unlikely(it == NULL))``: a branch-prediction hint changes no
# value, so the branch is the NULL test it wraps.
HINTED = """\
#include <stdlib.h>
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct cursor { int pos; };

struct cursor *cursor_at(long index) {
    if (index < 0)
        return NULL;
    struct cursor *c = malloc(sizeof(*c));
    if (c == NULL)
        abort();
    c->pos = (int)index;
    return c;
}

int visit(struct cursor *c);

int visit_at(long index) {
    struct cursor *c = cursor_at(index);
    if (likely(c)) {
        visit(c);
        free(c);
        return 1;
    } else {
        return 0;
    }
}

int visit_at_or_fail(long index) {
    struct cursor *c = cursor_at(index);
    if (unlikely(c == NULL))
        return 0;
    visit(c);
    free(c);
    return 1;
}
"""


def test_a_null_test_inside_a_branch_hint_is_a_null_test() -> None:
    assert _findings(HINTED) == []


def test_a_hinted_test_of_something_else_still_leaves_the_leak() -> None:
    source = HINTED.replace("if (unlikely(c == NULL))", "if (unlikely(index > 9))")
    assert [f for f in _findings(source) if f[0] == "visit_at_or_fail"] != []


# A checked realloc wrapper (``p = realloc(p, n); if (!p) fatal(); return p;``) releases the
# old block as realloc does, so growing a work list through it at two places in a loop loses
# nothing.
GROWN = """\
#include <stdlib.h>

void fatal(void);

void *grow(void *p, size_t sz) {
    p = realloc(p, sz);
    if (!p) {
        fatal();
    }
    return p;
}

struct item { int kind; int n; struct item **kids; };

void drop(struct item *j) {
    struct item **pending = NULL;
    size_t len = 0, cap = 0;
    while (1) {
        if (j->kind == 1) {
            if (len + j->n > cap) {
                cap = (len + j->n) * 2;
                pending = grow(pending, cap * sizeof(*pending));
            }
            for (int i = 0; i < j->n; i++)
                pending[len++] = j->kids[i];
        } else if (j->kind == 2) {
            if (len + 1 > cap) {
                cap = (len + 1) * 2;
                pending = grow(pending, cap * sizeof(*pending));
            }
            pending[len++] = j->kids[0];
        }
        free(j);
        if (len == 0)
            break;
        j = pending[--len];
    }
    free(pending);
}
"""


def test_a_realloc_wrapper_releases_the_block_it_grows() -> None:
    assert _findings(GROWN) == []


def test_the_grown_work_list_never_freed_still_leaks() -> None:
    source = GROWN.replace("    free(pending);\n}", "}")
    assert [f for f in _findings(source) if f[0] == "drop"] != []


# ``int too_deep = 0; e = sorted(n, &too_deep); if (too_deep) return -1;``: the callee sets
# the flag only right before ``return NULL``, so the early return holds nothing.
FLAGGED = """\
#include <stdlib.h>

struct entry { int key; };

int compare_all(struct entry *e, int n) { return e[0].key > n; }
int use(struct entry *e, int n) { return e[n - 1].key; }

static struct entry *sorted(int n, int *too_deep) {
    struct entry *entries = calloc(n, sizeof(struct entry));
    if (!entries)
        abort();
    if (compare_all(entries, n)) {
        free(entries);
        *too_deep = 1;
        return NULL;
    }
    return entries;
}

int sort_them(int n) {
    int too_deep = 0;
    struct entry *entries = sorted(n, &too_deep);
    if (too_deep)
        return -1;
    int r = use(entries, n);
    free(entries);
    return r;
}
"""


def test_a_failure_flag_set_only_before_returning_null_says_nothing_was_returned() -> None:
    assert _findings(FLAGGED) == []


def test_a_flag_also_set_with_a_result_still_leaves_the_leak() -> None:
    source = FLAGGED.replace(
        "    return entries;\n}", "    *too_deep = n > 9;\n    return entries;\n}"
    )
    assert [f for f in _findings(source) if f[0] == "sort_them"] != []
    source = FLAGGED.replace("int too_deep = 0;", "int too_deep = 1;")
    assert [f for f in _findings(source) if f[0] == "sort_them"] != []


# A reference-counted handle passed by value: ``has(copy(args), key)`` releases the copy it
# was given, so ``expand()`` (which also recurses with ``args``) only borrows ``args``.
HANDLE = """\
#include <stdlib.h>
struct rc { int n; };
typedef struct { int kind; struct rc *ref; } val;
val val_copy(val v) { if (v.ref) v.ref->n++; return v; }
void val_free(val v) { if (v.ref && --v.ref->n == 0) free(v.ref); }
int val_has(val obj, val key) {
    int r = obj.kind == key.kind;
    val_free(obj);
    val_free(key);
    return r;
}
val val_key(int k) {
    val v;
    v.kind = k;
    v.ref = malloc(sizeof(struct rc));
    v.ref->n = 1;
    return v;
}
"""

BORROWER = """\
#include <stdlib.h>
struct rc;
typedef struct { int kind; struct rc *ref; } val;
val val_copy(val v);
void val_free(val v);
int val_has(val obj, val key);
val val_key(int k);
struct node { int sym; struct node *kid; };

static int expand(struct node *n, val args) {
    int found = 0;
    for (; n; n = n->kid) {
        if (val_has(val_copy(args), val_key(n->sym)))
            found++;
        if (n->kid && n->kid->sym < 0)
            found += expand(n->kid->kid, args);
    }
    return found;
}

int compile_all(struct node *n, val args) {
    int r = expand(n, args);
    val_free(args);
    return r;
}
"""


def _handle_findings(user: str) -> list[tuple[str | None, int]]:
    files = [("src/val.c", HANDLE.encode()), ("src/use.c", user.encode())]
    return [(f.function, f.line) for f in analyze_c_sources(files).findings]


def test_a_handle_whose_copy_is_released_is_only_borrowed() -> None:
    assert _handle_findings(BORROWER) == []


LOOKUP = """
int lookup(struct node *n, val args) {
    if (!n)
        return 0;
    return val_has(args, val_key(n->sym));
}
"""


def test_a_handle_itself_released_on_one_path_only_is_still_kept_on_the_other() -> None:
    assert [f for f in _handle_findings(BORROWER + LOOKUP) if f[0] == "lookup"] != []


# ``*li = (struct lib){ .name = strdup(name) }``: a designated initializer stores the block
# in the struct as surely as a positional one.
DESIGNATED = """\
#include <stdlib.h>
#include <string.h>

struct lib { char *name; int n; };

struct lib *lib_create(const char *name) {
    struct lib *li = malloc(sizeof(*li));
    if (!li)
        abort();
    *li = (struct lib) {
        .name = strdup(name),
        .n = 0,
    };
    return li;
}

void lib_free(struct lib *li) {
    free(li->name);
    free(li);
}
"""


def test_a_block_in_a_designated_initializer_is_stored() -> None:
    assert _findings(DESIGNATED) == []


def test_a_block_only_measured_in_a_designated_initializer_still_leaks() -> None:
    source = DESIGNATED.replace(".n = 0,", ".n = (int)strlen(strdup(name)),")
    assert [f for f in _findings(source) if f[0] == "lib_create"] != []


# ``key = owned ? str : dup(str); … if (key != str) free(key);``: a fresh block never equals
# a pointer that had its value before the allocation, so the test always frees it; through
# ``&&`` too (``if (value != local && value != tmp) free(value);``).
COMPARED = """\
#include <stdlib.h>
#include <string.h>

char *dupstr(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d)
        abort();
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

int table_del(void *t, char *key) { return t == (void *)key; }
void push(void *q, char *v, size_t n) { if (q) memmove(q, v, n); }

int remove_key(void *t, char *str, size_t len, int is_owned) {
    char *key = is_owned ? str : dupstr(str, len);
    int deleted = table_del(t, key) == 0;
    if (key != str)
        free(key);
    return deleted;
}

void rotate(void *q, char *tmp, size_t sz, int single) {
    char local[32];
    char *value;
    if (!tmp) {
        value = local;
    } else if (single) {
        value = malloc(sz);
        memcpy(value, tmp, sz);
    } else {
        value = tmp;
    }
    push(q, value, sz);
    if (value != local && value != tmp)
        free(value);
}
"""


def test_a_fresh_block_never_equals_a_pointer_older_than_it() -> None:
    assert _findings(COMPARED) == []


def test_freeing_only_when_equal_to_an_older_pointer_still_leaks() -> None:
    source = COMPARED.replace("if (key != str)", "if (key == str)")
    assert [f for f in _findings(source) if f[0] == "remove_key"] != []
