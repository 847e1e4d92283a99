"""Which loop runs a handler: the one whose pointer call reads where the handler was stored.

A diagnosis says "in for (;;) (dispatches on_request() through a function pointer)": the loop it
names must be one that can call that function. Before slots were matched, any loop calling
through any pointer was taken to run every function the code uses as a value, so a close hook
called once at exit came out a per-iteration leak of the event loop, and a list walk's printer
was said to be run by the event loop.
"""

from __future__ import annotations

from pathlib import Path

from ads.models import FindingKind
from tests.fixtures.tiny import Step, diagnose_tiny, tiny_history

LONG_AGO = 24 * 60  # hours: the import is outside the history window, no commit speaks


def _diagnose(tmp_path: Path, source: str):  # type: ignore[no-untyped-def]
    repo, _ = tiny_history(tmp_path / "svc", [Step("import", {"server.c": source}, hours=LONG_AGO)])
    return {f.function: f for f in diagnose_tiny(repo).findings}


# An event loop calls `ev->handle(ev)`; a list walk calls `it->print(it)`; the close hook is
# stored in `.on_close` and called once after the loop. Each handler leaks on an error path.
SERVER = """\
#include <stdlib.h>
#include <string.h>

struct event { int fd; int (*handle)(struct event *); };
struct item { struct item *next; int (*print)(struct item *); };
struct hooks { const char *name; void (*on_close)(int); };

int check(const char *s) { return s[0] == 'G' ? 0 : -1; }

int on_request(struct event *ev) {
    char *copy = malloc(64);
    strncpy(copy, "GET /", 63);
    if (ev->fd < 0 || check(copy) < 0)
        return -1;
    free(copy);
    return 0;
}

int show_item(struct item *it) {
    char *line = malloc(128);
    if (it->next == NULL)
        return -1;
    free(line);
    return 0;
}

void close_all(int code) {
    char *summary = malloc(256);
    if (code != 0)
        return;
    free(summary);
}

static struct event listener = { .fd = 3, .handle = on_request };
static struct hooks hooks = { "server", close_all };

void list_items(struct item *it) {
    while (it) {
        it->print(it);
        it = it->next;
    }
}

struct event *next_event(void) { return &listener; }

int main(void) {
    struct item last = { NULL, show_item };
    for (;;) {
        struct event *ev = next_event();
        if (ev == NULL)
            break;
        ev->handle(ev);
        list_items(&last);
    }
    hooks.on_close(0);
    return 0;
}
"""


def test_a_handler_is_dispatched_by_the_loop_that_calls_where_it_was_stored(
    tmp_path: Path,
) -> None:
    found = _diagnose(tmp_path, SERVER)
    request, show = found["on_request"], found["show_item"]
    assert request.kind is FindingKind.LOOP_LEAK and show.kind is FindingKind.LOOP_LEAK, found
    assert "in for (;;) (dispatches on_request() through a function pointer)" in request.reasons[0]
    assert "in while (it) (dispatches show_item() through a function pointer)" in show.reasons[0]
    assert request.main_loop and not show.main_loop


def test_a_hook_no_loop_calls_is_a_one_off_leak(tmp_path: Path) -> None:
    closing = _diagnose(tmp_path, SERVER)["close_all"]
    assert closing.kind is FindingKind.ONE_OFF_LEAK, closing.reasons


# A callback handed to the service's own walker is run by the walker's loop, through its
# parameter; one handed to a library nobody can read is taken as run by any dispatching loop
# that passes it as many arguments as it takes, and by no loop that passes a different number.
CALLBACKS = """\
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; int key; };

void for_each(struct node *n, int (*fn)(struct node *)) {
    while (n) {
        fn(n);
        n = n->next;
    }
}

int visit(struct node *n) {
    char *label = malloc(32);
    if (n->key < 0)
        return -1;
    free(label);
    return 0;
}

int on_tick(int when) {
    char *stamp = malloc(16);
    if (when < 0)
        return -1;
    free(stamp);
    return 0;
}

int on_signal(int sig, void *context) {
    char *text = malloc(16);
    if (sig < 0 || context == NULL)
        return -1;
    free(text);
    return 0;
}

extern int (*lookup_timer(void))(int);
extern void register_callbacks(int (*tick)(int), int (*sig)(int, void *));

int main(void) {
    struct node tail = { NULL, 1 };
    register_callbacks(on_tick, on_signal);
    for (;;) {
        int (*timer)(int) = lookup_timer();
        timer(1);
        for_each(&tail, visit);
    }
}
"""


