/* expect: none */
/* The node is linked into three lists by a counted loop: it escapes on its first iteration. */
#include <stdlib.h>

struct node {
    struct node *next[3];
};

static void link_node(struct node **lists) {
    struct node *n = malloc(sizeof(struct node));
    if (!n)
        return;
    for (int i = 0; i < 3; i++) {
        n->next[i] = lists[i];
        lists[i] = n;
    }
}

int main(void) {
    struct node *lists[3] = {0};
    link_node(lists);
    return lists[0] != 0;
}
