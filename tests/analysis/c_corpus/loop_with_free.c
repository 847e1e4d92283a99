/* expect: none */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int sink;

int main(void) {
    while (1) {
        char *chunk = malloc(4096);
        if (chunk == NULL)
            continue;
        memset(chunk, 1, 4096);
        sink += chunk[0];
        free(chunk);
        usleep(100000);
    }
}
