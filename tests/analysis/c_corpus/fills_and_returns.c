/* expect: none */
/* A function that fills the list it is given (bumping its length in a loop) and returns it is
   not a reference-count retain: the list it returns is the caller's, stored in the registry. */
#include <stdlib.h>

struct list { int count; int items[64]; };
static struct list *registry[16];
static int next_slot;

static void push(struct list *l, int v) {
    l->items[l->count % 64] = v;
    l->count++;
}

static struct list *fill(struct list *l, int n) {
    for (int i = 0; i < n; i++) push(l, i);
    return l;
}

static struct list *make(int n) {
    return fill(calloc(1, sizeof(struct list)), n);
}

int main(void) {
    for (;;) {
        free(registry[next_slot % 16]);
        registry[next_slot++ % 16] = make(8);
    }
}
