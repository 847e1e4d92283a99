/* expect: none */
/* Handed to a library call, then freed: the library cannot have kept it. */
#include <stdlib.h>
#include <unistd.h>

extern int library_fill(void *buffer, int size);

int main(void) {
    while (1) {
        void *buffer = malloc(256);
        if (!buffer)
            return 1;
        library_fill(buffer, 256);
        free(buffer);
        sleep(1);
    }
}
