/* expect: none */
#include <stdlib.h>
#include <unistd.h>

struct node {
    struct node *next;
    int value;
};

struct list {
    struct node *head;
    int length;
};

static void push(struct list *list, struct node *node) {
    node->next = list->head;
    list->head = node;
    list->length++;
}

static struct node *pop(struct list *list) {
    struct node *node = list->head;
    if (node)
        list->head = node->next;
    return node;
}

int main(void) {
    struct list queue = {0};
    while (1) {
        struct node *node = malloc(sizeof(struct node));
        if (!node)
            break;
        node->value = queue.length;
        push(&queue, node);
        free(pop(&queue));
        usleep(1000);
    }
    return 0;
}
