/* `postern passwd add|del|list|check NAME [-f FILE] [-c CONFIG]`: the
 * users file of smtpd_sasl_type = postern (default: the configuration's
 * smtpd_sasl_users).
 *
 * Passwords come from the terminal without echo (typed twice for add) or,
 * when stdin is not a terminal, from its first line -- never from argv,
 * where `ps` and shell histories would show them. New hashes are yescrypt.
 *
 * An edit holds an exclusive flock on the file from reading it to the
 * rename of its replacement, so two edits at once are applied one after
 * the other; the replacement is written to a temporary file in the same
 * directory, given the old file's mode and owner (0600 and the caller,
 * root, for a new file), fsynced, renamed over the old one, and the
 * directory is fsynced: a crash leaves the old file or the new one, never
 * half of either. The edited text is parsed before anything is written: a
 * command never leaves a file the daemon would refuse. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "../auth/sasl.h"
#include "../auth/users.h"
#include "../config/config.h"
#include "../util/fs.h"

static int usage(void)
{
    fprintf(stderr, "usage: postern passwd add|del|list|check [NAME] [-f FILE] [-c CONFIG]\n"
                    "  the password is read from the terminal, or from stdin's first line\n");
    return EX_USAGE;
}

/* One line from fd into out (at most outlen - 1 bytes kept, more is an
 * error). 0, 1 for end of input before anything, -1 too long or a read
 * error. */
static int read_line(int fd, char *out, size_t outlen)
{
    size_t n = 0;
    int too_long = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            if (n == 0 && !too_long)
                return 1;
            break;
        }
        if (c == '\n')
            break;
        if (n + 1 < outlen)
            out[n++] = c;
        else
            too_long = 1;
    }
    if (n > 0 && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    return too_long ? -1 : 0;
}

/* A line typed on the terminal in non-canonical mode: the erase and kill
 * characters edit it, ^C cancels (-2), ^D on an empty line is the end of
 * input (1). Otherwise as read_line. */
static int read_tty_line(const struct termios *t, char *out, size_t outlen)
{
    size_t n = 0;
    int too_long = 0;
    for (;;) {
        unsigned char c;
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : n ? 0 : 1;
        if (c == '\n' || c == '\r')
            break;
        if (c == 3)
            return -2;
        if (c == 4 && n == 0)
            return 1;
        if (c == t->c_cc[VERASE] || c == 0x7f || c == '\b') {
            if (n > 0)
                out[--n] = '\0';
        } else if (c == t->c_cc[VKILL]) {
            explicit_bzero(out, n);
            n = 0;
            too_long = 0;
        } else if (n + 1 < outlen) {
            out[n++] = (char)c;
        } else {
            too_long = 1;
        }
    }
    out[n] = '\0';
    return too_long ? -1 : 0;
}

/* Prompt on the terminal with echo, signals and line editing off: ^C
 * arrives as a byte, so the terminal is always given back as it was. */
static int read_tty(const char *prompt, char *out, size_t outlen)
{
    struct termios old, quiet;
    if (tcgetattr(STDIN_FILENO, &old) < 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ISIG | ICANON);
    quiet.c_cc[VMIN] = 1;
    quiet.c_cc[VTIME] = 0;
    fputs(prompt, stderr);
    fflush(stderr);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    int rc = read_tty_line(&old, out, outlen);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return rc;
}

int cli_read_password(int twice, char *out, size_t outlen)
{
    char again[SASL_PASS_MAX + 2];
    int rc;
    if (isatty(STDIN_FILENO)) {
        rc = read_tty(twice ? "New password: " : "Password: ", out, outlen);
        if (rc == 0 && twice) {
            rc = read_tty("Retype new password: ", again, sizeof again);
            if (rc == 0 && strcmp(out, again) != 0) {
                fprintf(stderr, "postern: the passwords differ; nothing changed\n");
                rc = -3;
            }
            explicit_bzero(again, sizeof again);
        }
    } else {
        rc = read_line(STDIN_FILENO, out, outlen);
    }
    if (rc == 0 && out[0] == '\0') {
        fprintf(stderr, "postern: empty password\n");
        rc = -3;
    } else if (rc == 1) {
        fprintf(stderr, "postern: no password on stdin\n");
    } else if (rc == -1) {
        fprintf(stderr, "postern: password longer than %d bytes, or unreadable\n",
                (int)outlen - 1);
    } else if (rc == -2) {
        fprintf(stderr, "postern: cancelled\n");
    }
    if (rc != 0)
        explicit_bzero(out, outlen);
    return rc == 0 ? 0 : -1;
}

