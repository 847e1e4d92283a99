/* expect: LOOP_LEAK function=serve line=15 */
/* A pointer that only stands for a local (char **slot = &data): storing through it keeps the
   block in `data`, it does not escape, so the block still leaks every iteration. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int sink;

static void serve(void) {
    for (;;) {
        char *data = NULL;
        char **slot = &data;
        {
            char *fresh = malloc(512);
            if (fresh == NULL) return;
            memset(fresh, 1, 512);
            *slot = fresh;
        }
        sink += data[0];
        usleep(100000);
    }
}

int main(void) {
    serve();
    return 0;
}
