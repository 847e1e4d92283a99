/* expect: LOOP_LEAK function=handle line=9 confidence=Medium event=return */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int sink;

static int handle(int fd) {
    char *buf = malloc(1024);
    if (buf == NULL)
        return -1;
    if (read(fd, buf, 1024) <= 0)
        return -1; /* leaks buf */
    sink += buf[0];
    free(buf);
    return 0;
}

int main(void) {
    while (1) {
        handle(0);
        sleep(1);
    }
}
