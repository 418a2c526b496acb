/* strdist — how far apart two short strings are, for "did you mean"
 * hints (parameter names, restriction names). */
#ifndef POSTERN_UTIL_STRDIST_H
#define POSTERN_UTIL_STRDIST_H

#include <stddef.h>

#define STRDIST_MAX_LEN 128     /* longer strings are never compared */

/* Case-insensitive (ASCII) Levenshtein distance between a (la bytes) and
 * b (lb bytes). When either is longer than STRDIST_MAX_LEN the result is
 * SIZE_MAX: such a string is no typo of a known name. */
size_t strdist_edit(const char *a, size_t la, const char *b, size_t lb);

/* The entry of names (n of them) closest to s within max_dist edits, or
 * NULL. The first of equally close names wins. */
const char *strdist_closest(const char *s, const char *const *names, size_t n,
                            size_t max_dist);

#endif
