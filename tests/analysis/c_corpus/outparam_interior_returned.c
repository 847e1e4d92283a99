/* expect: none */
/* ziplistDelete(zl, &p): the resized block is returned and *p points inside it. The caller
   owns the block through the return value; *p is a cursor, not a second allocation. */
#include <stdlib.h>
#include <string.h>

struct holder { unsigned char *list; };

static unsigned char *shrink(unsigned char *zl, unsigned char **cursor) {
    size_t offset = (size_t)(*cursor - zl);
    zl = realloc(zl, offset + 16);
    if (zl == NULL) abort();
    *cursor = zl + offset;
    return zl;
}

static void drop_one(struct holder *h) {
    unsigned char *zl = h->list;
    unsigned char *p = zl + 1;
    zl = shrink(zl, &p);
    zl = shrink(zl, &p);
    h->list = zl;
}

int main(void) {
    struct holder h;
    h.list = malloc(64);
    for (;;) drop_one(&h);
}
