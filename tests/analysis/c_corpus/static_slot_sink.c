/* expect: ONE_OFF_LEAK function=produce line=16 confidence=Low event=static */
/* The block goes to a file-static slot that its reader only looks at: stored once it stays
   reachable until exit (Low), but nothing would ever release it. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

static char *handoff;

static void report(void) {
    char *text = handoff;
    if (text != NULL) puts(text);
}

static void produce(void) {
    char *text = malloc(64);
    if (text == NULL) exit(1);
    strcpy(text, "ready");
    handoff = text;
    report();
}

int main(void) {
    produce();
    return 0;
}
