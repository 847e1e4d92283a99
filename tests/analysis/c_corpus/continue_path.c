/* expect: LOOP_LEAK function=main line=14 confidence=Medium event=continue */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int next_size(int i) {
    return (i % 7) * 100;
}

int main(void) {
    int i = 0;
    while (1) {
        char *line = malloc(512);
        if (!line)
            return 1;
        int size = next_size(i++);
        if (size == 0)
            continue; /* leaks line */
        snprintf(line, 512, "%d", size);
        puts(line);
        free(line);
        usleep(1000);
    }
}
