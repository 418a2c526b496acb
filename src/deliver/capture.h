/* capture — the `capture` transport: one Maildir per recipient.
 *
 * capture_directory/<mailbox>/{tmp,new,cur}; <mailbox> is the recipient
 * address as given (a quoted local part keeps its quotes), the domain (after
 * the last '@') lower-cased in ASCII, and '/', '%', control bytes (< 0x20,
 * 0x7f) and a leading '.' written as %XX, so an address can never name a
 * path outside capture_directory (no '/', never "." or ".."). Bytes >= 0x80
 * stay as they are: 张三@例子.测试 is a readable directory name. A name
 * longer than 255 bytes (NAME_MAX) becomes <prefix>%~<sha256>, see
 * CAPTURE_MAILBOX_MAX below.
 * Each copy is written to tmp/, fdatasynced, renamed to new/ and new/
 * fsynced; a batch (capture_deliver_batch) fsyncs each new/ once, after
 * all its renames.
 * The file name is deterministic per (queue id, recipient index):
 *   <arrival-sec>.<qid>_<index>.<hostname>
 * so a retry after a crash replaces the same file: exactly once in new/.
 * The tmp/ file is created with O_EXCL|O_NOFOLLOW; an entry already there
 * (left-over, or planted link or FIFO) is unlinked first, never written
 * through. */
#ifndef POSTERN_DELIVER_CAPTURE_H
#define POSTERN_DELIVER_CAPTURE_H

#include <stddef.h>

struct deliver_request;

/* Write the copy of req->rcpt[k] (its file name holds req->id, which must
 * be 1 to 64 ASCII letters and digits, and req->rcpt[k].index). The content
 * is req's (CRLF line ends); the Maildir copy gets LF line ends (CRLF -> LF,
 * a lone CR stays), preceded by these two lines (sender "" gives
 * "Return-Path: <>"):
 *   Return-Path: <sender@example.com>\n
 *   Delivered-To: rcpt@example.com\n
 * hostname NULL or "" means gethostname(); '/' and ':' in it are written as
 * \057 and \072 (Maildir rule).
 * Returns 0, or -1 with a reason (always a temporary failure: disk). */
int capture_deliver(const char *capture_dir, const char *hostname,
                    const struct deliver_request *req, size_t k,
                    char *reason, size_t reasonlen);

/* One copy of a batch: in capture_dir, hostname, req, k (as
 * capture_deliver's); out rc (0: durable in new/) and reason. */
struct capture_item {
    const char *capture_dir;
    const char *hostname;
    const struct deliver_request *req;
    size_t k;
    int rc;
    char reason[256];
};

/* Write n copies: each to tmp/, fdatasync, rename into new/; then one
 * fsync per distinct new/ directory (same device and inode), so a batch
 * costs one data sync per copy plus one directory sync per mailbox
 * instead of two syncs per copy. Every item's rc is set only after its
 * directory's fsync: 0 means the copy survives a crash. */
void capture_deliver_batch(struct capture_item *items, size_t n);

/* A mailbox name is at most CAPTURE_MAILBOX_MAX bytes (Linux NAME_MAX, fixed
 * so that a name does not depend on the file system). Past it the name is
 * <prefix>%~<sha256>: the first CAPTURE_MAILBOX_PREFIX bytes of the encoded
 * name at most (cut before a %XX escape or UTF-8 character that would not
 * fit), "%~", and the SHA-256 of the whole encoded name in 64 lower-case hex
 * digits. "%~" never occurs in a name that fits ('%' always starts %XX), so
 * the two kinds cannot meet, and two long addresses share a directory only
 * if their SHA-256 do. */
#define CAPTURE_MAILBOX_MAX 255
#define CAPTURE_MAILBOX_PREFIX (CAPTURE_MAILBOX_MAX - 2 - 64)

/* Write the mailbox directory name for addr into out; -1 if addr is empty,
 * the name does not fit in outlen (NUL included) or memory runs out. */
int capture_mailbox_name(const char *addr, char *out, size_t outlen);

#endif
