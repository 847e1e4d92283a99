/* expect: none */
/* A header-prefixed string whose constructor returns the address of the header's array member
   (sds's `return (char *)sh->buf;`): the block escapes to the caller, who frees it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct strhdr {
    size_t len;
    char buf[];
};

static char *str_new(const char *init) {
    size_t n = strlen(init);
    struct strhdr *sh = malloc(sizeof(struct strhdr) + n + 1);
    if (sh == NULL) return NULL;
    sh->len = n;
    memcpy(sh->buf, init, n + 1);
    return (char *)sh->buf;
}

static void str_free(char *s) {
    if (s == NULL) return;
    free(s - sizeof(struct strhdr));
}

static volatile int sink;

int main(void) {
    for (;;) {
        char *s = str_new("hello");
        if (s == NULL) return 1;
        sink += s[0];
        str_free(s);
        usleep(1000);
    }
}
