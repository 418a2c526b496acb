/* cidr — Postfix cidr_table(5): lookup tables keyed by IP network.
 *
 *   192.0.2.0/24        REJECT      first match wins, in file order
 *   2001:db8::/32       OK          IPv6 the same way ([2001:db8::]/32 too)
 *   192.0.2.7           DUNNO       an address alone is a /32 or /128
 *   !10.0.0.0/8         REJECT      matches what is NOT in the network
 *   if 10.0.0.0/8                   the lines up to the matching endif are
 *   10.1.0.0/16         OK          tried only for keys inside 10.0.0.0/8
 *   endif                           (if !net ... endif: only outside; nests)
 *
 * A key that is no IP address matches nothing; an IPv4-mapped IPv6 key
 * ("::ffff:192.0.2.1") is matched as IPv4. Unlike Postfix, which logs and
 * skips a bad line, every malformed line is an error: a table that quietly
 * lost a REJECT is worse than one that does not load.
 *
 * This file only parses logical lines (the map loader strips comments and
 * joins continuation lines) and looks keys up: no I/O, no logging. */
#ifndef POSTERN_POLICY_CIDR_H
#define POSTERN_POLICY_CIDR_H

#include <stddef.h>

#define CIDR_MAX_NESTING 64     /* if..endif depth */

struct cidr_table;

struct cidr_table *cidr_table_new(void);

/* Add one logical line (no comment, no leading blank, trailing blanks
 * removed) that is line number lineno of its file. 0, or -1 with what is
 * wrong and how to fix it in err (the caller adds "FILE:LINE: "). */
int cidr_table_add_line(struct cidr_table *t, const char *line, long lineno,
                        char *err, size_t errlen);

/* After the last line: -1 with err (and *lineno set to the line of the
 * if) when an if has no endif. */
int cidr_table_finish(struct cidr_table *t, long *lineno, char *err, size_t errlen);

/* The result of the first line that matches key, or NULL. Points into the
 * table. */
const char *cidr_table_lookup(const struct cidr_table *t, const char *key);

void cidr_table_free(struct cidr_table *t);

#endif
