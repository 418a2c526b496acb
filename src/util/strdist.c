/* strdist — edit distance for "did you mean" hints. See strdist.h. */
#include "strdist.h"

#include <stdint.h>
#include <string.h>

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

size_t strdist_edit(const char *a, size_t la, const char *b, size_t lb)
{
    size_t row[STRDIST_MAX_LEN + 1];
    if (la > STRDIST_MAX_LEN || lb > STRDIST_MAX_LEN)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = fold((unsigned char)a[i - 1]) != fold((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *strdist_closest(const char *s, const char *const *names, size_t n,
                            size_t max_dist)
{
    const char *best = NULL;
    size_t best_d = max_dist + 1;
    if (!s || !*s)
        return NULL;
    size_t la = strlen(s);
    for (size_t i = 0; i < n; i++) {
        size_t lb = strlen(names[i]);
        if ((la > lb ? la - lb : lb - la) > max_dist)
            continue;           /* too far apart to be a typo */
        size_t d = strdist_edit(s, la, names[i], lb);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}
