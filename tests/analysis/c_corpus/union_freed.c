/* expect: none */
/* The block stored into one member of a local union is freed through the other member. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

union view {
    char *as_text;
    unsigned char *as_bytes;
};

static volatile int sink;

int main(void) {
    for (;;) {
        union view v;
        char *text = malloc(1024);
        if (text == NULL) return 1;
        memset(text, 'a', 1024);
        v.as_text = text;
        sink += v.as_bytes[0];
        free(v.as_bytes);
        usleep(100000);
    }
}
