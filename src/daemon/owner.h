/* owner — mail_owner, the user the worker runs as when postern is started
 * as root: looked up, given the queue and capture directories while we are
 * still root (nothing followed through a symbolic link), and become for
 * good by the worker as its first act. */
#ifndef POSTERN_DAEMON_OWNER_H
#define POSTERN_DAEMON_OWNER_H

#include <stddef.h>
#include <sys/types.h>

struct config;

struct owner {
    uid_t uid;
    gid_t gid;
    char name[64];
};

/* mail_owner's uid and gid; uid 0 is refused. 0, or -1 with err. */
int owner_lookup(const struct config *cfg, struct owner *o, char *err, size_t errlen);

/* As root: make queue_directory (its spool included) and
 * capture_directory o's, walking every component with O_NOFOLLOW. 0, or -1
 * with err naming the directory and the fix. */
int owner_prepare_dirs(const struct config *cfg, const struct owner *o, char *err,
                       size_t errlen);

/* The worker started as root becomes o for good (groups, gid, uid); a
 * no-op when not root. 0, or -1 with err. */
int owner_become(const struct owner *o, char *err, size_t errlen);

#endif
