/* expect: LOOP_LEAK function=free_node line=27 */
/* A destructor that releases the struct but not a member the constructor filled (redis's
   freeClusterNode() and n->slaves): every node destroyed leaks its member. */
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

static void drop_name(struct node *n) {
    free(n->name);
}

static void free_node(struct node *n) {
    drop_name(n);
    free(n);
}

int main(void) {
    for (;;) {
        struct node *n = make_node("replica");
        free_node(n);
        usleep(1000);
    }
}
