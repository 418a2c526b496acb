/* spool_internal — what spool.c and spool_scan.c share; not for other
 * modules (they use spool.h). */
#ifndef POSTERN_QUEUE_SPOOL_INTERNAL_H
#define POSTERN_QUEUE_SPOOL_INTERNAL_H

#include <dirent.h>
#include <stddef.h>

#include "qid.h"

#define STATE_MAX       (16 * 1024 * 1024)   /* sanity bound on state files */

/* The spool's subdirectories, in the order of struct spool's descriptors
 * (tmp, queue, state, quarantine, hold). */
#define SPOOL_NDIRS 5
extern const char *const spool_dir_names[SPOOL_NDIRS];
#define QUAR_TRIES      100

struct spool {
    char *path;
    int dirfd, tmpfd, queuefd, statefd, quarfd, holdfd;
};

struct spool_msg {
    struct spool *sp;
    int fd;
    char qid[QID_LEN + 1];
    char *buf;
    size_t blen, cap;
    size_t content;       /* content bytes written so far */
    int finished;
    int err;              /* sticky errno after a failed write */
};

struct spool_map {
    void *addr;
    size_t len;
};

void spool_close_keep_errno(int fd);
int spool_rename_noreplace(int ofd, const char *oname, int nfd, const char *nname);
DIR *spool_open_dir(int parentfd, const char *name);
int spool_dot_or_dotdot(const char *n);
int spool_quarantine_move(struct spool *sp, int dirfd, const char *name, const char *base);
int spool_read_small_file(int dirfd, const char *name, char **out, size_t *outlen);
/* "<qid>.notice.<parent>": a staged notice (spool_notice_stage); NOTICE_NAME_LEN
 * characters. */
#define NOTICE_NAME_LEN (QID_LEN + 8 + QID_LEN)
void spool_notice_name(char *out, const char *qid, const char *parent);
int spool_notice_parse(const char *name, char *qid, char *parent);

#endif
