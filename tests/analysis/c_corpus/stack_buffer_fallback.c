/* expect: none */
/* A stack buffer with a heap fallback, freed only when the heap was used (sds's
   sdscatvprintf): the heap block is never equal to the stack array, so it is always freed. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
static volatile int sink;
static void emit(const char *fmt, size_t want) {
    char staticbuf[64], *buf = staticbuf;
    size_t buflen = sizeof(staticbuf);
    if (want > buflen) {
        buf = malloc(want);
        if (buf == NULL) return;
        buflen = want;
    }
    snprintf(buf, buflen, "%s", fmt);
    sink += buf[0];
    if (buf != staticbuf) free(buf);
}
int main(void) { for (;;) emit("x", 128); }
