"""Paths the walk must not invent, each a tiny service written for the test and diagnosed end
to end: a branch that re-tests what an earlier branch decided (redis ``bitopCommand``,
``sinterGenericCommand``), a loop whose body runs only while the pointer is NULL
(``ldbRepl``), an inner block that declares its own variable of the same name
(``computeDatasetDigest``), a stack array of pointers compared with the heap block
(``evictionPoolPopulate``), a flag given the negation of another local (git's ``cmd_add``).
Each has a control beside it: the same shape where the leak is real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ads.models import FindingKind
from tests.fixtures.tiny import Step, diagnose_tiny, tiny_history

PRELUDE = """\
#include <stdlib.h>
#include <string.h>

int read_request(void);
void reply(const char *s);
int other(void);
"""

CORRELATED = """\
static void handle(int n) {
    char *res = NULL;
    if (n) {
        res = malloc(n);
        memset(res, 'x', n);
    }
    reply("computed");
    if (n) {
        reply(res);
        free(res);
    } else {
        reply("empty");
    }
}
"""

NEGATED = """\
static void handle(int n) {
    char *dst = NULL;
    const char *key = n > 4 ? "k" : NULL;
    if (!key) {
        reply("inline");
    } else {
        dst = malloc(64);
    }
    if (key) {
        reply(dst);
        free(dst);
    } else {
        reply("done");
    }
}
"""

EQUALITY = """\
enum mode { MODE_COPY = 0, MODE_BUFFERED = 8 };

static void handle(int n) {
    enum mode mode = n > 4 ? MODE_BUFFERED : MODE_COPY;
    char *buf = NULL;
    if (mode == MODE_BUFFERED)
        buf = malloc(n);
    reply("header");
    if (mode == MODE_COPY) {
        reply("copied");
        return;
    }
    reply(buf);
    free(buf);
}
"""

LOOP_WHILE_NULL = """\
static char pending[256];
static char *parse(void) {
    if (pending[0] == '\\0') return NULL;
    return strdup(pending);
}

static int handle(int n) {
    char *cmd;
    while ((cmd = parse()) == NULL) {
        if (n <= 0) return -1;
        n--;
    }
    reply(cmd);
    free(cmd);
    return 0;
}
"""

SHADOWED = """\
typedef struct iter { int pos; } iter;
static iter *get_iter(void) { return calloc(1, sizeof(iter)); }
static void release_iter(iter *it) { free(it); }
static int step(iter *it) { return it->pos++ < 10; }

static void handle(int n) {
    iter *di = get_iter();
    while (step(di)) {
        if (n) {
            iter *di = get_iter();
            while (step(di)) { }
            release_iter(di);
        }
    }
    release_iter(di);
}
"""

STACK_POINTERS = """\
void *source_get(int i);
void consume(void *p);

static void handle(int n) {
    void *local[16];
    void **samples;
    int i;
    if (n <= 16)
        samples = local;
    else
        samples = malloc(sizeof(samples[0]) * n);
    for (i = 0; i < n; i++) samples[i] = source_get(i);
    for (i = 0; i < n; i++) consume(samples[i]);
    if (samples != local) free(samples);
}
"""

DERIVED_FLAG = """\
static int handle(int refresh_only) {
    int add_new = !refresh_only;
    char *seen = NULL;
    int status = 0;
    if (add_new)
        seen = calloc(64, 1);
    if (refresh_only)
        goto finish;
    status = seen ? seen[0] : 0;
    free(seen);
finish:
    return status;
}
"""

GOTO_OUT_OF_A_LOOP = """\
static void handle(int n) {
    char *res = NULL;
    int i;
    if (n)
        res = malloc(n);
    for (i = 0; i < 8; i++)
        if (other())
            goto out;
    reply("done");
out:
    if (n) {
        reply(res);
        free(res);
    } else {
        reply("empty");
    }
}
"""

# an out-parameter filled only on success: the failure path after the store frees it again
# and returns non-zero, so the caller's ``if (parse(key, &name)) return;`` got nothing
GIVEN_BACK = """\
#define FREE_AND_NULL(p) do { free(p); (p) = NULL; } while (0)

