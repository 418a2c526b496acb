/* capture — the `capture` transport: one Maildir per recipient. */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "transport.h"
#include "../util/errbuf.h"
#include "../util/fs.h"

#define CAPTURE_BUFSZ (64 * 1024)

_Static_assert(CAPTURE_MAILBOX_MAX <= NAME_MAX, "a mailbox name must fit a directory entry");

/* The encoded form of addr[i] (at: the last '@'): 1 byte, or 3 for %XX. */
static size_t encode_byte(const char *addr, size_t i, const char *at, char e[3])
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char c = (unsigned char)addr[i];
    if (at && addr + i > at && c >= 'A' && c <= 'Z')
        c = (unsigned char)(c - 'A' + 'a');
    if (c < 0x20 || c == 0x7f || c == '/' || c == '%' || (i == 0 && c == '.')) {
        e[0] = '%';
        e[1] = hex[c >> 4];
        e[2] = hex[c & 0xf];
        return 3;
    }
    e[0] = (char)c;
    return 1;
}

/* SHA-256 of buf as 64 lower-case hex digits and a NUL. */
static int sha256_hex(const char *buf, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -1;
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[64] = '\0';
    return 0;
}

int capture_mailbox_name(const char *addr, char *out, size_t outlen)
{
    if (!addr || !*addr || !out || outlen == 0)
        return -1;
    const char *at = strrchr(addr, '@');     /* a quoted local part may hold '@' */
    size_t full = 0, n = strlen(addr);
    char e[3];
    for (size_t i = 0; i < n; i++)
        full += encode_byte(addr, i, at, e);
    char *enc = malloc(full + 1);
    if (!enc)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = encode_byte(addr, i, at, e);
        memcpy(enc + o, e, k);
        o += k;
    }
    enc[o] = '\0';

    int rc = -1;
    if (full <= CAPTURE_MAILBOX_MAX) {
        if (full < outlen) {
            memcpy(out, enc, full + 1);
            rc = 0;
        }
        free(enc);
        return rc;
    }
    /* Too long for one directory entry: a readable prefix, then "%~" (no
     * short name has it: '%' always starts %XX) and the hash of the whole
     * name, so distinct mailboxes stay distinct. The prefix never ends
     * inside a %XX escape or a UTF-8 sequence. */
    char digest[65];
    size_t keep = 0;
    o = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)addr[i] & 0xc0) != 0x80)
            keep = o;                       /* a character starts here */
        size_t k = encode_byte(addr, i, at, e);
        if (o + k > CAPTURE_MAILBOX_PREFIX)
            break;
        o += k;         /* never reaches the end: full > the prefix */
    }
    if (sha256_hex(enc, full, digest) == 0 &&
        keep + 2 + 64 < outlen) {
        memcpy(out, enc, keep);
        memcpy(out + keep, "%~", 2);
        memcpy(out + keep + 2, digest, 65);
        rc = 0;
    }
    free(enc);
    return rc;
}

/* openat a subdirectory, creating it (0700) if missing. */
static int subdir(int dirfd, const char *name, int *created)
{
    if (mkdirat(dirfd, name, 0700) == 0)
        *created = 1;
    else if (errno != EEXIST)
        return -1;
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

/* Create tmp/<name> as a new file. The name is predictable (qid, index), so
 * an entry already there is never opened: it is a crash's left-over or was
 * planted by someone who can write the mailbox (a hard link to another of
 * our files would be truncated and overwritten, a FIFO would block the
 * writer forever). It is removed (unlinkat does not follow a symlink) and
 * the create tried once more; a second EEXIST is a race, left to the retry.
 * On failure *step says which operation failed ("create", "remove stale"). */
static int create_tmp(int tfd, const char *name, const char **step)
{
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    *step = "create";
    int fd = openat(tfd, name, flags, 0600);
    if (fd >= 0 || errno != EEXIST)
        return fd;
    if (unlinkat(tfd, name, 0) != 0 && errno != ENOENT) {
        *step = "remove stale";
        return -1;
    }
    return openat(tfd, name, flags, 0600);
}

struct wbuf {
    int fd;
    char *p;
    size_t len;
    int err;
};

static void wb_flush(struct wbuf *w)
{
    size_t off = 0;
    while (!w->err && off < w->len) {
        ssize_t r = write(w->fd, w->p + off, w->len - off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            w->err = errno;
        } else if (r == 0) {
            w->err = EIO;
        } else {
            off += (size_t)r;
        }
    }
    w->len = 0;
}

static void wb_add(struct wbuf *w, const char *s, size_t n)
{
    while (n > 0 && !w->err) {
        size_t room = CAPTURE_BUFSZ - w->len;
        size_t k = n < room ? n : room;
        memcpy(w->p + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
        if (w->len == CAPTURE_BUFSZ)
            wb_flush(w);
    }
}

static void wb_str(struct wbuf *w, const char *s)
{
    wb_add(w, s, strlen(s));
}

/* content with every CRLF turned into LF; a lone CR stays */
static void wb_content(struct wbuf *w, const char *c, size_t len)
{
    size_t start = 0;
    for (;;) {
        const char *cr = len > start ? memchr(c + start, '\r', len - start)
                                     : NULL;
        if (!cr) {
            wb_add(w, c + start, len - start);
            return;
        }
        size_t i = (size_t)(cr - c);
        if (i + 1 < len && c[i + 1] == '\n') {
            wb_add(w, c + start, i - start);   /* drop the CR */
            start = i + 1;                     /* the LF is written next */
        } else {
            wb_add(w, c + start, i + 1 - start);
            start = i + 1;
        }
    }
}

/* The id becomes part of a file name: letters and digits only, so it can
 * never hold a '/' or be "." or "..", whatever the queue's id format. */
static int id_ok(const char *id)
{
    size_t n = 0;
    for (; id && id[n]; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'A' && id[n] <= 'Z') ||
              (id[n] >= 'a' && id[n] <= 'z')))
            return 0;
    return n >= 1 && n <= 64;
}

