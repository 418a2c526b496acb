/* owner — mail_owner's directories and the worker's change of user (see
 * owner.h). */
#include "owner.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/config.h"
#include "../queue/spool.h"
#include "../util/fs.h"

/* The queue (spool_own knows its parts) and capture directories, made and
 * owned by mail_owner while we are still root: nothing here follows a
 * symbolic link (postfix set-permissions' checks, done at every start). */
int owner_prepare_dirs(const struct config *cfg, const struct owner *pw, char *err,
                       size_t errlen)
{
    if (spool_own(cfg->queue_directory, pw->uid, pw->gid, err, errlen) < 0)
        return -1;
    int fd = fs_dir_open_safe(cfg->capture_directory, pw->uid, 0700, err, errlen);
    if (fd < 0)
        return -1;
    int rc = fs_own_dir(fd, cfg->capture_directory, pw->uid, pw->gid, 0755, err, errlen);
    close(fd);
    return rc;
}

int owner_lookup(const struct config *cfg, struct owner *o, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(cfg->mail_owner);
    if (!pw) {
        snprintf(err, errlen,
                 "mail_owner \"%s\" does not exist: create it (make install does: "
                 "useradd --system %s) or set mail_owner to an existing unprivileged user",
                 cfg->mail_owner, cfg->mail_owner);
        return -1;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, errlen, "mail_owner \"%s\" has uid 0: use an unprivileged user",
                 cfg->mail_owner);
        return -1;
    }
    o->uid = pw->pw_uid;
    o->gid = pw->pw_gid;
    snprintf(o->name, sizeof o->name, "%s", cfg->mail_owner);
    return 0;
}

int owner_become(const struct owner *o, char *err, size_t errlen)
{
    if (geteuid() != 0)
        return 0;
    if (setgroups(0, NULL) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0) {
        snprintf(err, errlen, "cannot become %s: %s", o->name, strerror(errno));
        return -1;
    }
    return 0;
}
