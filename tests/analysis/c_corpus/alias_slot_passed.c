/* expect: none */
/* `slot` is handed to a function that frees through it: it is not a plain alias of `data`,
   so what happens to the block is the callee's business (here: freed). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int sink;

static void drop(char **p) {
    free(*p);
    *p = NULL;
}

int main(void) {
    for (;;) {
        char *data = NULL;
        char **slot = &data;
        *slot = malloc(512);
        if (data == NULL) return 1;
        memset(data, 1, 512);
        sink += data[0];
        drop(slot);
        usleep(100000);
    }
}
