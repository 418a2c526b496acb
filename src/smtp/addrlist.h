/* addrlist — RFC 5322 address lists as people write them, for
 * `sendmail -t`, recipient arguments and the session's From: check. Pure. */
#ifndef POSTERN_SMTP_ADDRLIST_H
#define POSTERN_SMTP_ADDRLIST_H

#include <stddef.h>

/* Call cb once per address in s[0..len), in order: "a@b, Name <c@d>,
 * e@f (comment), group: g@h, i@j;, \"quoted, name\" <k@l>". Display names,
 * comments, group names and folding white space are dropped; the address
 * inside < > wins; quoted local parts keep their quotes; a source route
 * (<@a,@b:u@c>) keeps only the mailbox; empty elements are skipped.
 * Returns the number of addresses, or -1 if out of memory. */
int addrlist_parse(const char *s, size_t len,
                   void (*cb)(const char *addr, size_t n, void *arg), void *arg);

#endif
