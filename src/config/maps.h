/* maps — Postfix-style lookup tables, read from their text source.
 *
 *   texthash:/path, hash:/path   "key value" lines, exact (case-insensitive)
 *                                keys; hash: reads the text file itself, so
 *                                no postmap step is needed (a path ending in
 *                                ".db" is refused with a clear error)
 *   regexp:/path                 "/pattern/flags result" lines, POSIX ERE
 *   pcre:/path                   same syntax, PCRE2 patterns
 *   cidr:/path                   "network result" lines, first match wins
 *                                (cidr_table(5), see cidr.h)
 * Comments (#) and blank lines are skipped; a line starting with whitespace
 * continues the previous one (Postfix). regexp/pcre results may use $1..$9
 * and ${1}; flags: i (case-insensitive, default on as in Postfix), x.
 * Lookups are pure functions of the loaded table. */
#ifndef POSTERN_CONFIG_MAPS_H
#define POSTERN_CONFIG_MAPS_H

#include <stddef.h>

struct map;

/* map_open flags */
#define MAP_SECRET 0x1   /* refuse a file that is group- or world-readable,
                            and never quote a line of it in an error */

/* Open "type:/path". Errors name the file and line: "/etc/x:3: ...". */
struct map *map_open(const char *spec, int flags, char *err, size_t errlen);
void map_free(struct map *m);

/* The two halves of map_open, for a table read by another process (the
 * privileged parent): map_read_file reads the file of "type:/path" with
 * map_open's checks (MAP_SECRET: mode); map_open_text parses text as the
 * content of that file (errors still name the path and line). */
int map_read_file(const char *spec, int flags, char **text, size_t *len,
                  char *err, size_t errlen);
struct map *map_open_text(const char *spec, int flags, const char *text, size_t len,
                          char *err, size_t errlen);
/* The path of "type:/path" (pointing into spec), or NULL. */
const char *map_spec_path(const char *spec);
const char *map_spec(const struct map *m);

/* Does the table hold exact keys (hash, texthash)? Only such tables get
 * Postfix's partial lookups (parent domains, "user@", "@domain"); pattern
 * tables (regexp, pcre, cidr) see the full key once. */
int map_is_keyed(const struct map *m);

/* Look key up. Returns a malloc'd value, or NULL when not found. For
 * regexp/pcre the first matching pattern wins and $n are substituted. */
char *map_lookup(const struct map *m, const char *key);

/* Address lookup in Postfix order for canonical maps: regexp/pcre get the
 * full address; hash/texthash try "user@domain", then "user" (only when
 * the domain is empty), then "@domain". Returns malloc'd value or NULL. */
char *map_lookup_address(const struct map *m, const char *addr);

#endif
