/* expect: none */
/* The block stored through `*slot` is read back through another alias and freed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int sink;

int main(void) {
    for (;;) {
        char *data = NULL;
        char **in = &data;
        char **out = &data;
        {
            char *fresh = malloc(512);
            if (fresh == NULL) return 1;
            memset(fresh, 1, 512);
            *in = fresh;
        }
        {
            char *back = *out;
            sink += back[0];
            free(back);
        }
        usleep(100000);
    }
}
