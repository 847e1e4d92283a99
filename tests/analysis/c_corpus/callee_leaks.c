/* expect: LOOP_LEAK function=parse_request line=9 bytes=256 rate=1 confidence=High */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int sink;

static void parse_request(int n) {
    char *scratch = malloc(256);
    snprintf(scratch, 256, "request %d", n);
    sink += scratch[0];
}

static void loop(void) {
    int n = 0;
    while (1) {
        parse_request(n++);
        sleep(1);
    }
}

int main(void) {
    loop();
}
