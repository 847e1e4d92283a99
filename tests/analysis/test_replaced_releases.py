"""Change-first suspects whose memory is lost where no allocation site shows it.

Two ways a commit can drop a release that the path analysis of allocation sites cannot
confirm, both from haproxy's history (a code base the project develops against):

- the release emptied a member that the next statement fills again
  (``ha_free(&conf->settings.interface); conf->settings.interface = strdup(arg);``, fixed in
  c49224a29d): without it every store after the first overwrites the block stored before;
- a destructor was replaced by a plain release of the same pointer
  (``qc_stream_desc_free(stream)`` → ``pool_free(pool, stream)``, fixed in c9acc31018): the
  block is still released, what it held is not.

Each test has the commit as the latest change, and checks the finding named first and the
commit it names; a control checks the analysis stays quiet when the change is harmless.
"""

from __future__ import annotations

from pathlib import Path

from ads.models import Confidence
from tests.fixtures.tiny import Step, diagnose_tiny, tiny_history

BIND = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ha_free(x) do {                      \\
        typeof(x) __x = (x);                 \\
        free(*__x);                          \\
        *__x = NULL;                         \\
    } while (0)

struct settings { char *interface; int port; };
struct bind_conf { struct settings settings; };

int parse_interface(const char *arg, struct bind_conf *conf) {
    if (!*arg)
        return -1;
    ha_free(&conf->settings.interface);
    conf->settings.interface = strdup(arg);
    return 0;
}

int main(int argc, char **argv) {
    static struct bind_conf conf;
    for (;;) {
        parse_interface(argc > 1 ? argv[1] : "eth0", &conf);
        usleep(1000);
    }
}
"""

STREAMS = """\
#include <stdlib.h>
#include <unistd.h>

struct stream { char *rx; char *tx; struct stream *next; };
struct conn { struct stream *streams; };

void stream_free(struct stream *s) {
    free(s->rx);
    free(s->tx);
    free(s);
}

struct stream *stream_new(void) {
    struct stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->rx = malloc(4096);
    s->tx = malloc(4096);
    return s;
}

void conn_release(struct conn *c) {
    struct stream *s = c->streams;
    while (s) {
        struct stream *next = s->next;
        stream_free(s);
        s = next;
    }
    c->streams = NULL;
}

int main(void) {
    struct conn c = {0};
    for (;;) {
        struct stream *s = stream_new();
        if (s) {
            s->next = c.streams;
            c.streams = s;
        }
        conn_release(&c);
        usleep(1000);
    }
}
"""


def _latest(tmp_path: Path, before: str, after: str, name: str) -> list:  # type: ignore[type-arg]
    steps = [
        Step("import", {name: before}, hours=72),
        Step("latest change", {name: after}, hours=3),
    ]
    repo, _ = tiny_history(tmp_path / "svc", steps)
    return diagnose_tiny(repo).findings


def test_a_removed_release_before_a_store_into_the_same_member_is_named(tmp_path: Path) -> None:
    after = BIND.replace("    ha_free(&conf->settings.interface);\n", "")
    top = _latest(tmp_path, BIND, after, "bind.c")[0]
    assert (top.function, top.variable) == ("parse_interface", "conf->settings.interface"), top
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"
    assert top.confidence is Confidence.MEDIUM, top.reasons  # the change's word, not a proof
    assert any("stores into conf->settings.interface again" in r for r in top.reasons)


def test_a_release_kept_before_the_store_is_no_suspect(tmp_path: Path) -> None:
    # the same commit moving the release up a line: nothing is lost
    after = BIND.replace(
        "    if (!*arg)\n        return -1;\n    ha_free(&conf->settings.interface);\n",
        "    ha_free(&conf->settings.interface);\n    if (!*arg)\n        return -1;\n",
    )
    findings = _latest(tmp_path, BIND, after, "bind.c")
    assert [f for f in findings if f.function == "parse_interface"] == [], findings


def test_a_destructor_replaced_by_a_plain_release_is_named(tmp_path: Path) -> None:
    after = STREAMS.replace("        stream_free(s);\n", "        free(s);\n")
    top = _latest(tmp_path, STREAMS, after, "conn.c")[0]
    assert top.function == "conn_release", top
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"
    assert any("stream_free() also released what s holds" in r for r in top.reasons), top.reasons


def test_a_destructor_replaced_by_another_destructor_is_no_suspect(tmp_path: Path) -> None:
    renamed = STREAMS.replace(
        "void conn_release(",
        "void stream_drop(struct stream *s) { stream_free(s); }\n\nvoid conn_release(",
    )
    after = renamed.replace(
        "        stream_free(s);\n        s = next;", "        stream_drop(s);\n        s = next;"
    )
    findings = _latest(tmp_path, renamed, after, "conn.c")
    assert [f for f in findings if f.function == "conn_release"] == [], findings


def test_a_release_moved_into_a_reset_helper_is_not_an_overwrite(tmp_path: Path) -> None:
    helper = BIND.replace(
        "int parse_interface(",
        "void reset_settings(struct bind_conf *conf) { ha_free(&conf->settings.interface); }\n\n"
        "int parse_interface(",
    )
    after = helper.replace(
        "    ha_free(&conf->settings.interface);\n    conf->",
        "    reset_settings(conf);\n    conf->",
    )
    assert after != helper
    findings = _latest(tmp_path, helper, after, "bind.c")
    mine = [f for f in findings if f.function == "parse_interface"]
    # listed as the change's suspect, refuted: the helper may release it before the store
    assert mine and all(f.refuted and f.confidence is Confidence.LOW for f in mine), mine


# A refactor, not a leak: redis's hllSparseToDense() once took the sparse string and freed it;
# its API changed to take the object, freeing o->ptr instead (adf2e9c, antirez). Read as
# "removed sdsfree(sparse)", that commit was the Medium top-1 on redis's real history
# (bench/real_code.py (b3)). What the release named is gone, or the same commit added a release
# of another name for it: refuted, listed at Low.
CONVERT = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct obj { char *ptr; };

int handle(const char *request) {
    char *copy = strdup(request);
    if (copy == NULL)
        return -1;
    if (copy[0] != 'G')
        return -1;
    free(copy);
    return 0;
}

CONVERT_FUNCTION

int main(void) {
    static struct obj o;
    for (;;) {
        handle("GET /");
        CONVERT_CALL;
        usleep(1000);
    }
}
"""
TAKES_STRING = """\
void convert(struct obj *o, char *sparse) {
    char *dense = malloc(64);
    memcpy(dense, sparse, 8);
    free(sparse);
    o->ptr = dense;
}"""
TAKES_OBJECT = """\
void convert(struct obj *o) {
    char *dense = malloc(64);
    memcpy(dense, o->ptr, 8);
    free(o->ptr);
    o->ptr = dense;
}"""


