#include "fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int mkdir_mode(const char *p, mode_t mode)
{
    if (mkdir(p, mode) < 0)
        return errno == EEXIST ? 0 : -1;
    /* the umask must not take what we ask for explicitly */
    return chmod(p, mode);
}

int fs_mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir_mode(buf, 0755);
        *p = '/';
        if (rc < 0)
            return -1;
    }
    return mkdir_mode(buf, mode);
}
