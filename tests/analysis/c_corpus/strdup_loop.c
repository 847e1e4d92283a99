/* expect: LOOP_LEAK function=main line=11 bytes=6 rate=2 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int running = 1;

int main(void) {
    const char *name;
    while (running) {
        char *copy = strdup("hello");
        name = copy;
        printf("%s\n", name);
        usleep(500000);
    }
    return 0;
}