static int parse(const char *key, char **out) {
    size_t i;
    if (!strchr(key, '.'))
        return -2;
    if (out)
        *out = malloc(strlen(key) + 1);
    for (i = 0; key[i]; i++) {
        if (key[i] == ' ')
            goto fail;
        if (out)
            (*out)[i] = key[i];
    }
    return 0;
fail:
    if (out)
        FREE_AND_NULL(*out);
    return -1;
}

static void handle(int n) {
    char *name;
    if (parse(n ? "a.b" : "a b", &name))
        return;
    reply(name);
    free(name);
}
"""

# ``return error(...)`` on the paths that fill nothing: a call whose every return is a
# non-zero constant, straight or through a macro ending in one (git's ``error()``)
FAILURE_CALLS = """\
int report(const char *fmt, ...);
static int fail_code(void) { return -1; }
#define report(...) (report(__VA_ARGS__), fail_code())

static int refuse(const char *why) {
    reply(why);
    return 128;
}

static int lookup(const char *key, char **out) {
    if (!key[0])
        return report("empty key");
    if (key[0] == '-')
        return refuse("bad key");
    *out = strdup(key);
    return 0;
}

static void handle(int n) {
    char *name;
    if (lookup(n ? "key" : "", &name))
        return;
    reply(name);
    free(name);
}
"""

# a struct local filled by a callee only on its success return: ``if (!split(…, &a, &b))``
# got nothing (git's ``parse_signature()``), nor did ``if (list_dir(…, &names))`` (its failure
# ``return report(…)`` comes before anything is added)
AGGREGATE_FILLERS = """\
struct buf { char *p; size_t len; };
int report(const char *why);

