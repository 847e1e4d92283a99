/* expect: ONE_OFF_LEAK function=rangeCommand line=21 confidence=Low event=struct */
/* A struct local filled by a parser that allocates its members, released by address on the
   normal path but not when the second argument is bad; the parser's own failure fills nothing. */
#include <stdlib.h>
#include <string.h>
#define C_OK 0
#define C_ERR -1
typedef struct { char *min; char *max; } lexrange;
int parse_range(const char *a, const char *b, lexrange *r) {
    r->min = strdup(a);
    if (!r->min) return C_ERR;
    r->max = strdup(b);
    if (!r->max) { free(r->min); return C_ERR; }
    return C_OK;
}
void free_range(lexrange *r) { free(r->min); free(r->max); }
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
