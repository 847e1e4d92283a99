/* expect: ONE_OFF_LEAK function=rangeCommand line=24 confidence=Low event=struct */
/* redis's zslParseLexRange before b660fc2: the parser fills a struct local's members and, when
   it fails, hands the struct to the range's own release itself; it is a filler, not a release,
   so the caller that returns early after a successful parse still leaks the range. */
#include <stdlib.h>
#include <string.h>
#define C_OK 0
#define C_ERR -1
typedef struct { char *min; char *max; } lexrange;
int parse_item(const char *s, char **dest) { *dest = strdup(s); return *dest ? C_OK : C_ERR; }
void free_range(lexrange *r) { free(r->min); free(r->max); }
int parse_range(const char *a, const char *b, lexrange *r) {
    r->min = r->max = NULL;
    if (parse_item(a, &r->min) == C_ERR || parse_item(b, &r->max) == C_ERR) {
        free_range(r);
        return C_ERR;
    }
    return C_OK;
}
int get_limit(const char *s, long *out);
void rangeCommand(const char *a, const char *b, const char *lim) {
    lexrange range;
    long limit;
    if (parse_range(a, b, &range) != C_OK) {
        return;
    }
    if (get_limit(lim, &limit) != C_OK) return;
    free_range(&range);
}
