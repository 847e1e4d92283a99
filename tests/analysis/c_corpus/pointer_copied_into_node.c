/* expect: none */
/* A radix tree keeps its values by copying the pointer's bytes into the node
   (memcpy(slot, &value, sizeof value), as redis's rax does): the value is stored, not lost. */
#include <stdlib.h>
#include <string.h>

struct node { size_t size; unsigned char data[64]; };
static struct node root;

static void set_value(struct node *n, void *value) {
    void **slot = (void **)(n->data + n->size);
    memcpy(slot, &value, sizeof(value));
    n->size = (n->size + sizeof(void *)) % 32;
}

int main(void) {
    for (;;) {
        char *item = malloc(32);
        if (item == NULL) return 1;
        set_value(&root, item);
    }
}