def test_a_callback_is_run_by_the_loop_of_the_function_it_is_handed_to(tmp_path: Path) -> None:
    visit = _diagnose(tmp_path, CALLBACKS)["visit"]
    assert visit.kind is FindingKind.LOOP_LEAK, visit.reasons
    assert "in while (n) (dispatches visit() through a function pointer)" in visit.reasons[0]


def test_a_call_through_an_unknown_pointer_runs_only_functions_of_its_arity(
    tmp_path: Path,
) -> None:
    found = _diagnose(tmp_path, CALLBACKS)
    tick, signal = found["on_tick"], found["on_signal"]
    assert tick.kind is FindingKind.LOOP_LEAK, tick.reasons
    assert "in for (;;) (dispatches on_tick() through a function pointer)" in tick.reasons[0]
    assert signal.kind is FindingKind.ONE_OFF_LEAK, signal.reasons


# haproxy resolves `dladdr(main, &info)` to name its own binary: `main` is a value there, handed
# to a library function, and a `for (;;)` elsewhere calls a two-argument callback through an
# unknown pointer. main is the entry point, run once: what it calls is not run per iteration.
ENTRY_POINT = """\
#include <stdlib.h>

struct info { const char *name; };
extern int dladdr(const void *addr, struct info *info);
extern int (*next_callback(void))(int, char **);
int read_config(char *buf) { buf[0] = 0; return buf[1] == 'x' ? -1 : 0; }

void load_config(void) {
    char *buf = malloc(4096);
    if (read_config(buf) < 0)
        return;
    free(buf);
}

void serve(void) {
    for (;;) {
        int (*cb)(int, char **) = next_callback();
        cb(0, NULL);
    }
}

int main(int argc, char **argv) {
    struct info self;
    dladdr(main, &self);
    load_config();
    serve();
}
"""


def test_the_entry_point_is_never_a_dispatched_handler(tmp_path: Path) -> None:
    loading = _diagnose(tmp_path, ENTRY_POINT)["load_config"]
    assert loading.kind is FindingKind.ONE_OFF_LEAK, loading.reasons


# A handler that grows a global on every call (a registry no one trims), run by the event loop
# through a table, and the commit 3 h ago that added the growth. ``seen = realloc(seen, …)``
# gives ``seen`` a block again: the commit added a growth, it did not add a release.
DISPATCHED_GROWTH = """\
#include <stdlib.h>

struct handler { const char *name; void (*run)(int); };

static int *seen;
static int nseen;

void remember(int id) {
    seen = realloc(seen, (nseen + 1) * sizeof(int));
    seen[nseen] = id;
    nseen++;
}

static struct handler handlers[] = { { "remember", remember } };

int main(void) {
    for (;;)
        handlers[0].run(1);
}
"""


def test_an_added_growth_in_a_dispatched_handler_is_the_commit_that_introduced_it(
    tmp_path: Path,
) -> None:
    before = DISPATCHED_GROWTH.replace("    seen = realloc(seen, (nseen + 1) * sizeof(int));\n", "")
    steps = [
        Step("import", {"server.c": before}, hours=LONG_AGO),
        Step("remember every id", {"server.c": DISPATCHED_GROWTH}, hours=3),
    ]
    repo, _ = tiny_history(tmp_path / "svc", steps)
    grow = diagnose_tiny(repo).findings[0]
    assert (grow.function, grow.kind) == ("remember", FindingKind.UNBOUNDED_GROWTH), grow
    assert grow.introduced_by is not None and grow.introduced_by.subject == "remember every id"
    assert "for (;;), which dispatches remember() through a function pointer" in grow.reasons[0]
