/* users — the users file of smtpd_sasl_type = postern (smtpd_sasl_users):
 *
 *   # comment
 *   app1:$y$j9T$...
 *   legacy:$2y$05$...:disabled
 *
 * One account a line, name:hash[:options]. The hash is anything libcrypt
 * verifies from a modern family: yescrypt ($y$, what `postern passwd`
 * writes), bcrypt ($2b$, $2y$ as `htpasswd -B` writes, $2a$), sha512-crypt
 * ($6$), sha256-crypt ($5$), scrypt ($7$), gost-yescrypt ($gy$). Options:
 * a comma-separated list; `disabled` refuses the account but keeps it;
 * `rate=N/W` lets the account send N messages per window W (s, m, h or d:
 * rate=200/1h), counted by the SMTP server (policy/anvil.h).
 * Names: 1 to 255 bytes, no ':' or control byte, no blank at either end.
 * Blank lines and lines starting with '#' are comments.
 *
 * A parsed table is immutable: worker threads verify against it while the
 * event loop holds it. Verification is crypt_rn (tens of milliseconds for
 * yescrypt, by design): never on the event loop. */
#ifndef POSTERN_AUTH_USERS_H
#define POSTERN_AUTH_USERS_H

#include <stddef.h>

#define USERS_LINE_MAX 4096
#define USERS_FILE_MAX (16u * 1024 * 1024)
#define USERS_HASH_MAX 256          /* longer is no crypt(3) hash */

struct users;

/* Parse len bytes of text (the file `file`, for messages). NULL with the
 * first error in err, "FILE:LINE: what is wrong; how to fix it" (a hash
 * is never quoted, only its family). */
struct users *users_parse(const char *text, size_t len, const char *file, char *err,
                          size_t errlen);
void users_free(struct users *u);

/* Read the users file. Refuses a symbolic link and anything but a regular
 * file; with secret nonzero also a file that group or others may read or
 * write (it holds password hashes: chmod 600). 0, or -1 with err. *text is
 * malloc'd and NUL-terminated. */
int users_read_file(const char *path, int secret, char **text, size_t *len, char *err,
                    size_t errlen);

/* The same on an open descriptor (from its start; path names it in
 * messages), for `postern passwd`, which reads the file it has locked. */
int users_read_fd(int fd, const char *path, int secret, char **text, size_t *len, char *err,
                  size_t errlen);

/* Accounts, and each name with its options ("" when none), in file order. */
size_t users_count(const struct users *u);
void users_each(const struct users *u,
                void (*fn)(void *arg, const char *name, const char *options), void *arg);

enum users_result { USERS_OK, USERS_FAIL, USERS_ERROR };

/* Check pass for name. An unknown or disabled name costs the same crypt
 * as a wrong password (no timing difference to probe names with); the
 * result is compared in constant time. USERS_ERROR: libcrypt failed (out
 * of memory). why (may be NULL) gets text for the log, never a secret:
 * "unknown user", "wrong password", "account disabled". Blocking. */
enum users_result users_verify(const struct users *u, const char *name, const char *pass,
                               char *why, size_t whylen);

/* Parse the value of rate= (n bytes: "200/1h", "30/90s", "5/m"): NULL, or
 * what is wrong and how to write it. Pure. */
const char *users_rate_parse(const char *s, size_t n, unsigned long *count,
                             long long *window_ms);
/* "200/1h": the largest unit that divides the window. */
void users_rate_format(unsigned long count, long long window_ms, char *out, size_t outlen);
/* name's rate= (1), or 0 when it has none (or no line). */
int users_rate(const struct users *u, const char *name, unsigned long *count,
               long long *window_ms);

/* A hash of pass for a new entry: prefix "$y$" (yescrypt) or another
 * crypt_gensalt prefix, default cost, random salt. 0, or -1 (errno). */
int users_hash(const char *pass, const char *prefix, char *out, size_t outlen);

/* NULL when name can be an account, else why not. */
const char *users_name_problem(const char *name);

/* The text with the account line of name replaced by line (no LF), or
 * appended when name has none; line NULL removes it. Every other line,
 * comments included, is kept byte for byte. *found: name had a line.
 * Returns malloc'd text (length in *outlen), NULL when out of memory. */
char *users_edit(const char *text, size_t len, const char *name, const char *line,
                 int *found, size_t *outlen);

#endif
