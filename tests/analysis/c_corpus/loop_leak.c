/* expect: LOOP_LEAK function=serve line=12 bytes=4096 rate=10 confidence=High */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 4096

static volatile int sink;

static void serve(void) {
    for (;;) {
        char *chunk = malloc(CHUNK);
        memset(chunk, 1, CHUNK);
        sink += chunk[0];
        usleep(100000);
    }
}

int main(void) {
    serve();
    return 0;
}
