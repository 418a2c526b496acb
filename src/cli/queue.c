/* `postern queue` (and `mailq`, `sendmail -bp`, `sendmail -q`).
 *
 * list and show read the spool directly (root or mail_owner only: the
 * queue is theirs). flush, delete, hold and release ask the daemon over
 * its control socket so that its schedule stays right (a message being
 * delivered is held or deleted when its attempt ends); when no daemon
 * runs, delete, hold and release act on the spool directly, with the same
 * code (queue/admin.c). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "../config/config.h"
#include "../daemon/control.h"
#include "../queue/admin.h"
#include "../queue/qid.h"
#include "../queue/spool.h"
#include "../util/term.h"
#include "../util/unixsock.h"

/* Column where the sender and the recipients start in the listing. */
#define LIST_INDENT 48
/* Seconds to wait for the daemon's answer (an fsync or a few). */
#define CONTROL_WAIT 60

static struct config *load_config(const char *given)
{
    char err[1024];
    struct config *cfg = config_load(cli_config_path(given), err, sizeof err);
    if (!cfg)
        fprintf(stderr, "postern queue: %s\n", err);
    return cfg;
}

/* Open the spool read-write without ever creating the queue directory.
 * Returns an exit status; *sp NULL with 0 means "there is no queue". */
static int open_spool(const struct config *cfg, struct spool **sp)
{
    char err[1024];
    *sp = spool_open_existing(cfg->queue_directory, err, sizeof err);
    if (*sp || errno == ENOENT)
        return 0;
    int e = errno;
    fprintf(stderr, "postern queue: cannot read the queue: %s%s%s%s\n", err,
            e == EACCES ? " (only root and mail_owner " : "",
            e == EACCES ? cfg->mail_owner : "", e == EACCES ? " can)" : "");
    return e == EACCES ? EX_NOPERM : EX_IOERR;
}

/* ---------- list ---------- */

struct item {
    char qid[QID_LEN + 1];
    int held;
};

struct items {
    struct item *v;
    size_t n, cap;
    int held;                 /* flag for the entries being collected */
};

static void collect(const char *qid, void *arg)
{
    struct items *l = arg;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        struct item *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            fprintf(stderr, "postern queue: out of memory\n");
            exit(EX_OSERR);
        }
        l->v = nv;
        l->cap = nc;
    }
    memcpy(l->v[l->n].qid, qid, QID_LEN + 1);
    l->v[l->n++].held = l->held;
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->qid, ((const struct item *)b)->qid);
}

/* Every message, queued and held, in arrival order. -1 on error. */
static int list_all(struct spool *sp, struct items *l)
{
    l->held = 0;
    if (spool_list(sp, collect, l) < 0)
        return -1;
    l->held = 1;
    if (spool_list_held(sp, collect, l) < 0)
        return -1;
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, item_cmp);
    return 0;
}

static struct spool_map *load_any(struct spool *sp, const char *qid, int *held,
                                  struct envelope *env, const char **content, char *err,
                                  size_t errlen)
{
    struct spool_map *map = spool_load(sp, qid, env, content, err, errlen);
    *held = 0;
    if (!map && errno == ENOENT) {
        map = spool_load_held(sp, qid, env, content, err, errlen);
        *held = 1;
    }
    return map;
}

static void arrival_text(long long sec, char *out, size_t outlen)
{
    time_t t = (time_t)sec;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, outlen, "%a %b %e %H:%M:%S", &tm);
}

/* Envelope text and content come from clients and remote servers: escape
 * what a terminal could take as a control (util/term.h) unless raw. */
static void put_text(const char *s, size_t len, int raw)
{
    if (raw)
        fwrite(s, 1, len, stdout);
    else
        term_write_escaped(stdout, s, len);
}

static void put_str(const char *s, int raw)
{
    put_text(s ? s : "", s ? strlen(s) : 0, raw);
}

/* "<key>: <value>\n" with the value escaped unless raw */
static void put_field(const char *key, const char *value, int raw)
{
    printf("%s: ", key);
    put_str(value, raw);
    putchar('\n');
}

