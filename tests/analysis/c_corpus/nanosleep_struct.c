/* expect: LOOP_LEAK function=collect line=22 bytes=2400 rate=20 confidence=High */
/* calloc of the repo's own struct (LP64 layout: 24 bytes) in a do-while(1) paced by nanosleep. */
#include <stdlib.h>
#include <time.h>

#define BATCH 100

struct reading {
    int sensor;
    double value;
    char *label;
};

static volatile double total;

static void collect(void) {
    struct timespec pause = {0, 50000000};
    struct reading *batch;
    int i;

    do {
        batch = calloc(BATCH, sizeof(struct reading));
        for (i = 0; i < BATCH; i++)
            total += batch[i].value;
        nanosleep(&pause, NULL);
    } while (1);
}

int main(void) {
    collect();
}
