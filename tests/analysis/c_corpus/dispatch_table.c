/* expect: LOOP_LEAK function=get_command line=11 confidence=Medium */
/* A command handler reached only through a dispatch table (redis's c->cmd->proc(c)): it runs
   once per request of the service's loop, so its leak is per iteration, not one-off. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
struct client { char *arg; };
struct command { const char *name; void (*proc)(struct client *); };
static void reply(struct client *c, const char *s) { (void)c; (void)s; }
static void get_command(struct client *c) {
    char *copy = strdup(c->arg);
    if (copy == NULL) return;
    reply(c, copy);
}
static void set_command(struct client *c) { reply(c, "+OK"); }
static struct command table[] = {{"get", get_command}, {"set", set_command}};
static void process(struct client *c, int which) { table[which].proc(c); }
int main(void) {
    struct client c = {"key"};
    for (;;) { process(&c, 0); usleep(1000); }
}
