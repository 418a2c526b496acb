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
#include "../util/fs.h"

/* Give one directory to mail_owner as root: opened without following a
 * link, owned by root or mail_owner all the way down, then fchown'd and
 * its mode tightened (`keep` bits of the old mode survive: group/other
 * write never does). */
static int own_dir(int fd, const char *shown, const struct owner *pw, mode_t keep,
                   char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || fchown(fd, pw->uid, pw->gid) < 0 ||
        fchmod(fd, (st.st_mode & keep & 07777) | 0700) < 0) {
        snprintf(err, errlen, "chown/chmod %.900s to %s: %s", shown, pw->name,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* The queue and capture directories, made and owned by mail_owner while we
 * are still root: nothing here follows a symbolic link (postfix
 * set-permissions' checks, done at every start). */
int owner_prepare_dirs(const struct config *cfg, const struct owner *pw, char *err,
                       size_t errlen)
{
    static const char *const sub[] = { "tmp", "queue", "state", "quarantine", "hold" };
    int fd = fs_dir_open_safe(cfg->queue_directory, pw->uid, 0700, err, errlen);
    /* queue_directory keeps o+x when it holds the submit socket */
    if (fd < 0 || own_dir(fd, cfg->queue_directory, pw, 0711, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        int sfd = fs_subdir_open_safe(fd, cfg->queue_directory, sub[i], pw->uid, err,
                                      errlen);
        if (sfd < 0 && errno == ENOENT && !err[0])
            continue;               /* spool_open makes it, as mail_owner */
        if (sfd < 0)
            goto fail;
        char shown[4096];
        snprintf(shown, sizeof shown, "%s/%s", cfg->queue_directory, sub[i]);
        int rc = own_dir(sfd, shown, pw, 0700, err, errlen);
        close(sfd);
        if (rc < 0)
            goto fail;
    }
    close(fd);
    fd = fs_dir_open_safe(cfg->capture_directory, pw->uid, 0700, err, errlen);
    if (fd < 0 || own_dir(fd, cfg->capture_directory, pw, 0755, err, errlen) < 0)
        goto fail;
    close(fd);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
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