/* Maildir file name: <sec>.<id>_<index>.<host>, host with '/' and ':'
 * written as \057 and \072. */
static int maildir_name(char *out, size_t outlen, const struct deliver_request *req,
                        size_t index, const char *host)
{
    int n = snprintf(out, outlen, "%lld.%s_%zu.", req->arrival_sec, req->id, index);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    size_t o = (size_t)n;
    for (const char *h = host; *h; h++) {
        const char *rep = *h == '/' ? "\\057" : *h == ':' ? "\\072" : NULL;
        size_t k = rep ? 4 : 1;
        if (o + k >= outlen)
            return -1;
        if (rep)
            memcpy(out + o, rep, 4);
        else
            out[o] = *h;
        o += k;
    }
    out[o] = '\0';
    return 0;
}

/* Write the copy of req->rcpt[k] to tmp/, fdatasync it and rename it into
 * new/. 0 with *nfd_out the mailbox's new/ directory, still open: the
 * rename is durable only once the caller has fsynced it; mbox gets the
 * mailbox name (for reasons). -1 with a reason. */
static int copy_place(const char *capture_dir, const char *hostname,
                      const struct deliver_request *req, size_t k, int *nfd_out,
                      char mbox[CAPTURE_MAILBOX_MAX + 1], char *reason, size_t reasonlen)
{
    char name[NAME_MAX + 1], hostbuf[256];
    int cfd = -1, mfd = -1, tfd = -1, nfd = -1, cufd = -1, fd = -1;
    int rc = -1, created = 0, sub_created = 0, in_tmp = 0;
    struct wbuf w = {-1, NULL, 0, 0};

    if (!capture_dir || !*capture_dir || !req || k >= req->nrcpt || !req->rcpt ||
        (!req->content && req->content_len)) {
        errbuf_set(reason, reasonlen, "capture: invalid arguments");
        return -1;
    }
    if (!id_ok(req->id)) {
        errbuf_set(reason, reasonlen, "capture: invalid queue id");
        return -1;
    }
    const char *rcpt = req->rcpt[k].addr;
    const char *content = req->content;
    size_t len = req->content_len;
    if (capture_mailbox_name(rcpt, mbox, CAPTURE_MAILBOX_MAX + 1) != 0) {
        errbuf_set(reason, reasonlen, "capture: no mailbox name for recipient "
                   "(empty address, or out of memory)");
        return -1;
    }
    if (!hostname || !*hostname) {
        if (gethostname(hostbuf, sizeof hostbuf) != 0 || !hostbuf[0])
            snprintf(hostbuf, sizeof hostbuf, "localhost");
        hostbuf[sizeof hostbuf - 1] = '\0';
        hostname = hostbuf;
    }
    if (maildir_name(name, sizeof name, req, req->rcpt[k].index, hostname) != 0) {
        errbuf_set(reason, reasonlen, "capture: file name too long");
        return -1;
    }

    if (fs_mkdir_p_parents(capture_dir, 0700, 0700) != 0) {
        errbuf_set(reason, reasonlen, "capture: mkdir %s: %s", capture_dir,
                   strerror(errno));
        return -1;
    }
    cfd = open(capture_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfd < 0) {
        errbuf_set(reason, reasonlen, "capture: open %s: %s", capture_dir,
                   strerror(errno));
        goto out;
    }
    mfd = subdir(cfd, mbox, &created);
    if (mfd < 0) {
        errbuf_set(reason, reasonlen, "capture: mailbox %s: %s", mbox,
                   strerror(errno));
        goto out;
    }
    tfd = subdir(mfd, "tmp", &sub_created);
    nfd = tfd >= 0 ? subdir(mfd, "new", &sub_created) : -1;
    cufd = nfd >= 0 ? subdir(mfd, "cur", &sub_created) : -1;
    if (cufd < 0) {
        errbuf_set(reason, reasonlen, "capture: mailbox %s: %s", mbox,
                   strerror(errno));
        goto out;
    }
    /* new directories must survive a crash before a file in them counts */
    if ((sub_created && fs_sync(mfd) != 0) ||
        (created && fs_sync(cfd) != 0)) {
        errbuf_set(reason, reasonlen, "capture: fsync mailbox %s: %s", mbox,
                   strerror(errno));
        goto out;
    }

    const char *step = "create";
    fd = create_tmp(tfd, name, &step);
    if (fd < 0) {
        errbuf_set(reason, reasonlen, "capture: %s %s/tmp/%s: %s", step, mbox,
                   name, strerror(errno));
        goto out;
    }
    in_tmp = 1;
    w.fd = fd;
    w.p = malloc(CAPTURE_BUFSZ);
    if (!w.p) {
        errbuf_set(reason, reasonlen, "capture: out of memory");
        goto out;
    }
    wb_str(&w, "Return-Path: <");
    wb_str(&w, req->sender ? req->sender : "");
    wb_str(&w, ">\nDelivered-To: ");
    wb_str(&w, rcpt);
    wb_str(&w, "\n");
    wb_content(&w, content, len);
    wb_flush(&w);
    if (w.err) {
        errbuf_set(reason, reasonlen, "capture: write %s/tmp/%s: %s", mbox,
                   name, strerror(w.err));
        goto out;
    }
    if (fs_sync_data(fd) != 0) {
        errbuf_set(reason, reasonlen, "capture: fsync %s/tmp/%s: %s", mbox,
                   name, strerror(errno));
        goto out;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0 && errno != EINTR) {
        errbuf_set(reason, reasonlen, "capture: close %s/tmp/%s: %s", mbox,
                   name, strerror(errno));
        goto out;
    }
    /* replaces an earlier copy of the same (qid, index): exactly once */
    if (renameat(tfd, name, nfd, name) != 0) {
        errbuf_set(reason, reasonlen, "capture: rename into %s/new: %s", mbox,
                   strerror(errno));
        goto out;
    }
    in_tmp = 0;
    *nfd_out = nfd;         /* the caller fsyncs it, once for the batch */
    nfd = -1;
    rc = 0;

out:
    free(w.p);
    if (fd >= 0)
        close(fd);
    if (in_tmp)
        unlinkat(tfd, name, 0);
    int fds[] = {cufd, nfd, tfd, mfd, cfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

void capture_deliver_batch(struct capture_item *it, size_t n)
{
    struct placed {
        int nfd;            /* new/, open in the first item of its mailbox */
        size_t owner;       /* the item whose nfd stands for this one's */
        dev_t dev;
        ino_t ino;
        char mbox[CAPTURE_MAILBOX_MAX + 1];
    } *pl = calloc(n ? n : 1, sizeof *pl);
    if (!pl) {
        for (size_t i = 0; i < n; i++) {
            it[i].rc = -1;
            errbuf_set(it[i].reason, sizeof it[i].reason, "capture: out of memory");
        }
        return;
    }
    /* every copy written, fdatasynced and renamed into new/ ... */
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        pl[i].nfd = -1;
        pl[i].owner = i;
        it[i].rc = copy_place(it[i].capture_dir, it[i].hostname, it[i].req, it[i].k,
                              &pl[i].nfd, pl[i].mbox, it[i].reason, sizeof it[i].reason);
        if (it[i].rc != 0 || fstat(pl[i].nfd, &st) != 0)
            continue;
        pl[i].dev = st.st_dev;
        pl[i].ino = st.st_ino;
        for (size_t j = 0; j < i; j++)
            if (pl[j].nfd >= 0 && pl[j].dev == st.st_dev && pl[j].ino == st.st_ino) {
                close(pl[i].nfd);
                pl[i].nfd = -1;
                pl[i].owner = j;
                break;
            }
    }
    /* ... then one fsync per new/ directory makes the renames durable; a
     * copy counts only after its directory's */
    for (size_t i = 0; i < n; i++) {
        if (pl[i].nfd < 0)
            continue;
        if (fs_sync(pl[i].nfd) != 0) {
            int e = errno;
            for (size_t j = i; j < n; j++)
                if (it[j].rc == 0 && pl[j].owner == i) {
                    it[j].rc = -1;
                    errbuf_set(it[j].reason, sizeof it[j].reason,
                               "capture: fsync %s/new: %s", pl[i].mbox, strerror(e));
                }
        }
        close(pl[i].nfd);
    }
    free(pl);
}

int capture_deliver(const char *capture_dir, const char *hostname,
                    const struct deliver_request *req, size_t k,
                    char *reason, size_t reasonlen)
{
    struct capture_item it = { capture_dir, hostname, req, k, -1, "" };
    capture_deliver_batch(&it, 1);
    if (it.rc != 0)
        errbuf_set(reason, reasonlen, "%s", it.reason);
    return it.rc;
}
