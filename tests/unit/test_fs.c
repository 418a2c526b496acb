/* Unit tests for util/fs's small helpers: mkdir -p with the parents' mode,
 * write-all and the fsync wrappers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_mkdir_p_parents(void **state)
{
    (void)state;
    char dir[] = "/tmp/postern-fs-XXXXXX", p[128];
    assert_non_null(mkdtemp(dir));
    mode_t old = umask(022);
    snprintf(p, sizeof p, "%s/a/b/c/", dir);
    assert_int_equal(fs_mkdir_p_parents(p, 0700, 0750), 0);
    assert_int_equal(fs_mkdir_p_parents(p, 0700, 0750), 0);     /* exists: fine */
    snprintf(p, sizeof p, "%s/a", dir);
    assert_int_equal(mode_of(p), 0700);
    snprintf(p, sizeof p, "%s/a/b/c", dir);
    assert_int_equal(mode_of(p), 0750);
    snprintf(p, sizeof p, "%s/x/y", dir);                       /* fs_mkdir_p: 0755 */
    assert_int_equal(fs_mkdir_p(p, 0700), 0);
    snprintf(p, sizeof p, "%s/x", dir);
    assert_int_equal(mode_of(p), 0755);
    umask(old);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_write_and_sync(void **state)
{
    (void)state;
    char path[] = "/tmp/postern-fs-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static char big[300000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(fs_write_all(fd, big, sizeof big), 0);
    assert_int_equal(fs_write_all(fd, "", 0), 0);
    assert_int_equal(fs_sync(fd), 0);
    assert_int_equal(fs_sync_data(fd), 0);
    assert_int_equal(fs_sync_parent(path), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, sizeof big);
    close(fd);
    unlink(path);
    errno = 0;
    assert_int_equal(fs_write_all(fd, "x", 1), -1);             /* closed */
    assert_int_equal(errno, EBADF);
    assert_int_equal(fs_sync(fd), -1);
    assert_int_equal(fs_sync_parent("/nonexistent-postern/dir/file"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkdir_p_parents),
        cmocka_unit_test(test_write_and_sync),
    };
    return cmocka_run_group_tests_name("fs", tests, NULL, NULL);
}
