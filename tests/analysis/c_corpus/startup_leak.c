/* expect: ONE_OFF_LEAK function=load_config line=11 */
/* expect: LOOP_LEAK function=main line=24 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int verbose;

static void load_config(void) {
    char *text = malloc(64);
    strcpy(text, "verbose=1");
    verbose = text[8] == '1';
}

static void tick(char *p) {
    p[0] = 1;
}

int main(void) {
    load_config();
    for (;;) {
        if (verbose) {
            char *frame = malloc(128);
            tick(frame);
        }
        sleep(1);
    }
}
