/* fs — small file-system helpers. */
#ifndef POSTERN_UTIL_FS_H
#define POSTERN_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: missing parents get mode 0755 (so an unprivileged mail_owner
 * can reach the leaf), the leaf gets `mode`. Existing directories are left
 * as they are. 0 or -1 with errno. */
int fs_mkdir_p(const char *path, mode_t mode);

/* fs_mkdir_p, and the leaf set to mode when it already existed and is
 * ours (a directory of sockets: its mode is its access control). 0, or -1
 * with errno and a message in err. */
int fs_mkdir_p_mode(const char *path, mode_t mode, char *err, size_t errlen);

/* fs_mkdir_p with the mode of the parents it creates given too (0700 for
 * a tree only mail_owner may enter). */
int fs_mkdir_p_parents(const char *path, mode_t parents, mode_t mode);

/* write(2) all n bytes of p, again after EINTR. 0, or -1 with errno (EIO
 * when write makes no progress). */
int fs_write_all(int fd, const void *p, size_t n);

/* fsync(2) / fdatasync(2), again after EINTR: 0 or -1 with errno. On a
 * directory, fs_sync makes the renames and creations in it durable. */
int fs_sync(int fd);
int fs_sync_data(int fd);

/* Bytes an unprivileged writer may still use in the file system of path
 * (statvfs: f_bavail * f_frsize) into *free_bytes; 0, or -1 with errno.
 * *readonly: 1 when that file system is mounted read-only. */
int fs_free_bytes(const char *path, unsigned long long *free_bytes, int *readonly);

/* fs_sync of the directory that holds path (after a rename into it). */
int fs_sync_parent(const char *path);

/* Open the directory at path as root without trusting whoever owns parts
 * of it: every component is opened relative to the one before with
 * O_NOFOLLOW (a symbolic link anywhere is refused, so a swapped link can
 * never make root chown or write elsewhere), and must be owned by root or
 * by `owner`. Missing components are created: parents 0755, the last
 * `mode`. Returns an O_DIRECTORY descriptor, or -1 with a message in err
 * that names the component and the fix. */
int fs_dir_open_safe(const char *path, uid_t owner, mode_t mode, char *err, size_t errlen);

/* Open the existing subdirectory `name` of dirfd the same way (ENOENT:
 * returns -1 with errno ENOENT and err empty). */
int fs_subdir_open_safe(int dirfd, const char *dirpath, const char *name, uid_t owner,
                        char *err, size_t errlen);

/* Give the directory open at fd (shown in messages as `shown`) to uid:gid
 * through the descriptor (never by name), and tighten its mode: only the
 * `keep` bits of the old mode survive, owner rwx is added (group/other
 * write never survives unless kept). 0, or -1 with err. */
int fs_own_dir(int fd, const char *shown, uid_t uid, gid_t gid, mode_t keep, char *err,
               size_t errlen);

/* A new file in dir holding len bytes of data with mode, synced, under a
 * temporary name (".postern-XXXXXX", made with O_EXCL and mode 0600 from
 * the start, so a secret is never readable by others on the way), written
 * into tmp (tmplen bytes). 0, or -1 with err (nothing left behind). Put it
 * in place with fs_rename_new. */
int fs_write_temp(const char *dir, const void *data, size_t len, mode_t mode, char *tmp,
                  size_t tmplen, char *err, size_t errlen);

/* Rename tmp to path; over an existing file only when replace is set
 * (else EEXIST: "PATH exists; use -f to replace it"). On failure tmp is
 * removed. 0, or -1 with err. */
int fs_rename_new(const char *tmp, const char *path, int replace, char *err, size_t errlen);

/* fs_read_file flags */
#define FS_READ_SECRET 0x1  /* a private key: refused unless owned by root (or
                             * by us) and unreadable by group and others */

/* Read the regular file at path (at most max bytes) into a malloc'd,
 * NUL-terminated *text of *len bytes. 0, or -1 with a message in err that
 * names the file and the fix. Links are followed: the checks apply to the
 * file itself (certificates are often links, as Let's Encrypt's). */
int fs_read_file(const char *path, int flags, size_t max, char **text, size_t *len,
                 char *err, size_t errlen);

#endif
