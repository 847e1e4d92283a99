/* expect: none */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct job {
    int id;
    char *payload;
};

static volatile int sink;

static void finish(struct job *job) {
    free(job->payload);
    free(job);
}

static void run(struct job *job) {
    sink += job->id;
    finish(job);
}

int main(void) {
    int id = 0;
    while (1) {
        struct job *job = calloc(1, sizeof(struct job));
        if (!job)
            return 1;
        job->id = id++;
        run(job);
        sleep(1);
    }
}
