/* log — Postfix-style log lines to stderr and, when configured, syslog.
 *   postern[pid]: 4F2A1C3B...: from=<a@x>, size=1234, nrcpt=2
 * Text that did not come from postern itself (client commands, HELO,
 * addresses, remote replies) must go through log_sanitize, or log_addr for
 * a from=<>/to=<>/orig_to=<>/helo=<> field, first: one escaping rule for
 * every log line (docs/logging.md). */
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

/* Copy s (len bytes) into out as log-safe text: printable ASCII (0x20-0x7e)
 * is kept, every other byte and the backslash itself become "\xNN" (two
 * lower-case hex digits), so no control, C1 or 8-bit byte reaches a log and
 * the original bytes can be read back. Text that does not fit in outlen-1
 * bytes is cut (never inside an escape) and ends in "...". Returns out. */
char *log_sanitize(const char *s, size_t len, char *out, size_t outlen);

/* Room for any address of a legal length in log_addr's form. */
#define LOG_ADDR_SIZE 1040

/* An address or HELO name for a "from=<...>", "to=<...>", "orig_to=<...>"
 * or "helo=<...>" field: as log_sanitize, and the space, '<', '>' and ','
 * also become \xNN, so a quoted local part cannot end the field early or
 * start a forged one ("a>, status=sent"). NULL is written as "". */
char *log_addr(const char *addr, char *out, size_t outlen);

#endif
