/* expect: none */
/* The allocation sits in the right operand of `||` (redis's restoreCommand): on the error
   branch either it never ran or it returned NULL, so that branch holds nothing. */
#include <stdlib.h>
#include <unistd.h>

static volatile int sink;

static int kind_of(int n) { return n % 3 == 0 ? -1 : n; }

static char *load(int kind) { return kind > 1 ? malloc(64) : NULL; }

static void restore(int n) {
    int kind;
    char *obj;
    if ((kind = kind_of(n)) == -1 || (obj = load(kind)) == NULL) {
        sink++;
        return;
    }
    sink += obj[0];
    free(obj);
}

int main(void) {
    for (int n = 0;; n++) {
        restore(n);
        usleep(1000);
    }
}
