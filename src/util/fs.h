/* fs — small file-system helpers. */
#ifndef POSTERN_UTIL_FS_H
#define POSTERN_UTIL_FS_H

#include <sys/types.h>

/* mkdir -p: missing parents get mode 0755 (so an unprivileged mail_owner
 * can reach the leaf), the leaf gets `mode`. Existing directories are left
 * as they are. 0 or -1 with errno. */
int fs_mkdir_p(const char *path, mode_t mode);

#endif