def _convert(function: str, call: str) -> str:
    return CONVERT.replace("CONVERT_FUNCTION", function).replace("CONVERT_CALL", call)


def test_a_release_removed_with_what_it_released_is_refuted(tmp_path: Path) -> None:
    before = _convert(TAKES_STRING, 'convert(&o, strndup("0123456789", 10))')
    after = _convert(TAKES_OBJECT, "convert(&o)")
    findings = _latest(tmp_path, before, after, "convert.c")
    mine = [f for f in findings if f.function == "convert"]
    assert mine and all(f.refuted and f.confidence is Confidence.LOW for f in mine), mine
    assert any("no longer appears in convert()" in r for f in mine for r in f.reasons)


def test_a_release_moved_to_another_name_for_the_block_is_refuted(tmp_path: Path) -> None:
    before = _convert(TAKES_STRING, 'convert(&o, strndup("0123456789", 10))')
    aliased = TAKES_OBJECT.replace("    char *dense", "    char *sparse = o->ptr;\n    char *dense")
    after = _convert(aliased.replace("memcpy(dense, o->ptr", "memcpy(dense, sparse"), "convert(&o)")
    findings = _latest(tmp_path, before, after, "convert.c")
    mine = [f for f in findings if f.function == "convert"]
    assert mine and all(f.refuted and f.confidence is Confidence.LOW for f in mine), mine
    assert any("added free(o->ptr) in convert()" in r for f in mine for r in f.reasons), mine


# curl's adbd4e3 made Curl_bundle_create(data, &bundle) free *cb_ptr when it fails; a later
# removal of that call read as "removed a release" (it releases what its argument points to,
# on failure) and came first as Medium growth. A call that fills its out-parameter is no
# release of it.
BUNDLES = """\
#include <stdlib.h>
#include <unistd.h>

struct bundle { char *conns; };
static struct bundle *cache;

int bundle_create(struct bundle **out) {
    *out = malloc(sizeof(**out));
    if (!*out)
        return -1;
    (*out)->conns = malloc(64);
    if (!(*out)->conns) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int add_conn(void) {
    struct bundle *bundle = NULL;
    CREATE
    cache = bundle;
    return 0;
}

int main(void) {
    for (;;) {
        add_conn();
        usleep(1000);
    }
}
"""


def test_removing_a_call_that_fills_its_out_parameter_is_no_removed_release(
    tmp_path: Path,
) -> None:
    before = BUNDLES.replace("CREATE", "if (!cache && bundle_create(&bundle))\n        return -1;")
    after = BUNDLES.replace("CREATE", "if (cache)\n        return 0;")
    steps = [
        Step("import", {"bundle.c": before}, hours=72),
        Step("latest change", {"bundle.c": after}, hours=3),
    ]
    repo, _ = tiny_history(tmp_path / "svc", steps)
    diagnosis = diagnose_tiny(repo)
    (change,) = [c for c in diagnosis.changes if c.subject == "latest change"]
    assert not any(note.startswith("removed bundle_create") for note in change.notes), change
    assert not any(f.introduced_by and f.function == "add_conn" for f in diagnosis.findings)