int cli_queue_list(const char *config_given)
{
    struct config *cfg = load_config(config_given);
    if (!cfg)
        return EX_CONFIG;
    struct spool *sp;
    int rc = open_spool(cfg, &sp);
    if (rc || !sp) {
        if (!rc)
            printf("Mail queue is empty\n");
        config_free(cfg);
        return rc;
    }
    struct items l = { 0 };
    if (list_all(sp, &l) < 0) {
        fprintf(stderr, "postern queue: cannot list %s: %s\n", cfg->queue_directory,
                strerror(errno));
        free(l.v);
        spool_close(sp);
        config_free(cfg);
        return EX_IOERR;
    }
    unsigned long long total = 0;
    size_t shown = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct envelope env;
        const char *content;
        char err[512];
        int held;
        struct spool_map *map = load_any(sp, l.v[i].qid, &held, &env, &content, err,
                                         sizeof err);
        if (!map && errno == ENOENT)
            continue;                       /* delivered meanwhile */
        if (shown++ == 0)
            printf("%-17s %8s %-20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----",
                   "-Sender/Recipient-------");
        if (!map) {
            printf("%-16s%c %8s %-20s (%s)\n\n", l.v[i].qid, l.v[i].held ? '!' : ' ', "?", "",
                   err);
            continue;
        }
        char when[64];
        arrival_text(env.arrival_sec, when, sizeof when);
        printf("%-16s%c %8zu %-20.20s ", env.qid, held ? '!' : ' ', env.content_len, when);
        put_str(env.sender[0] ? env.sender : "MAILER-DAEMON", 0);
        putchar('\n');
        total += env.content_len;
        const char *last_reason = NULL;
        for (size_t r = 0; r < env.nrcpt; r++) {
            const struct env_rcpt *rc2 = &env.rcpt[r];
            if (rc2->state != RCPT_PENDING && rc2->state != RCPT_DEFERRED)
                continue;                   /* done: sent or bounced */
            if (rc2->reason && (!last_reason || strcmp(last_reason, rc2->reason) != 0)) {
                printf("%*s(", LIST_INDENT, "");
                put_str(rc2->reason, 0);
                printf(")\n");
                last_reason = rc2->reason;
            }
            printf("%*s", LIST_INDENT, "");
            put_str(rc2->addr, 0);
            putchar('\n');
        }
        printf("\n");
        spool_unload(map);
        envelope_free(&env);
    }
    if (shown == 0)
        printf("Mail queue is empty\n");
    else
        printf("-- %llu Kbytes in %zu Request%s.\n", (total + 1023) / 1024, shown,
               shown == 1 ? "" : "s");
    free(l.v);
    spool_close(sp);
    config_free(cfg);
    return 0;
}

/* ---------- show ---------- */

/* raw: no escaping of the envelope and content (-r) */
static int queue_show(const char *config_given, const char *qid, int raw)
{
    if (!qid_valid(qid)) {
        fprintf(stderr, "postern queue: invalid queue id \"%s\"\n", qid);
        return EX_USAGE;
    }
    struct config *cfg = load_config(config_given);
    if (!cfg)
        return EX_CONFIG;
    struct spool *sp;
    int rc = open_spool(cfg, &sp);
    if (rc || !sp) {
        if (!rc) {
            fprintf(stderr, "postern queue: %s: no such message\n", qid);
            rc = EX_NOINPUT;
        }
        config_free(cfg);
        return rc;
    }
    struct envelope env;
    const char *content;
    char err[512];
    int held;
    struct spool_map *map = load_any(sp, qid, &held, &env, &content, err, sizeof err);
    if (!map) {
        if (errno == ENOENT)
            fprintf(stderr, "postern queue: %s: no such message\n", qid);
        else
            fprintf(stderr, "postern queue: %s\n", err);
        spool_close(sp);
        config_free(cfg);
        return errno == ENOENT ? EX_NOINPUT : EX_DATAERR;
    }
    char when[64];
    time_t t = (time_t)env.arrival_sec;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%a, %d %b %Y %H:%M:%S %z", &tm);
    printf("*** ENVELOPE %s/%s ***\n", held ? "hold" : "queue", env.qid);
    printf("queue_id: %s\n", env.qid);
    printf("status: %s\n", held ? "on hold" : "queued");
    printf("arrival: %s\n", when);
    printf("size: %zu\n", env.content_len);
    put_field("sender", env.sender[0] ? env.sender : "<>", raw);
    if (env.sasl_username)
        put_field("sasl_username", env.sasl_username, raw);
    printf("client: ");
    put_str(env.client_addr, raw);
    putchar(' ');
    put_str(env.client_name, raw);
    putchar('\n');
    put_field("helo", env.helo, raw);
    put_field("protocol", env.protocol, raw);
    printf("body: %s\n", env.body_8bit ? "8BITMIME" : "7BIT");
    printf("smtputf8: %s\n", env.smtputf8 ? "yes" : "no");
    printf("attempts: %d\n", env.attempts);
    if (env.next_attempt > 0) {
        t = (time_t)env.next_attempt;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%a, %d %b %Y %H:%M:%S %z", &tm);
        printf("next_attempt: %s\n", when);
    }
    for (size_t i = 0; i < env.nrcpt; i++) {
        const struct env_rcpt *r = &env.rcpt[i];
        printf("recipient: ");
        put_str(r->addr, raw);
        printf(" (%s%s", envelope_state_name(r->state), r->dsn[0] ? " " : "");
        put_str(r->dsn, raw);
        if (r->reason) {
            printf(": ");
            put_str(r->reason, raw);
        }
        printf(")\n");
    }
    printf("*** MESSAGE CONTENT ***\n");
    fflush(stdout);
    /* CRLF as LF, like the capture transport; a lone CR is escaped (^M)
     * unless raw */
    size_t start = 0;
    for (size_t i = 0; i + 1 < env.content_len; i++) {
        if (content[i] == '\r' && content[i + 1] == '\n') {
            put_text(content + start, i - start, raw);
            start = i + 1;
            i++;
        }
    }
    put_text(content + start, env.content_len - start, raw);
    if (env.content_len > 0 && content[env.content_len - 1] != '\n')
        putchar('\n');
    printf("*** END OF MESSAGE ***\n");
    spool_unload(map);
    envelope_free(&env);
    spool_close(sp);
    config_free(cfg);
    return 0;
}

