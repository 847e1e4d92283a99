/* expect: none */
/* Ownership told by a flag: a path-insensitive walk must not call the else path a leak. */
#include <stdlib.h>
#include <string.h>

static char *fill(char *given, size_t n) {
    int owned = 0;
    char *work = given;
    if (!work) {
        owned = 1;
        work = malloc(n);
        if (!work)
            return NULL;
    }
    memset(work, 0, n);
    char *result = strndup(work, n);
    if (owned)
        free(work);
    return result;
}

int main(void) {
    for (;;) {
        free(fill(NULL, 16));
    }
}