# redis's ab2924cff3 added dictRelease(c->bpop.keys) to freeClient(); with it reverted, the
# destructor no longer mentions the member at all, and the struct still holds it: the removed
# release is the suspect, not a variable that went away.
CLIENTS = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct client { char *name; char *keys; };

struct client *client_new(void) {
    struct client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->name = strdup("client");
    c->keys = malloc(128);
    return c;
}

void client_free(struct client *c) {
    free(c->name);
    free(c->keys);
    free(c);
}

int main(void) {
    for (;;) {
        struct client *c = client_new();
        if (c)
            client_free(c);
        usleep(1000);
    }
}
"""


def test_a_destructor_that_stops_mentioning_a_member_is_named(tmp_path: Path) -> None:
    after = CLIENTS.replace("    free(c->keys);\n", "")
    top = _latest(tmp_path, CLIENTS, after, "client.c")[0]
    assert top.function == "client_free", top
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"
    assert not top.refuted, top.reasons


# Two reverted fixes (bench (b2)) that the refutations above must leave alone. redis's
# 53294e537c named two temporaries to free them; reverted, they go straight into sdscatsds()
# again, so the variables are gone but the leak is back. jq's aea8efaf0b freed the duplicates
# that jv_unique() drops; the kept ones go to jv_array_append(), a keeper, on the other branch.
REPORT = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cluster_info(void) { return strdup("cluster_state:ok"); }

char *append(char *out, const char *more) {
    size_t n = strlen(out), m = strlen(more);
    char *grown = realloc(out, n + m + 1);
    if (!grown)
        return out;
    memcpy(grown + n, more, m + 1);
    return grown;
}

char *debug_string(char *out) {
BODY
    return out;
}

int main(void) {
    for (;;) {
        char *s = debug_string(strdup("# Cluster\\n"));
        free(s);
        usleep(1000);
    }
}
"""
NAMED = """\
    char *info = cluster_info();
    out = append(out, info);
    free(info);"""
INLINED = """\
    out = append(out, cluster_info());"""

UNIQUE = """\
#include <stdlib.h>
#include <unistd.h>

struct entry { char *key; char *object; };
struct list { char *items[64]; int n; };

void list_append(struct list *l, char *item) { if (l->n < 64) l->items[l->n++] = item; }

void unique(struct entry *entries, int n, struct list *out) {
    for (int i = 0; i < n; i++) {
        if (i > 0 && entries[i].key[0] == entries[i - 1].key[0]) {
            free(entries[i].key);
            free(entries[i].object);
        } else {
            free(entries[i].key);
            list_append(out, entries[i].object);
        }
    }
}

int main(void) {
    static struct list out;
    for (;;) {
        struct entry e[2];
        for (int i = 0; i < 2; i++) {
            e[i].key = malloc(8);
            e[i].key[0] = 'k';
            e[i].object = malloc(16);
        }
        out.n = 0;
        unique(e, 2, &out);
        for (int i = 0; i < out.n; i++)
            free(out.items[i]);
        usleep(1000);
    }
}
"""


def test_a_reverted_fix_that_inlines_the_freed_temporary_is_named(tmp_path: Path) -> None:
    top = _latest(
        tmp_path, REPORT.replace("BODY", NAMED), REPORT.replace("BODY", INLINED), "debug.c"
    )[0]
    assert top.function == "debug_string", top
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"


def test_a_removed_release_on_the_branch_that_does_not_keep_is_named(tmp_path: Path) -> None:
    after = UNIQUE.replace("            free(entries[i].object);\n", "")
    top = _latest(tmp_path, UNIQUE, after, "unique.c")[0]
    assert top.function == "unique", top
    assert top.introduced_by is not None and top.introduced_by.subject == "latest change"
    assert not top.refuted, top.reasons


# curl's 311c88c moved free(newurl) within Curl_follow(), which owns its argument; the early
# error returns before it leaked newurl long before that commit. A moved release changes only
# the paths that passed where it was.
FOLLOW = """\
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int redirects;

int follow(char *url) {
    if (++redirects > 50)
        return -1;
    if (url[0] == 0)
        return -2;
    size_t n = strlen(url);
    BODY
    return 0;
}

int main(void) {
    for (;;) {
        follow(strdup("http://example.com/"));
        usleep(1000);
    }
}
"""


def test_a_moved_release_is_not_blamed_for_returns_before_it(tmp_path: Path) -> None:
    before = FOLLOW.replace("BODY", "(void)n;\n    free(url);\n    redirects = 0;")
    after = FOLLOW.replace("BODY", "(void)n;\n    redirects = 0;\n    free(url);")
    findings = _latest(tmp_path, before, after, "follow.c")
    blamed = [f for f in findings if f.introduced_by and f.introduced_by.subject == "latest change"]
    assert blamed == [], blamed
