/* expect: LOOP_LEAK function=main line=13 confidence=Medium */
/* asprintf allocates through its first argument; one switch case forgets to free. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    int n = 0;
    for (;;) {
        char *message;
        n++;
        if (asprintf(&message, "tick %d", n) < 0)
            continue;
        switch (n % 3) {
        case 0:
            puts(message);
            free(message);
            break;
        case 1:
            fputs(message, stderr);
            break; /* leaks message */
        default:
            free(message);
        }
        sleep(1);
    }
}
