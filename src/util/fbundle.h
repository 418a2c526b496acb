/* fbundle — a set of named files held in memory, and its wire codec.
 *
 * The privileged parent of `postern serve` reads the configuration and
 * every table it names (secret ones included) as root, and hands the bytes
 * to the unprivileged worker in one bundle; the worker parses them as if
 * it had read the files itself. A bundle is either a recorder (fbundle_read
 * reads the file from disk and keeps a copy) or a replay (fbundle_read
 * returns the copy; a file that is not in the bundle is an error).
 *
 * Wire form, host byte order (both ends are the same binary on the same
 * machine): repeated { u32 path length, path, u32 data length, data }.
 * Decoding checks every length against what is left. Contents are wiped
 * from memory when the bundle is freed: they may be passwords. */
#ifndef POSTERN_UTIL_FBUNDLE_H
#define POSTERN_UTIL_FBUNDLE_H

#include <stddef.h>

struct sbuf;
struct fbundle;

/* Upper bound of one encoded bundle: tables are text files, a bundle
 * larger than this is a mistake, not a configuration. */
#define FBUNDLE_MAX (64u * 1024 * 1024)

struct fbundle *fbundle_new_recorder(void);
void fbundle_free(struct fbundle *fb);

/* Store a copy of len bytes under path (replacing an earlier copy). 0, or
 * -1 when out of memory. */
int fbundle_put(struct fbundle *fb, const char *path, const char *data, size_t len);

/* The stored bytes of path (NUL-terminated; may also hold NULs), or NULL. */
const char *fbundle_get(const struct fbundle *fb, const char *path, size_t *len);

/* 1 when the bundle was decoded from the wire (files come from it only). */
int fbundle_is_replay(const struct fbundle *fb);

/* Append the wire form to out. 0, or -1 when out of memory. */
int fbundle_encode(const struct fbundle *fb, struct sbuf *out);

/* Parse a wire form; NULL with err on a malformed or truncated buffer. */
struct fbundle *fbundle_decode(const char *buf, size_t len, char *err, size_t errlen);

#endif
