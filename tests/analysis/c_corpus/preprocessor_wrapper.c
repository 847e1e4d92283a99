/* expect: LOOP_LEAK function=main line=30 bytes=72 wrapper=tracked_alloc */
/* A redis-style allocator wrapper whose body is split by #ifdef: both branches return it. */
#include <stdlib.h>
#include <unistd.h>

#define PREFIX_SIZE 8

static size_t used;

void *tracked_alloc(size_t size) {
    void *ptr = malloc(size + PREFIX_SIZE);
    if (!ptr)
        return NULL;
#ifdef HAVE_MALLOC_SIZE
    used += size;
    return ptr;
#else
    *((size_t *)ptr) = size;
    used += size + PREFIX_SIZE;
    return (char *)ptr + PREFIX_SIZE;
#endif
}

static volatile char sink;

int main(void) {
    while (1) {
        char *record;
        sink = 0;
        record = tracked_alloc(64);
        record[0] = 1;
        sink += record[0];
        sleep(2);
    }
}
