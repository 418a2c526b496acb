/* term — text from the network made harmless for a terminal.
 *
 * A queued message or a remote server's reply can carry escape sequences
 * (ESC [ ..., OSC 52 clipboard writes, title changes, C1 CSI); printed raw,
 * they would act on the admin's terminal. */
#ifndef POSTERN_UTIL_TERM_H
#define POSTERN_UTIL_TERM_H

#include <stddef.h>
#include <stdio.h>

/* Write s (len bytes) to fp, escaping every byte a terminal could take as a
 * control:
 *   - C0 controls other than TAB and LF, and DEL, in caret notation as
 *     `cat -v` shows them: ESC as ^[, CR as ^M, NUL as ^@, DEL as ^?;
 *   - bytes that are not part of valid UTF-8, and the UTF-8 encodings of
 *     the C1 controls U+0080..U+009F, as \xNN (upper-case hex) per byte.
 * Valid UTF-8 text passes unchanged, so Chinese stays readable. The output
 * is for reading, not a reversible encoding. 0, or -1 on a write error. */
int term_write_escaped(FILE *fp, const char *s, size_t len);

#endif
