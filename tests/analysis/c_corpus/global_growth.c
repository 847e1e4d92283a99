/* expect: UNBOUNDED_GROWTH function=record line=16 bytes=16 */
#include <stdlib.h>
#include <unistd.h>

struct sample {
    long when;
    double value;
};

static struct sample *history;
static size_t count;

static void record(long when, double value) {
    struct sample *grown;
    count++;
    grown = history = realloc(history, count * sizeof(struct sample));
    (void)grown;
    history[count - 1].when = when;
    history[count - 1].value = value;
}

int main(void) {
    long t = 0;
    while (1) {
        record(t++, 1.0);
        usleep(10000);
    }
}