static void buf_add(struct buf *b, const char *s, size_t n) {
    b->p = realloc(b->p, b->len + n + 1);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_release(struct buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = 0;
}

static int split(const char *s, struct buf *head, struct buf *tail) {
    const char *m = strchr(s, '|');
    if (m) {
        buf_add(head, s, m - s);
        buf_add(tail, m, strlen(m));
        return 1;
    }
    return 0;
}

static int list_dir(int n, struct buf *names) {
    if (n < 0)
        return 2;
    while (n--)
        buf_add(names, "x", 1);
    return 0;
}

static void handle(int n) {
    struct buf head = {0}, tail = {0}, names = {0};
    if (!split(n ? "a|b" : "ab", &head, &tail))
        return;
    if (list_dir(n, &names)) {
        buf_release(&head);
        buf_release(&tail);
        return;
    }
    reply(head.p);
    buf_release(&names);
    buf_release(&head);
    buf_release(&tail);
}
"""

# filled only on 0, though 0 may also come with nothing (an empty input): the caller's
# ``if (encode(…, &out)) return;`` still got nothing (curl's base64 encoder)
EMPTY_SUCCESS = """\
static int encode(const char *in, char **out) {
    size_t n = strlen(in);
    char *buf;
    *out = NULL;
    if (!n)
        return 0;
    if (n > 4096)
        return 3;
    buf = malloc(2 * n + 1);
    if (!buf)
        return 27;
    memset(buf, 'A', 2 * n);
    buf[2 * n] = 0;
    *out = buf;
    return 0;
}

static void handle(int n) {
    char *text;
    if (encode(n ? "abc" : "", &text))
        return;
    if (text)
        reply(text);
    free(text);
}
"""

MAIN = """\
int main(void) {
    for (;;) handle(read_request());
}
"""

NO_LEAK = {
    "the same test again, with an else": CORRELATED,
    "the negated test": NEGATED,
    "an equality with another enumerator": EQUALITY,
    "a loop that runs while the pointer is NULL": LOOP_WHILE_NULL,
    "an inner block's own variable of the same name": SHADOWED,
    "a stack array of pointers": STACK_POINTERS,
    "a flag given the negated test of another local": DERIVED_FLAG,
    "a test before a loop, again after a goto out of it": GOTO_OUT_OF_A_LOOP,
    "an out-parameter freed again on the failure path": GIVEN_BACK,
    "an out-parameter filled unless a failure call is returned": FAILURE_CALLS,
    "struct locals filled only on the callee's success return": AGGREGATE_FILLERS,
    "an out-parameter filler that may also succeed with nothing": EMPTY_SUCCESS,
    "a filler's failure tested after a conjunction": AGGREGATE_FILLERS.replace(
        "    if (list_dir(n, &names)) {", "    if (n > 1 && list_dir(n, &names)) {"
    ),
}

# The controls: the same shapes, changed so that a path really loses the block.
LEAKS = {
    "the tested local changed in between": CORRELATED.replace(
        '    reply("computed");\n', '    reply("computed");\n    n = other();\n'
    ),
    "a different local tested": NEGATED.replace("    if (key) {", "    if (n > 8) {"),
    "the loop's pointer is not NULL inside": LOOP_WHILE_NULL.replace(
        "while ((cmd = parse()) == NULL) {", "while ((cmd = parse()) != NULL) {"
    ),
    "the flag's local changes after it was given": DERIVED_FLAG.replace(
        "        seen = calloc(64, 1);\n",
        "        seen = calloc(64, 1);\n    refresh_only = other();\n",
    ),
    "the tested local changes in the loop": GOTO_OUT_OF_A_LOOP.replace(
        "        if (other())\n", "        if ((n = other()))\n"
    ),
    "the failure path keeps the out-parameter": GIVEN_BACK.replace(
        "        FREE_AND_NULL(*out);\n", "        reply(*out);\n"
    ),
    "a failure call returned after the fill": FAILURE_CALLS.replace(
        "    if (key[0] == '-')\n        return refuse(\"bad key\");\n    *out = strdup(key);\n",
        "    *out = strdup(key);\n    if (key[0] == '-')\n        return refuse(\"bad key\");\n",
    ),
    "a filler that fills on its failure return too": AGGREGATE_FILLERS.replace(
        "    if (n < 0)\n        return 2;\n",
        '    buf_add(names, "/", 1);\n    if (n < 0)\n        return 2;\n',
    ),
    "a filler whose failure keeps the block": EMPTY_SUCCESS.replace(
        "    if (n > 4096)\n        return 3;\n    buf", "    buf"
    ).replace("    *out = buf;\n    return 0;", "    *out = buf;\n    return n > 4096 ? 3 : 0;"),
    "the outer variable is never released": SHADOWED.replace(
        "    }\n    release_iter(di);\n}\n", "    }\n}\n"
    ),
}


def _diagnose(tmp_path: Path, handler: str):  # type: ignore[no-untyped-def]
    source = PRELUDE + handler + MAIN
    steps = [Step("import the service", {"server.c": source}, hours=24 * 60)]
    repo, _ = tiny_history(tmp_path / "svc", steps)
    return diagnose_tiny(repo)


@pytest.mark.parametrize("handler", list(NO_LEAK.values()), ids=list(NO_LEAK))
def test_a_path_no_execution_takes_is_no_leak(tmp_path: Path, handler: str) -> None:
    findings = _diagnose(tmp_path, handler).findings
    assert [f for f in findings if f.function == "handle"] == []


@pytest.mark.parametrize("handler", list(LEAKS.values()), ids=list(LEAKS))
def test_the_same_shape_with_a_real_leak_is_found(tmp_path: Path, handler: str) -> None:
    assert handler not in NO_LEAK.values()  # the replacement took
    findings = [f for f in _diagnose(tmp_path, handler).findings if f.function == "handle"]
    assert findings and findings[0].kind is FindingKind.LOOP_LEAK, findings
