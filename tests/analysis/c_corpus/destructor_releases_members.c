/* expect: none */
/* The destructor releases every owned member (one through a helper) before the struct. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node {
    char *name;
    int *slots;
};

static struct node *make_node(const char *name) {
    struct node *n = malloc(sizeof(*n));
    if (n == NULL) abort();
    n->name = strdup(name);
    n->slots = calloc(16, sizeof(int));
    return n;
}

static void drop_slots(struct node *n) {
    free(n->slots);
    n->slots = NULL;
}

static void free_node(struct node *n) {
    free(n->name);
    drop_slots(n);
    free(n);
}

int main(void) {
    for (;;) {
        struct node *n = make_node("replica");
        free_node(n);
        usleep(1000);
    }
}
