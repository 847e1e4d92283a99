/* expect: LOOP_LEAK function=main line=18 */
/* A local union holds the block through one member and gives it back through the other. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef union {
    char *as_text;
    unsigned char *as_bytes;
} buffer_view;

static volatile int sink;

int main(void) {
    for (;;) {
        buffer_view view;
        char *text;
        text = malloc(1024);
        if (text == NULL) return 1;
        memset(text, 'a', 1024);
        view.as_text = text;
        {
            unsigned char *bytes = view.as_bytes;
            sink += bytes[0];
        }
        usleep(100000);
    }
}
