/* expect: none */
/* A function-like macro that stores its argument (redis's dictSetKey): the key is kept by the
   table entry, so the copy made every iteration is not a leak. */
#include <stdlib.h>
#include <string.h>

struct entry { char *key; struct entry *next; };
static struct entry *table;

#define entrySetKey(e, k) do { (e)->key = (k); } while (0)

static void add(const char *name) {
    struct entry *e = malloc(sizeof(*e));
    if (e == NULL) return;
    entrySetKey(e, strdup(name));
    e->next = table;
    table = e;
}

int main(void) {
    for (;;) add("x");
}
