/* expect: UNCERTAIN function=main line=11 confidence=Low */
#include <stdlib.h>
#include <unistd.h>

/* Defined in a third-party library that is not part of this repository. */
extern void queue_submit(void *job);

int main(void) {
    int n = 0;
    while (1) {
        int *job = malloc(sizeof(int));
        *job = n++;
        queue_submit(job);
        sleep(1);
    }
}