/* ---------- flush / delete / hold / release ---------- */

/* Without a daemon: act on the spool itself, as the daemon would. */
static int act_directly(const struct config *cfg, enum admin_verb verb, const char *arg)
{
    struct spool *sp;
    int rc = open_spool(cfg, &sp);
    if (rc)
        return rc;
    if (!sp) {
        fprintf(stderr, "postern queue: error %s: no such message in the queue\n", arg);
        return 1;
    }
    struct admin a = { sp, NULL, 0, NULL };
    char ans[1024];
    rc = admin_execute(&a, verb, arg, ans, sizeof ans);
    spool_close(sp);
    if (rc < 0) {
        fprintf(stderr, "postern queue: %s\n", ans);
        return 1;
    }
    printf("%s (the daemon is not running: done in the queue directly)\n", ans);
    return 0;
}

int cli_queue_request(const char *config_given, const char *verb, const char *arg)
{
    if (arg && strcmp(arg, "ALL") != 0 && !qid_valid(arg)) {
        fprintf(stderr, "postern queue: invalid queue id \"%s\" (16 characters 0-9 A-F, "
                        "or ALL)\n", arg);
        return EX_USAGE;
    }
    if (arg && strcmp(verb, "flush") == 0 && strcmp(arg, "ALL") == 0)
        arg = NULL;
    struct config *cfg = load_config(config_given);
    if (!cfg)
        return EX_CONFIG;
    char path[4096];
    if (control_socket_path(cfg->queue_directory, path, sizeof path) < 0) {
        fprintf(stderr, "postern queue: queue_directory path too long\n");
        config_free(cfg);
        return EX_CONFIG;
    }
    signal(SIGPIPE, SIG_IGN);
    int fd = unixsock_connect(path);
    if (fd < 0) {
        int e = errno;
        int rc;
        if ((e == ENOENT || e == ECONNREFUSED) && strcmp(verb, "flush") != 0) {
            rc = act_directly(cfg, strcmp(verb, "delete") == 0 ? ADMIN_DELETE
                                   : strcmp(verb, "hold") == 0 ? ADMIN_HOLD
                                   : ADMIN_RELEASE, arg);
        } else if (e == ENOENT || e == ECONNREFUSED) {
            fprintf(stderr, "postern queue: cannot flush: the daemon is not running (%s: %s)\n",
                    path, strerror(e));
            rc = EX_UNAVAILABLE;
        } else {
            fprintf(stderr, "postern queue: cannot connect to %s: %s%s%s%s\n", path,
                    strerror(e), e == EACCES ? " (only root and mail_owner " : "",
                    e == EACCES ? cfg->mail_owner : "", e == EACCES ? " can)" : "");
            rc = e == EACCES ? EX_NOPERM : EX_UNAVAILABLE;
        }
        config_free(cfg);
        return rc;
    }
    config_free(cfg);
    char req[64];
    int n = snprintf(req, sizeof req, "%s%s%s\n", verb, arg ? " " : "", arg ? arg : "");
    char ans[1024];
    size_t len = 0;
    int rc = 0;
    if (write(fd, req, (size_t)n) != n) {
        fprintf(stderr, "postern queue: cannot send the request: %s\n", strerror(errno));
        close(fd);
        return EX_TEMPFAIL;
    }
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        int pr = poll(&p, 1, CONTROL_WAIT * 1000);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            fprintf(stderr, "postern queue: no answer from the daemon within %ds\n",
                    CONTROL_WAIT);
            close(fd);
            return EX_TEMPFAIL;
        }
        ssize_t r = read(fd, ans + len, sizeof ans - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (memchr(ans, '\n', len) || len == sizeof ans - 1)
            break;
    }
    close(fd);
    ans[len] = '\0';
    len = strcspn(ans, "\n");
    ans[len] = '\0';
    /* the answer comes from a socket mail_owner controls: whoever has that
     * account must not reach root's terminal with escape sequences */
    if (strncmp(ans, "ok", 2) == 0 && (ans[2] == ' ' || ans[2] == '\0')) {
        term_write_escaped(stdout, ans, len);
        putchar('\n');
    } else if (strncmp(ans, "error ", 6) == 0) {
        fputs("postern queue: ", stderr);
        term_write_escaped(stderr, ans, len);
        fputc('\n', stderr);
        /* (daemons before pending actions refused a message being
         * delivered with "try again") */
        rc = strstr(ans, "try again") ? EX_TEMPFAIL : 1;
    } else {
        fputs("postern queue: unexpected answer from the daemon: \"", stderr);
        term_write_escaped(stderr, ans, len);
        fputs("\"\n", stderr);
        rc = EX_PROTOCOL;
    }
    return rc;
}

