/* expect: none */
/* The static slot is handed from the producer to the consumer, which releases it through a
   local copy: every block stored there is given back. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *pending;

static void consume(void) {
    char *job = pending;
    pending = NULL;
    free(job);
}

int main(void) {
    for (;;) {
        char *job = malloc(512);
        if (job == NULL) return 1;
        memset(job, 'j', 512);
        pending = job;
        consume();
        usleep(1000);
    }
}
