/* expect: none */
/* A growing buffer kept in a struct local: filled by address, and either released or its
   memory handed out to the caller (detached), so no path loses it. */
#include <stdlib.h>
#include <string.h>

struct buf { char *data; size_t len; };

static void buf_add(struct buf *b, const char *text) {
    size_t n = strlen(text);
    b->data = realloc(b->data, b->len + n + 1);
    if (!b->data) abort();
    memcpy(b->data + b->len, text, n + 1);
    b->len += n;
}

static void buf_release(struct buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static char *buf_detach(struct buf *b) {
    char *out = b->data;
    b->data = NULL;
    b->len = 0;
    return out;
}

char *join(const char *a, const char *b, int keep) {
    struct buf out = { NULL, 0 };
    buf_add(&out, a);
    buf_add(&out, b);
    if (!keep) {
        buf_release(&out);
        return NULL;
    }
    return buf_detach(&out);
}

char *first_key(const char *a) {
    struct buf out = { NULL, 0 };
    char *key;
    buf_add(&out, a);
    if (out.len == 0) {
        buf_release(&out);
        return NULL;
    }
    key = out.data;
    return key;
}