/* The users file, locked: an fd of the file now at path holding LOCK_EX
 * (a writer that renamed a new file in while we waited is noticed, and we
 * lock that one instead). create: make an empty 0600 file when there is
 * none. -1 with a message printed. */
static int lock_file(const char *path, int create)
{
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT && create) {
            fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0 && errno == EEXIST)
                continue;       /* another one created it first */
        }
        if (fd < 0) {
            fprintf(stderr, "postern: %s: %s%s\n", path,
                    errno == ELOOP ? "is a symbolic link; name the file itself"
                                   : strerror(errno),
                    errno != ENOENT ? ""
                    : create        ? " (its directory is missing: create it, mode 0755)"
                                    : "; `postern passwd add NAME` creates it");
            return -1;
        }
        if (flock(fd, LOCK_EX) < 0) {
            fprintf(stderr, "postern: %s: cannot lock: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino)
            return fd;
        close(fd);              /* replaced meanwhile: lock the new one */
    }
    fprintf(stderr, "postern: %s: keeps being replaced; try again\n", path);
    return -1;
}

/* Replace the file at path (locked as fd) by text, atomically, keeping its
 * mode and owner. 0, or EX_IOERR with a message printed. */
static int replace_file(const char *path, int fd, const char *text, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        fprintf(stderr, "postern: %s: %s\n", path, strerror(errno));
        return EX_IOERR;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) {
        fprintf(stderr, "postern: %s: path too long\n", path);
        return EX_IOERR;
    }
    int t = mkostemp(tmp, O_CLOEXEC);      /* 0600 from the start */
    if (t < 0) {
        fprintf(stderr, "postern: cannot create a file next to %s: %s\n", path,
                strerror(errno));
        return EX_IOERR;
    }
    const char *what = "write";
    if (fs_write_all(t, text, len) < 0)
        goto fail;
    what = "set the owner of";
    if (fchown(t, st.st_uid, st.st_gid) < 0)
        goto fail;
    what = "set the mode of";
    if (fchmod(t, st.st_mode & 07777) < 0)
        goto fail;
    what = "fsync";
    if (fs_sync(t) < 0)
        goto fail;
    what = "rename";
    if (rename(tmp, path) < 0)
        goto fail;
    close(t);
    if (fs_sync_parent(path) < 0) {
        fprintf(stderr, "postern: %s: cannot fsync its directory: %s\n", path,
                strerror(errno));
        return EX_IOERR;
    }
    if (st.st_mode & 077)
        fprintf(stderr, "postern: warning: %s is mode %04o: the daemon refuses a users file "
                "that group or others may read; chmod 600 %s\n", path,
                (unsigned)(st.st_mode & 07777), path);
    return 0;
fail:
    fprintf(stderr, "postern: cannot %s %s: %s; %s is unchanged\n", what, tmp,
            strerror(errno ? errno : EIO), path);
    close(t);
    unlink(tmp);
    return EX_IOERR;
}

static void print_user(void *arg, const char *name, const char *options)
{
    (void)arg;
    if (options[0])
        printf("%s\t%s\n", name, options);
    else
        printf("%s\n", name);
}

/* list and check: read without a lock (a rename replaces the file whole). */
static int read_only(const char *verb, const char *path, const char *name)
{
    char *text, err[1024];
    size_t len;
    if (users_read_file(path, 0, &text, &len, err, sizeof err) < 0) {
        fprintf(stderr, "postern: %s\n", err);
        return EX_NOINPUT;
    }
    struct users *u = users_parse(text, len, path, err, sizeof err);
    explicit_bzero(text, len);
    free(text);
    if (!u) {
        fprintf(stderr, "postern: %s\n", err);
        return EX_DATAERR;
    }
    int rc = 0;
    if (strcmp(verb, "list") == 0) {
        users_each(u, print_user, NULL);
    } else {
        char pass[SASL_PASS_MAX + 1], why[64];
        if (cli_read_password(0, pass, sizeof pass) < 0) {
            users_free(u);
            return EX_DATAERR;
        }
        enum users_result r = users_verify(u, name, pass, why, sizeof why);
        explicit_bzero(pass, sizeof pass);
        if (r == USERS_OK) {
            printf("%s: password ok\n", name);
        } else {
            fprintf(stderr, "postern: %s: %s\n", name, r == USERS_ERROR ? "cannot check" : why);
            rc = r == USERS_ERROR ? EX_SOFTWARE : 1;
        }
    }
    users_free(u);
    return rc;
}

