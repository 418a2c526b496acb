/* logbatch — the log-append ceiling of a disk (bench/README.md): appends batches of RECORDS
 * records of BYTES bytes each to one file preallocated with fallocate and zero-filled, one write per batch and one
 * fdatasync per batch, for SECONDS seconds (or until the file is full), then prints
 *   records=N batches=N elapsed=SECONDS rate=RECORDS_PER_SECOND
 * and removes the file. This is what a journal spool with group commit could reach at most on this
 * disk; it is not a file-per-message spool (no creation, rename or directory fsync).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "logbatch: %s: not a number in %ld..%ld\n", s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: logbatch FILE SECONDS RECORDS_PER_BATCH RECORD_BYTES FILE_MiB\n");
        return 2;
    }
    const char *path = argv[1];
    long secs = num(argv[2], 1, 3600), per = num(argv[3], 1, 10000), bytes = num(argv[4], 16, 1 << 20);
    off_t size = (off_t)num(argv[5], 1, 65536) << 20;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    int rc = 1;
    size_t batch = (size_t)per * (size_t)bytes;
    char *buf = malloc(batch);
    if (!buf) {
        fprintf(stderr, "logbatch: out of memory\n");
        goto out;
    }
    /* Allocated and written (zeros) before the clock starts: with fallocate alone the extents stay
     * "unwritten", and every fdatasync would also commit their conversion (metadata), which a
     * journal spool avoids by recycling segments it has written once. */
    if (posix_fallocate(fd, 0, size) != 0) {
        perror("logbatch: fallocate");
        goto out;
    }
    memset(buf, 0, batch);
    for (off_t o = 0; o + (off_t)batch <= size; o += (off_t)batch)
        if (pwrite(fd, buf, batch, o) != (ssize_t)batch) {
            perror("logbatch: pwrite");
            goto out;
        }
    if (fsync(fd) != 0) {
        perror("logbatch: fsync");
        goto out;
    }
    memset(buf, 'r', batch);
    long batches = 0;
    off_t off = 0;
    double t0 = now(), t1 = t0;
    while (t1 - t0 < (double)secs && off + (off_t)batch <= size) {
        ssize_t n = pwrite(fd, buf, batch, off);
        if (n != (ssize_t)batch) {
            perror("logbatch: pwrite");
            goto out;
        }
        if (fdatasync(fd) != 0) {
            perror("logbatch: fdatasync");
            goto out;
        }
        off += (off_t)batch;
        batches++;
        t1 = now();
    }
    double el = t1 - t0;
    printf("records=%ld batches=%ld elapsed=%.3f rate=%.0f\n", batches * per, batches, el,
           el > 0 ? (double)(batches * per) / el : 0.0);
    rc = 0;
out:
    free(buf);
    close(fd);
    unlink(path);
    return rc;
}
