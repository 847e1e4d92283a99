/* expect: none */
/* Out-parameter allocations that land in the caller's memory, not in a local: into a field of
   a parameter (redis's zslParseLexRange: parse(&spec->min)) and through a pointer parameter
   passed on as it is (check(reply, err) where err is the caller's char **). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct range { char *min; char *max; };

static int parse_item(const char *text, char **dest) {
    if (text[0] == '\0') return -1;
    *dest = strdup(text);
    return *dest != NULL ? 0 : -1;
}

static int parse_range(const char *a, const char *b, struct range *spec) {
    spec->min = spec->max = NULL;
    if (parse_item(a, &spec->min) != 0 || parse_item(b, &spec->max) != 0) return -1;
    return 0;
}

static int check(const char *reply, char **err) {
    if (reply[0] == '-') return parse_item(reply + 1, err) == 0 ? 0 : -1;
    return 1;
}

static volatile int sink;

int main(void) {
    for (;;) {
        struct range r;
        char *err = NULL;
        if (parse_range("a", "b", &r) == 0) {
            free(r.min);
            free(r.max);
        }
        if (!check("-ERR", &err)) free(err);
        sink++;
        usleep(1000);
    }
}