/* add and del: the locked read-edit-check-replace. */
static int edit(const char *verb, const char *path, const char *name)
{
    char pass[SASL_PASS_MAX + 1], line[USERS_HASH_MAX + 300], err[1024];
    int add = strcmp(verb, "add") == 0;
    if (add) {
        char hash[USERS_HASH_MAX];
        /* ask before locking: a slow typist must not hold up other edits */
        if (cli_read_password(1, pass, sizeof pass) < 0)
            return EX_DATAERR;
        int hrc = users_hash(pass, "$y$", hash, sizeof hash);
        explicit_bzero(pass, sizeof pass);
        if (hrc < 0) {
            fprintf(stderr, "postern: cannot hash the password: %s\n", strerror(errno));
            return EX_SOFTWARE;
        }
        snprintf(line, sizeof line, "%s:%s", name, hash);
    }
    int fd = lock_file(path, add);
    if (fd < 0)
        return EX_NOINPUT;
    char *text = NULL, *out = NULL;
    size_t len = 0, outlen = 0;
    int found = 0, rc = 0;
    if (users_read_fd(fd, path, 0, &text, &len, err, sizeof err) < 0) {
        fprintf(stderr, "postern: %s\n", err);
        rc = EX_IOERR;
        goto out;
    }
    if (!(out = users_edit(text, len, name, add ? line : NULL, &found, &outlen))) {
        fprintf(stderr, "postern: out of memory\n");
        rc = EX_SOFTWARE;
        goto out;
    }
    if (!add && !found) {
        fprintf(stderr, "postern: %s: no such user in %s\n", name, path);
        rc = 1;
        goto out;
    }
    struct users *u = users_parse(out, outlen, path, err, sizeof err);
    if (!u) {
        fprintf(stderr, "postern: %s (nothing changed: fix that line first)\n", err);
        rc = EX_DATAERR;
        goto out;
    }
    users_free(u);
    if ((rc = replace_file(path, fd, out, outlen)) == 0)
        printf("%s: %s\n", name, !add ? "removed" : found ? "password changed" : "added");
out:
    if (text)
        explicit_bzero(text, len);
    if (out)
        explicit_bzero(out, outlen);
    free(text);
    free(out);
    explicit_bzero(line, sizeof line);
    close(fd);          /* and the lock with it */
    return rc;
}

int cli_passwd(int argc, char **argv)
{
    const char *file = NULL, *cpath = NULL;
    int c;
    optind = 1;
    while ((c = getopt(argc, argv, "f:c:")) != -1) {
        switch (c) {
        case 'f': file = optarg; break;
        case 'c': cpath = optarg; break;
        default: return usage();
        }
    }
    if (optind >= argc)
        return usage();
    const char *verb = argv[optind++];
    int list = strcmp(verb, "list") == 0;
    if (!list && strcmp(verb, "add") != 0 && strcmp(verb, "del") != 0 &&
        strcmp(verb, "check") != 0)
        return usage();
    if (argc - optind != (list ? 0 : 1))
        return usage();
    const char *name = list ? NULL : argv[optind];
    const char *why;
    if (name && (why = users_name_problem(name))) {
        fprintf(stderr, "postern: \"%.80s\": %s\n", name, why);
        return EX_DATAERR;
    }
    char path[4096];
    if (!file) {
        char err[1024];
        struct config *cfg = config_load(cli_config_path(cpath), err, sizeof err);
        if (!cfg) {
            fprintf(stderr, "postern: %s\n", err);
            return EX_CONFIG;
        }
        snprintf(path, sizeof path, "%s", cfg->smtpd_sasl_users);
        config_free(cfg);
        file = path;
    }
    if (list || strcmp(verb, "check") == 0)
        return read_only(verb, file, name);
    return edit(verb, file, name);
}
