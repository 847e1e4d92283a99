/*
 * ads-demo-service worker: takes payloads off a queue and processes them.
 *
 * KNOWN ISSUE (on purpose, this is the service ADS is demonstrated on):
 * controller() allocates a payload buffer on every iteration and never
 * frees it, so memory grows until the container is OOMKilled at 64Mi.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAYLOAD_MB 8
#define ITERATION_DELAY_US 250000

static volatile unsigned long checksum;

static void process_work(char *buffer);

static void controller(void) {
    unsigned long iteration = 0;

    while (1) {
        iteration++;
        /* Receive the next payload into a fresh buffer. */
        char *buffer = malloc(PAYLOAD_MB * 1024 * 1024 * sizeof(char));
        process_work(buffer);
        printf("worker: iteration %lu processed %d MiB payload (%lu MiB held)\n",
               iteration, PAYLOAD_MB, iteration * PAYLOAD_MB);
        fflush(stdout);
        usleep(ITERATION_DELAY_US);
    }
}

static void process_work(char *buffer) {
    size_t size = (size_t)PAYLOAD_MB * 1024 * 1024;

    if (buffer == NULL) {
        fprintf(stderr, "worker: allocation of %d MiB failed\n", PAYLOAD_MB);
        exit(1);
    }
    /* Touch every page so the memory is really resident, and read it back. */
    memset(buffer, 'x', size);
    for (size_t i = 0; i < size; i += 4096) {
        checksum += (unsigned char)buffer[i];
    }
}

int main(void) {
    printf("worker: starting, %d MiB per payload every %d ms\n",
           PAYLOAD_MB, ITERATION_DELAY_US / 1000);
    fflush(stdout);
    controller();
    return 0;
}
