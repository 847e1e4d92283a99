/* expect: none */
/* The static slot is filled once, under its own null check (lazy initialisation): the later
   iterations reuse it, nothing is lost. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *scratch;

static char *scratch_buffer(void) {
    if (scratch == NULL) {
        scratch = malloc(4096);
    }
    return scratch;
}

int main(void) {
    for (;;) {
        char *buffer = scratch_buffer();
        if (buffer == NULL) return 1;
        memset(buffer, 0, 4096);
        usleep(1000);
    }
}
