/* expect: none */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int sink;

int main(void) {
    char *scratch = NULL;
    while (1) {
        free(scratch);
        scratch = malloc(100);
        if (!scratch)
            continue;
        memset(scratch, 0, 100);
        sink += scratch[3];
        sleep(1);
    }
}
