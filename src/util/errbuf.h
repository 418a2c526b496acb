/* errbuf — filling a caller's error buffer (the `char *err, size_t errlen`
 * pair that most functions of postern take): one helper, so that every
 * module truncates and tolerates a missing buffer the same way. */
#ifndef POSTERN_UTIL_ERRBUF_H
#define POSTERN_UTIL_ERRBUF_H

#include <stddef.h>

/* Format into err (errlen bytes, truncated, always NUL-terminated); does
 * nothing when err is NULL or errlen is 0. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void errbuf_set(char *err, size_t errlen, const char *fmt, ...);

#endif
