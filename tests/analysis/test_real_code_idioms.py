"""Idioms of real C code bases, each a tiny service written for the test, diagnosed end to end
(a real git history, ``analyse`` as ``ads analyze`` runs it). They are the failure classes
measured on redis, jq and curl (issue 11), shrunk to what shows each one.
"""

from __future__ import annotations

from pathlib import Path

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
