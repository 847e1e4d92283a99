/* expect: LOOP_LEAK function=main line=27 bytes=2048 wrapper=xmalloc wrapper=new_buffer */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int sink;

void *xmalloc(size_t size) {
    void *p = malloc(size);
    if (p == NULL) {
        perror("xmalloc");
        abort();
    }
    return p;
}

char *new_buffer(size_t n) {
    char *b = xmalloc(n * 2);
    memset(b, 0, n * 2);
    return b;
}

int main(void) {
    int i = 0;
    while (1) {
        char *buffer = new_buffer(1024);
        sink += buffer[i++ % 2048];
        usleep(1000);
    }
}
