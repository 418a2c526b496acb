/* log — Postfix-style log lines to stderr and, when configured, syslog.
 *   postern[pid]: 4F2A1C3B...: from=<a@x>, size=1234, nrcpt=2
 * Client-supplied text must go through log_sanitize first. */
#ifndef POSTERN_UTIL_LOG_H
#define POSTERN_UTIL_LOG_H

#include <stddef.h>

#if defined(__GNUC__)
#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LOG_PRINTF(a, b)
#endif

/* ident: program name in lines ("postern"); syslog_name: NULL/"" = none. */
void log_init(const char *ident, const char *syslog_name, int verbose);
int log_verbose(void);

void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warning(const char *fmt, ...) LOG_PRINTF(1, 2);
/* warning with ": <strerror(errno)>" appended */
void log_warning_errno(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
/* fatal: log and exit(1); panic: broken invariant, log and abort() */
void log_fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void log_panic(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

/* Copy at most outlen-1 bytes of s (len bytes) into out, replacing control
 * and non-printable bytes with '?', truncating long text with "...". */
char *log_sanitize(const char *s, size_t len, char *out, size_t outlen);

#endif