/* ---------- commands ---------- */

static int queue_usage(void)
{
    fprintf(stderr,
            "usage: postern queue [-c FILE] COMMAND\n"
            "  list                 list the queue (like mailq); '!' marks held messages\n"
            "  show [-r] ID         print a message's envelope, state and content\n"
            "                       (control characters escaped, ESC as ^[; -r: raw)\n"
            "  flush [ID]           attempt delivery now (all deferred mail, or one message)\n"
            "  delete ID|ALL        remove from the queue, without a bounce\n"
            "  hold ID|ALL          keep in the queue, do not deliver\n"
            "  release ID|ALL       deliver held messages again\n"
            "(a message being delivered is held or deleted when its attempt ends)\n");
    return EX_USAGE;
}

int cli_queue(int argc, char **argv)
{
    const char *cpath = NULL;
    int c, raw = 0;
    optind = 1;
    /* (GNU getopt permutes: `show -r ID` and `-r show ID` both work) */
    while ((c = getopt(argc, argv, "c:r")) != -1) {
        switch (c) {
        case 'c': cpath = optarg; break;
        case 'r': raw = 1; break;
        default: return queue_usage();
        }
    }
    if (optind >= argc)
        return queue_usage();
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    const char *arg = nargs > 0 ? argv[optind + 1] : NULL;
    if (strcmp(cmd, "show") == 0 && nargs == 1)
        return queue_show(cpath, arg, raw);
    if (raw)
        return queue_usage();              /* -r is for show only */
    if (strcmp(cmd, "list") == 0 && nargs == 0)
        return cli_queue_list(cpath);
    if (strcmp(cmd, "flush") == 0 && nargs <= 1)
        return cli_queue_request(cpath, "flush", arg);
    if ((strcmp(cmd, "delete") == 0 || strcmp(cmd, "hold") == 0 ||
         strcmp(cmd, "release") == 0) && nargs == 1)
        return cli_queue_request(cpath, cmd, arg);
    return queue_usage();
}

/* `mailq [-C FILE] [-v]`: Sendmail's options; only the config matters. */
int cli_mailq(int argc, char **argv)
{
    const char *cpath = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-C") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc)
            cpath = argv[++i];
        else if (strncmp(argv[i], "-C", 2) == 0 && argv[i][2])
            cpath = argv[i] + 2;
    }
    return cli_queue_list(cpath);
}
