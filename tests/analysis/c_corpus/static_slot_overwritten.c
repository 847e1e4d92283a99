/* expect: LOOP_LEAK function=remember_error line=12 event=static */
/* A file-static slot takes a fresh copy of every error and nothing ever releases it: each
   request's store loses the block the previous one left there. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

static char *last_error;

static void remember_error(const char *message) {
    last_error = strdup(message);
}

int main(void) {
    char line[256];
    for (;;) {
        snprintf(line, sizeof line, "request failed: %d", rand());
        remember_error(line);
        if (last_error != NULL && last_error[0] == '!') puts(last_error);
        usleep(1000);
    }
}
