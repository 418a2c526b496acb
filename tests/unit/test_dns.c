/* Unit tests for net/dns: the pure MX sorting, then the resolver
 * against a local dnsmasq (started here on a free loopback port; a missing
 * dnsmasq fails the test: `make test-deps` installs dnsmasq-base). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/dns.h"

/* ======================================================================== */
/* dns_sort_mx */

static void set_mx(struct dns_mx *m, const char *name, int pref)
{
    snprintf(m->name, sizeof m->name, "%s", name);
    m->pref = pref;
}

struct lcg { uint32_t s; };

static unsigned lcg_rnd(void *arg)
{
    struct lcg *l = arg;
    l->s = l->s * 1103515245u + 12345u;
    return l->s >> 8;
}

static unsigned zero_rnd(void *arg)
{
    (void)arg;
    return 0;
}

static void test_sort_order(void **state)
{
    (void)state;
    struct dns_mx mx[5];
    set_mx(&mx[0], "c.example", 30);
    set_mx(&mx[1], "a.example", 10);
    set_mx(&mx[2], "e.example", 50);
    set_mx(&mx[3], "b.example", 20);
    set_mx(&mx[4], "d.example", 40);
    struct lcg l = { 7 };
    assert_int_equal(dns_sort_mx(mx, 5, lcg_rnd, &l), DNS_OK);
    const char *want[] = { "a.example", "b.example", "c.example", "d.example", "e.example" };
    for (int i = 0; i < 5; i++) {
        assert_string_equal(mx[i].name, want[i]);
        assert_int_equal(mx[i].pref, (i + 1) * 10);
    }
}

static void test_sort_stable_without_rnd(void **state)
{
    (void)state;
    struct dns_mx mx[4];
    set_mx(&mx[0], "x1", 10);
    set_mx(&mx[1], "y", 5);
    set_mx(&mx[2], "x2", 10);
    set_mx(&mx[3], "x3", 10);
    assert_int_equal(dns_sort_mx(mx, 4, NULL, NULL), DNS_OK);
    assert_string_equal(mx[0].name, "y");
    assert_string_equal(mx[1].name, "x1");
    assert_string_equal(mx[2].name, "x2");
    assert_string_equal(mx[3].name, "x3");
}

static void test_sort_zero_rnd(void **state)
{
    (void)state;
    /* rnd() always 0 is a legal (if poor) source: still sorted */
    struct dns_mx mx[4];
    set_mx(&mx[0], "p20", 20);
    set_mx(&mx[1], "p10a", 10);
    set_mx(&mx[2], "p10b", 10);
    set_mx(&mx[3], "p0", 0);
    assert_int_equal(dns_sort_mx(mx, 4, zero_rnd, NULL), DNS_OK);
    assert_string_equal(mx[0].name, "p0");
    assert_true(strncmp(mx[1].name, "p10", 3) == 0 && strncmp(mx[2].name, "p10", 3) == 0);
    assert_string_not_equal(mx[1].name, mx[2].name);
    assert_string_equal(mx[3].name, "p20");
}

/* Equal preferences come out in every order, other preferences stay put. */
static void test_sort_shuffles_equal_prefs(void **state)
{
    (void)state;
    int seen[6] = { 0 };
    const char *perms[6] = { "abc", "acb", "bac", "bca", "cab", "cba" };
    for (uint32_t seed = 1; seed <= 600; seed++) {
        struct dns_mx mx[5];
        set_mx(&mx[0], "z", 99);
        set_mx(&mx[1], "a", 10);
        set_mx(&mx[2], "first", 1);
        set_mx(&mx[3], "b", 10);
        set_mx(&mx[4], "c", 10);
        struct lcg l = { seed };
        assert_int_equal(dns_sort_mx(mx, 5, lcg_rnd, &l), DNS_OK);
        assert_string_equal(mx[0].name, "first");
        assert_string_equal(mx[4].name, "z");
        char p[4] = { mx[1].name[0], mx[2].name[0], mx[3].name[0], 0 };
        int found = 0;
        for (int i = 0; i < 6; i++)
            if (strcmp(p, perms[i]) == 0) {
                seen[i]++;
                found = 1;
            }
        assert_true(found);
        for (int i = 1; i < 4; i++)
            assert_int_equal(mx[i].pref, 10);
    }
    for (int i = 0; i < 6; i++) {
        if (seen[i] < 40)
            fail_msg("order %s seen %d times in 600 shuffles", perms[i], seen[i]);
    }
}

static void test_sort_same_rnd_same_order(void **state)
{
    (void)state;
    struct dns_mx a[6], b[6];
    for (int i = 0; i < 6; i++) {
        char n[3] = { 'h', (char)('0' + i), 0 };
        set_mx(&a[i], n, i % 2 ? 10 : 20);
    }
    memcpy(b, a, sizeof a);
    struct lcg la = { 42 }, lb = { 42 };
    dns_sort_mx(a, 6, lcg_rnd, &la);
    dns_sort_mx(b, 6, lcg_rnd, &lb);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(a[i].name, b[i].name);
        assert_int_equal(a[i].pref, i < 3 ? 10 : 20);
    }
}

static void test_null_mx(void **state)
{
    (void)state;
    struct dns_mx mx[2];
    struct lcg l = { 3 };

    set_mx(&mx[0], ".", 0);
    assert_int_equal(dns_sort_mx(mx, 1, lcg_rnd, &l), DNS_NULLMX);
    set_mx(&mx[0], "", 0);
    assert_int_equal(dns_sort_mx(mx, 1, lcg_rnd, &l), DNS_NULLMX);
    assert_int_equal(dns_sort_mx(mx, 1, NULL, NULL), DNS_NULLMX);

    /* "." with a preference other than 0 is not a null MX */
    set_mx(&mx[0], ".", 10);
    assert_int_equal(dns_sort_mx(mx, 1, lcg_rnd, &l), DNS_OK);
    set_mx(&mx[0], "", 1);
    assert_int_equal(dns_sort_mx(mx, 1, lcg_rnd, &l), DNS_OK);

    /* a real host at preference 0 is not a null MX */
    set_mx(&mx[0], "mx.example", 0);
    assert_int_equal(dns_sort_mx(mx, 1, lcg_rnd, &l), DNS_OK);

    /* "." among other MX records: not a null MX (RFC 7505: must be alone) */
    set_mx(&mx[0], "mx.example", 10);
    set_mx(&mx[1], ".", 0);
    assert_int_equal(dns_sort_mx(mx, 2, lcg_rnd, &l), DNS_OK);
    assert_string_equal(mx[0].name, ".");
    assert_string_equal(mx[1].name, "mx.example");

    /* nothing at all */
    assert_int_equal(dns_sort_mx(mx, 0, lcg_rnd, &l), DNS_OK);
}

/* ======================================================================== */
/* the resolver against dnsmasq */

struct dnsmasq {
    pid_t pid;
    int port;
    char log[64];
};

static struct dnsmasq g_dm = { -1, 0, "" };
/* a UDP socket that never answers (timeouts) and a port nothing listens on */
static int g_silent_fd = -1;
static int g_silent_port;
static int g_dead_port;

static int udp_bound_port(int *fdp)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = { .sin_family = AF_INET };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t sl = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    int port = ntohs(sin.sin_port);
    if (fdp)
        *fdp = fd;
    else
        close(fd);
    return port;
}

/* A port free for both UDP and TCP on 127.0.0.1 a moment ago. */
static int free_port(void)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int port = udp_bound_port(NULL);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
        close(fd);
        if (ok)
            return port;
    }
    fail_msg("no free port");
    return -1;
}

/* Send one MX query for a.test; 1 if a reply came within timeout_ms. */
static int dns_probe(int port, int timeout_ms)
{
    static const unsigned char q[] = {
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
        1, 'a', 4, 't', 'e', 's', 't', 0, 0, 15, 0, 1,
    };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = 0;
    if (sendto(fd, q, sizeof q, 0, (struct sockaddr *)&sin, sizeof sin) == (ssize_t)sizeof q) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        unsigned char buf[512];
        if (poll(&pfd, 1, timeout_ms) == 1 && recv(fd, buf, sizeof buf, 0) >= 12 &&
            buf[0] == 0x12 && buf[1] == 0x34)
            ok = 1;
    }
    close(fd);
    return ok;
}

static void dump_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  dnsmasq: %s", line);
    fclose(f);
}

static int start_dnsmasq_once(struct dnsmasq *dm)
{
    char portarg[32];
    dm->port = free_port();
    snprintf(portarg, sizeof portarg, "--port=%d", dm->port);
    /* big.test: 15 MX records with long names, more than fits in 512
     * bytes of UDP: the answer is truncated and c-ares retries over TCP */
    enum { NBIG = 15 };
    static char big[2 * NBIG][96];
    for (int i = 0; i < NBIG; i++) {
        snprintf(big[2 * i], sizeof big[0],
                 "--mx-host=big.test,long-mx-name-for-tcp-fallback-%d.big.test,%d", 10 + i, 10 + i);
        snprintf(big[2 * i + 1], sizeof big[0],
                 "--host-record=long-mx-name-for-tcp-fallback-%d.big.test,127.0.2.%d", 10 + i, 10 + i);
    }
    /* --keep-in-foreground, not --no-daemon: in debug mode dnsmasq serves a
     * TCP connection inline and answers no UDP while c-ares keeps it open */
    char *argv[128] = {
        "dnsmasq", "--keep-in-foreground", portarg, "--listen-address=127.0.0.1",
        "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
        "--pid-file=", "--log-facility=-", "--user=root",
        /* answer NXDOMAIN for unknown names under .test (nothing forwarded) */
        "--local=/test/",
        "--mx-host=a.test,mx1.a.test,10",
        "--mx-host=a.test,mx2.a.test,20",
        "--host-record=mx1.a.test,127.0.0.2",
        "--host-record=mx2.a.test,127.0.0.3,::3",
        "--host-record=implicit.test,127.0.0.4",
        "--host-record=v6only.test,::6",
        "--mx-host=nullmx.test,.,0",
        "--mx-host=dotpref.test,.,10",
        "--mx-host=partial.test,missing.partial.test,5",
        "--mx-host=partial.test,mx1.a.test,10",
        "--mx-host=broken.test,missing1.broken.test,10",
        "--mx-host=broken.test,missing2.broken.test,20",
        "--mx-host=eq.test,mx1.a.test,10",
        "--mx-host=eq.test,mx2.a.test,10",
        "--mx-host=dup.test,mx1.a.test,10",
        "--mx-host=dup.test,MX1.a.test,20",
        "--mx-host=dup.test,mx2.a.test,30",
        "--host-record=many.test,127.0.1.1",
        "--host-record=many.test,127.0.1.2",
        "--host-record=many.test,127.0.1.3",
        "--host-record=many.test,127.0.1.4",
        "--host-record=many.test,127.0.1.5",
        "--host-record=many.test,127.0.1.6",
        "--host-record=many.test,127.0.1.7",
        "--host-record=many.test,127.0.1.8",
        "--host-record=many.test,127.0.1.9,::9",
        /* the SMTP server's checks: a DNS list entry, a PTR that does not
         * lead back (implicit.test's own PTR comes with its host-record) */
        "--address=/2.0.0.127.rbl.test/127.0.0.2",
        "--txt-record=2.0.0.127.rbl.test,Listed for testing",
        "--txt-record=2.0.0.127.rbl.test,see example",
        "--ptr-record=6.0.0.127.in-addr.arpa,mx1.a.test",
        "--local=/0.0.127.in-addr.arpa/",
    };
    size_t argc = 0;
    while (argv[argc])
        argc++;
    for (int i = 0; i < 2 * NBIG; i++)
        argv[argc++] = big[i];
    assert_true(argc < sizeof argv / sizeof *argv);
    argv[argc] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);   /* no stray dnsmasq if we crash */
        int devnull = open("/dev/null", O_RDONLY);
        int logfd = open(dm->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (devnull >= 0)
            dup2(devnull, 0);
        if (logfd >= 0) {
            dup2(logfd, 1);
            dup2(logfd, 2);
        }
        execvp("dnsmasq", argv);
        execv("/usr/sbin/dnsmasq", argv);
        _exit(127);
    }
    dm->pid = pid;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            dm->pid = -1;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                fail_msg("dnsmasq is not installed (apt-get install dnsmasq-base, or make test-deps)");
            fprintf(stderr, "dnsmasq on port %d exited (status %d):\n", dm->port, status);
            dump_file(dm->log);
            return -1;
        }
        if (dns_probe(dm->port, 100))
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 10) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            dm->pid = -1;
            dump_file(dm->log);
            fail_msg("dnsmasq did not answer on port %d within 10 s", dm->port);
        }
    }
}

static void stop_dnsmasq(struct dnsmasq *dm)
{
    if (dm->pid > 0) {
        kill(dm->pid, SIGTERM);
        waitpid(dm->pid, NULL, 0);
        dm->pid = -1;
    }
    if (dm->log[0])
        unlink(dm->log);
}

static int live_setup(void **state)
{
    (void)state;
    snprintf(g_dm.log, sizeof g_dm.log, "/tmp/postern-dnsmasq-%d.log", (int)getpid());
    int started = 0;
    for (int attempt = 0; attempt < 5 && !started; attempt++)  /* port races */
        started = start_dnsmasq_once(&g_dm) == 0;
    if (!started)
        fail_msg("could not start dnsmasq");
    g_silent_port = udp_bound_port(&g_silent_fd);
    g_dead_port = udp_bound_port(NULL);
    return 0;
}

static int live_teardown(void **state)
{
    (void)state;
    stop_dnsmasq(&g_dm);
    if (g_silent_fd >= 0)
        close(g_silent_fd);
    return 0;
}

/* ---- running lookups ---- */

struct answer {
    int done;               /* callback count */
    int inline_call;        /* callback ran inside dns_resolve_* */
    int *in_call;
    int *remaining;
    struct event_base *base;
    enum dns_status status;
    char error[256];
    size_t nhosts;
    struct dns_host hosts[16];
};

static void on_answer(void *arg, const struct dns_result *res)
{
    struct answer *a = arg;
    a->done++;
    if (a->in_call && *a->in_call)
        a->inline_call = 1;
    a->status = res->status;
    snprintf(a->error, sizeof a->error, "%s", res->error);
    a->nhosts = res->nhosts;
    assert_true(res->nhosts <= 16);
    if (res->nhosts)
        memcpy(a->hosts, res->hosts, res->nhosts * sizeof *res->hosts);
    if (a->remaining && --*a->remaining == 0)
        event_base_loopbreak(a->base);
}

struct loop {
    struct event_base *base;
    struct dns *dns;
    int in_call;
    int remaining;
};

static void loop_init(struct loop *l, const char *const *servers, size_t n)
{
    memset(l, 0, sizeof *l);
    l->base = event_base_new();
    assert_non_null(l->base);
    char err[256] = "";
    l->dns = dns_new(l->base, (char *const *)servers, n, err, sizeof err);
    if (!l->dns)
        fail_msg("dns_new: %s", err);
}

static void loop_free(struct loop *l)
{
    dns_free(l->dns);
    event_base_free(l->base);
}

static void start(struct loop *l, struct answer *a, int mx, const char *name)
{
    memset(a, 0, sizeof *a);
    a->in_call = &l->in_call;
    a->remaining = &l->remaining;
    a->base = l->base;
    l->remaining++;
    l->in_call = 1;
    if (mx)
        dns_resolve_mx(l->dns, name, on_answer, a);
    else
        dns_resolve_host(l->dns, name, on_answer, a);
    l->in_call = 0;
    assert_int_equal(a->done, 0);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Run the loop until every started lookup has answered (or max_s passed). */
static void run(struct loop *l, int max_s)
{
    struct event *t = evtimer_new(l->base, on_deadline, l->base);
    struct timeval tv = { max_s, 0 };
    evtimer_add(t, &tv);
    if (l->remaining > 0)
        event_base_dispatch(l->base);
    event_free(t);
    assert_int_equal(l->remaining, 0);
}

static void check_answer(const struct answer *a)
{
    assert_int_equal(a->done, 1);
    assert_false(a->inline_call);
}

static void assert_addr(const struct sockaddr_storage *ss, const char *want)
{
    char buf[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
        assert_int_equal(sin->sin_port, 0);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
        assert_int_equal(sin6->sin6_port, 0);
    }
    assert_string_equal(buf, want);
}

static void server_arg(char *buf, size_t len, int port)
{
    snprintf(buf, len, "127.0.0.1:%d", port);
}

/* ---- live tests ---- */

static void test_live_mx(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);

    struct answer a, imp, unk, nul, dot, part, brk, dup, lit;
    start(&l, &a, 1, "a.test");
    start(&l, &lit, 1, "[127.0.0.5]");          /* user@[127.0.0.5] */
    start(&l, &imp, 1, "implicit.test");
    start(&l, &unk, 1, "unknown.test");
    start(&l, &nul, 1, "nullmx.test");
    start(&l, &dot, 1, "dotpref.test");
    start(&l, &part, 1, "partial.test");
    start(&l, &brk, 1, "broken.test");
    start(&l, &dup, 1, "dup.test");
    run(&l, 20);

    check_answer(&a);
    assert_int_equal(a.status, DNS_OK);
    assert_int_equal(a.nhosts, 2);
    assert_string_equal(a.hosts[0].name, "mx1.a.test");
    assert_int_equal(a.hosts[0].pref, 10);
    assert_int_equal(a.hosts[0].naddr, 1);
    assert_addr(&a.hosts[0].addr[0], "127.0.0.2");
    assert_string_equal(a.hosts[1].name, "mx2.a.test");
    assert_int_equal(a.hosts[1].pref, 20);
    assert_int_equal(a.hosts[1].naddr, 2);
    assert_addr(&a.hosts[1].addr[0], "127.0.0.3");     /* A first */
    assert_addr(&a.hosts[1].addr[1], "::3");           /* then AAAA */

    check_answer(&lit);
    assert_int_equal(lit.status, DNS_OK);
    assert_int_equal(lit.nhosts, 1);
    assert_int_equal(lit.hosts[0].pref, 0);
    assert_addr(&lit.hosts[0].addr[0], "127.0.0.5");

    /* no MX: the domain itself, preference 0 */
    check_answer(&imp);
    assert_int_equal(imp.status, DNS_OK);
    assert_int_equal(imp.nhosts, 1);
    assert_string_equal(imp.hosts[0].name, "implicit.test");
    assert_int_equal(imp.hosts[0].pref, 0);
    assert_int_equal(imp.hosts[0].naddr, 1);
    assert_addr(&imp.hosts[0].addr[0], "127.0.0.4");

    check_answer(&unk);
    assert_int_equal(unk.status, DNS_NOTFOUND);
    assert_int_equal(unk.nhosts, 0);
    assert_non_null(strstr(unk.error, "unknown.test"));

    check_answer(&nul);
    assert_int_equal(nul.status, DNS_NULLMX);
    assert_int_equal(nul.nhosts, 0);
    assert_non_null(strstr(nul.error, "null MX"));
    assert_non_null(strstr(nul.error, "nullmx.test"));

    /* "." at preference 10 is not a null MX, and has no address */
    check_answer(&dot);
    assert_int_equal(dot.status, DNS_NOTFOUND);

    /* the MX host that does not resolve is dropped */
    check_answer(&part);
    assert_int_equal(part.status, DNS_OK);
    assert_int_equal(part.nhosts, 1);
    assert_string_equal(part.hosts[0].name, "mx1.a.test");
    assert_int_equal(part.hosts[0].pref, 10);

    /* no MX host resolves: permanent */
    check_answer(&brk);
    assert_int_equal(brk.status, DNS_NOTFOUND);
    assert_non_null(strstr(brk.error, "broken.test"));

    /* a host named twice is tried once, at its best preference */
    check_answer(&dup);
    assert_int_equal(dup.status, DNS_OK);
    assert_int_equal(dup.nhosts, 2);
    assert_string_equal(dup.hosts[0].name, "mx1.a.test");
    assert_string_equal(dup.hosts[1].name, "mx2.a.test");
    assert_int_equal(dup.hosts[1].pref, 30);

    loop_free(&l);
}

/* An answer too big for UDP (TCP fallback); at most 10 MX hosts kept. */
static void test_live_big_mx(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct answer a;
    start(&l, &a, 1, "big.test");
    run(&l, 20);
    check_answer(&a);
    assert_int_equal(a.status, DNS_OK);
    assert_int_equal(a.nhosts, 10);
    for (int i = 0; i < 10; i++) {
        char name[64], addr[32];
        snprintf(name, sizeof name, "long-mx-name-for-tcp-fallback-%d.big.test", 10 + i);
        snprintf(addr, sizeof addr, "127.0.2.%d", 10 + i);
        assert_string_equal(a.hosts[i].name, name);
        assert_int_equal(a.hosts[i].pref, 10 + i);
        assert_int_equal(a.hosts[i].naddr, 1);
        assert_addr(&a.hosts[i].addr[0], addr);
    }
    loop_free(&l);
}

static void test_live_host(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);

    struct answer h, v6, lit4, lit6, litb, litv6, name_b, nx, nodata, many, bad;
    start(&l, &h, 0, "mx2.a.test");
    start(&l, &v6, 0, "v6only.test");
    start(&l, &lit4, 0, "127.0.0.9");
    start(&l, &lit6, 0, "::1");
    start(&l, &litb, 0, "[127.0.0.10]");
    start(&l, &litv6, 0, "[IPv6:::1]");
    start(&l, &name_b, 0, "[mx1.a.test]");
    start(&l, &nx, 0, "nohost.test");
    start(&l, &nodata, 0, "a.test");            /* only an MX record */
    start(&l, &many, 0, "many.test");
    start(&l, &bad, 0, "");
    run(&l, 20);

    check_answer(&h);
    assert_int_equal(h.status, DNS_OK);
    assert_int_equal(h.nhosts, 1);
    assert_string_equal(h.hosts[0].name, "mx2.a.test");
    assert_int_equal(h.hosts[0].pref, 0);
    assert_int_equal(h.hosts[0].naddr, 2);
    assert_addr(&h.hosts[0].addr[0], "127.0.0.3");
    assert_addr(&h.hosts[0].addr[1], "::3");

    check_answer(&v6);
    assert_int_equal(v6.status, DNS_OK);
    assert_int_equal(v6.hosts[0].naddr, 1);
    assert_addr(&v6.hosts[0].addr[0], "::6");

    check_answer(&lit4);
    assert_int_equal(lit4.status, DNS_OK);
    assert_int_equal(lit4.nhosts, 1);
    assert_int_equal(lit4.hosts[0].naddr, 1);
    assert_addr(&lit4.hosts[0].addr[0], "127.0.0.9");
    check_answer(&lit6);
    assert_int_equal(lit6.status, DNS_OK);
    assert_addr(&lit6.hosts[0].addr[0], "::1");
    check_answer(&litb);
    assert_int_equal(litb.status, DNS_OK);
    assert_addr(&litb.hosts[0].addr[0], "127.0.0.10");
    assert_string_equal(litb.hosts[0].name, "127.0.0.10");
    check_answer(&litv6);
    assert_int_equal(litv6.status, DNS_OK);
    assert_addr(&litv6.hosts[0].addr[0], "::1");

    check_answer(&name_b);
    assert_int_equal(name_b.status, DNS_OK);
    assert_string_equal(name_b.hosts[0].name, "mx1.a.test");
    assert_addr(&name_b.hosts[0].addr[0], "127.0.0.2");

    check_answer(&nx);
    assert_int_equal(nx.status, DNS_NOTFOUND);
    assert_non_null(strstr(nx.error, "nohost.test"));
    check_answer(&nodata);
    assert_int_equal(nodata.status, DNS_NOTFOUND);

    /* at most DNS_MAX_ADDRS, IPv4 first */
    check_answer(&many);
    assert_int_equal(many.status, DNS_OK);
    assert_int_equal(many.hosts[0].naddr, DNS_MAX_ADDRS);
    for (size_t i = 0; i < DNS_MAX_ADDRS; i++)
        assert_int_equal(many.hosts[0].addr[i].ss_family, AF_INET);

    check_answer(&bad);
    assert_int_equal(bad.status, DNS_NOTFOUND);

    loop_free(&l);
}

/* Equal preferences: both orders show up over repeated lookups. */
static void test_live_equal_pref_shuffle(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    enum { N = 24 };
    struct answer a[N];
    for (int i = 0; i < N; i++)
        start(&l, &a[i], 1, "eq.test");
    run(&l, 20);
    int first_mx1 = 0;
    for (int i = 0; i < N; i++) {
        check_answer(&a[i]);
        assert_int_equal(a[i].status, DNS_OK);
        assert_int_equal(a[i].nhosts, 2);
        assert_int_equal(a[i].hosts[0].pref, 10);
        assert_int_equal(a[i].hosts[1].pref, 10);
        first_mx1 += strcmp(a[i].hosts[0].name, "mx1.a.test") == 0;
    }
    assert_true(first_mx1 > 0 && first_mx1 < N);
    loop_free(&l);
}

/* A server that refuses (dnsmasq REFUSED for names outside .test): tempfail. */
static void test_live_refused(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct answer a, h;
    start(&l, &a, 1, "example.com");
    start(&l, &h, 0, "host.example.com");
    run(&l, 20);
    check_answer(&a);
    assert_int_equal(a.status, DNS_TEMPFAIL);
    assert_non_null(strstr(a.error, "MX lookup of example.com: "));
    check_answer(&h);
    assert_int_equal(h.status, DNS_TEMPFAIL);
    assert_non_null(strstr(h.error, "host.example.com"));
    loop_free(&l);
}

/* Nothing listens on the port: ICMP port unreachable, fast tempfail. */
static void test_live_dead_server(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dead_port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct answer a;
    time_t t0 = time(NULL);
    start(&l, &a, 1, "a.test");
    run(&l, 20);
    check_answer(&a);
    assert_int_equal(a.status, DNS_TEMPFAIL);
    assert_non_null(strstr(a.error, "MX lookup of a.test: "));
    assert_true(time(NULL) - t0 < 8);
    loop_free(&l);
}

/* A server that never answers: the c-ares timer path. */
static void test_live_timeout(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_silent_port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct answer a;
    time_t t0 = time(NULL);
    start(&l, &a, 1, "example.com");
    run(&l, 30);
    check_answer(&a);
    assert_int_equal(a.status, DNS_TEMPFAIL);
    assert_string_equal(a.error, "MX lookup of example.com: Timeout while contacting DNS servers");
    assert_true(time(NULL) - t0 < 15);
    loop_free(&l);
}

/* The first server is dead, the second answers. */
static void test_live_second_server(void **state)
{
    (void)state;
    char dead[64], srv[64];
    server_arg(dead, sizeof dead, g_dead_port);
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { dead, srv };
    struct loop l;
    loop_init(&l, servers, 2);
    struct answer a;
    start(&l, &a, 1, "a.test");
    run(&l, 20);
    check_answer(&a);
    assert_int_equal(a.status, DNS_OK);
    assert_int_equal(a.nhosts, 2);
    assert_string_equal(a.hosts[0].name, "mx1.a.test");
    loop_free(&l);
}

/* dns_free with lookups in flight: each callback runs once, TEMPFAIL. */
static void test_free_pending(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_silent_port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct answer a, b, c;
    start(&l, &a, 1, "a.test");
    start(&l, &b, 0, "host.test");
    start(&l, &c, 0, "127.0.0.1");      /* literal: answered from the loop */
    /* one short pass: the queries are sent, nothing is answered */
    struct timeval tv = { 0, 50000 };
    event_base_loopexit(l.base, &tv);
    event_base_dispatch(l.base);
    assert_int_equal(a.done, 0);
    assert_int_equal(b.done, 0);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.status, DNS_OK);

    struct answer d;
    start(&l, &d, 0, "[::1]");          /* pending in the loop, never run */
    dns_free(l.dns);
    l.dns = NULL;
    assert_int_equal(a.done, 1);
    assert_int_equal(a.status, DNS_TEMPFAIL);
    assert_string_equal(a.error, "resolver shut down");
    assert_int_equal(b.done, 1);
    assert_int_equal(b.status, DNS_TEMPFAIL);
    assert_string_equal(b.error, "resolver shut down");
    assert_int_equal(c.done, 1);
    assert_int_equal(d.done, 1);
    /* the loop has nothing left of the resolver */
    assert_int_equal(event_base_get_num_events(l.base, EVENT_BASE_COUNT_ADDED |
                                                   EVENT_BASE_COUNT_ACTIVE), 0);
    event_base_free(l.base);
}

/* A callback that frees the resolver, and one that starts a new lookup. */
struct chain {
    struct loop *l;
    struct answer inner;
    int done;
};

static void on_chain(void *arg, const struct dns_result *res)
{
    struct chain *c = arg;
    c->done++;
    assert_int_equal(res->status, DNS_OK);
    start(c->l, &c->inner, 1, "a.test");
    if (--c->l->remaining == 0)
        event_base_loopbreak(c->l->base);
}

static void test_callback_resolves_again(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct chain c = { &l, { 0 }, 0 };
    l.remaining = 1;
    dns_resolve_host(l.dns, "mx1.a.test", on_chain, &c);
    run(&l, 20);
    assert_int_equal(c.done, 1);
    check_answer(&c.inner);
    assert_int_equal(c.inner.status, DNS_OK);
    assert_int_equal(c.inner.nhosts, 2);
    loop_free(&l);
}

struct freer {
    struct loop *l;
    int done;
};

static void on_free(void *arg, const struct dns_result *res)
{
    struct freer *f = arg;
    f->done++;
    assert_int_equal(res->status, DNS_OK);
    dns_free(f->l->dns);
    f->l->dns = NULL;
    event_base_loopbreak(f->l->base);
}

static void test_callback_frees(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct freer f = { &l, 0 };
    struct answer other;
    dns_resolve_mx(l.dns, "a.test", on_free, &f);
    start(&l, &other, 1, "a.test");
    other.remaining = NULL;             /* on_free ends the loop */
    event_base_dispatch(l.base);
    assert_int_equal(f.done, 1);
    /* the other lookup was still pending, or already answered: once */
    assert_int_equal(other.done, 1);
    event_base_free(l.base);
}

static void test_bad_servers(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    const char *bad[] = { "127.0.0.1:0", "127.0.0.1:x", "dns.example", "[::1", "[::1]x",
                          "1.2.3.4:70000", "" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[256] = "";
        const char *one[] = { bad[i] };
        struct dns *d = dns_new(base, (char *const *)one, 1, err, sizeof err);
        if (d)
            fail_msg("dns_new accepted server \"%s\"", bad[i]);
        assert_non_null(strstr(err, "DNS server"));
    }
    const char *good[] = { "127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1", "[::1]" };
    char err[256] = "";
    struct dns *d = dns_new(base, (char *const *)good, 5, err, sizeof err);
    assert_non_null(d);
    dns_free(d);
    d = dns_new(base, NULL, 0, err, sizeof err);      /* resolv.conf */
    assert_non_null(d);
    dns_free(d);
    event_base_free(base);
}

/* ======================================================================== */
/* the SMTP server's checks (dns_check.c) */

static void test_reverse_name(void **state)
{
    (void)state;
    char q[300];
    assert_int_equal(dns_reverse_name("127.0.0.2", "zen.example", q, sizeof q), 0);
    assert_string_equal(q, "2.0.0.127.zen.example");
    assert_int_equal(dns_reverse_name("192.0.2.10", "in-addr.arpa", q, sizeof q), 0);
    assert_string_equal(q, "10.2.0.192.in-addr.arpa");
    assert_int_equal(dns_reverse_name("2001:db8::1", "ip6.arpa", q, sizeof q), 0);
    assert_string_equal(q, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
                           "ip6.arpa");
    assert_int_equal(dns_reverse_name("::ffff:192.0.2.1", "l.example", q, sizeof q), 0);
    assert_non_null(strstr(q, "1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0"));
    /* not an address, or no room */
    assert_int_equal(dns_reverse_name("mx.example", "l.example", q, sizeof q), -1);
    assert_int_equal(dns_reverse_name("192.0.2.1/24", "l.example", q, sizeof q), -1);
    assert_int_equal(dns_reverse_name("", "l.example", q, sizeof q), -1);
    char small[12];
    assert_int_equal(dns_reverse_name("192.0.2.10", "zen.example", small, sizeof small), -1);
    assert_int_equal(dns_reverse_name("2001:db8::1", "x", small, sizeof small), -1);
}

struct canswer {
    int done;
    struct timespec at;     /* when the callback ran */
    struct dns_check_result res;
    struct dns_peer_result peer;
    int *remaining;
};

static void on_check(void *arg, const struct dns_check_result *res)
{
    struct canswer *a = arg;
    a->done++;
    clock_gettime(CLOCK_MONOTONIC, &a->at);
    a->res = *res;
    (*a->remaining)--;
}

static void on_peer(void *arg, const struct dns_peer_result *res)
{
    struct canswer *a = arg;
    a->done++;
    a->peer = *res;
    (*a->remaining)--;
}

static struct dns_req *check(struct loop *l, struct canswer *a, enum dns_check_kind kind,
                             const char *name, long long timeout_ms)
{
    memset(a, 0, sizeof *a);
    a->remaining = &l->remaining;
    l->remaining++;
    struct dns_req *r = dns_lookup_check(l->dns, kind, name, timeout_ms, on_check, a);
    assert_int_equal(a->done, 0);           /* never inline */
    return r;
}

static void peer(struct loop *l, struct canswer *a, const char *addr)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    assert_int_equal(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
    memset(a, 0, sizeof *a);
    a->remaining = &l->remaining;
    l->remaining++;
    dns_lookup_peer(l->dns, (struct sockaddr *)&sin, 5000, on_peer, a);
    assert_int_equal(a->done, 0);
}

static void test_live_checks(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct canswer h1, h2, h3, d1, d2, d3, d4, d5, x1, x2;
    check(&l, &h1, DNS_CHECK_HOST, "mx1.a.test", 5000);
    check(&l, &h2, DNS_CHECK_HOST, "a.test", 5000);          /* MX only */
    check(&l, &h3, DNS_CHECK_HOST, "nothing.test", 5000);
    check(&l, &d1, DNS_CHECK_DOMAIN, "a.test", 5000);
    check(&l, &d2, DNS_CHECK_DOMAIN, "nullmx.test", 5000);
    check(&l, &d3, DNS_CHECK_DOMAIN, "v6only.test.", 5000);  /* AAAA, final dot */
    check(&l, &d4, DNS_CHECK_DOMAIN, "nothing.test", 5000);
    check(&l, &d5, DNS_CHECK_DOMAIN, "outside.example", 5000); /* REFUSED */
    check(&l, &x1, DNS_CHECK_DNSXL, "2.0.0.127.rbl.test", 5000);
    check(&l, &x2, DNS_CHECK_DNSXL, "3.0.0.127.rbl.test", 5000);
    run(&l, 20);
    assert_int_equal(h1.res.status, DNS_OK);
    assert_int_equal(h2.res.status, DNS_OK);
    assert_int_equal(h3.res.status, DNS_NOTFOUND);
    assert_int_equal(d1.res.status, DNS_OK);
    assert_int_equal(d2.res.status, DNS_NULLMX);
    assert_int_equal(d3.res.status, DNS_OK);
    assert_int_equal(d4.res.status, DNS_NOTFOUND);
    assert_int_equal(d5.res.status, DNS_TEMPFAIL);
    assert_non_null(strstr(d5.res.error, "outside.example: "));
    assert_int_equal(x1.res.status, DNS_OK);
    assert_int_equal(x1.res.naddr, 1);
    assert_memory_equal(x1.res.addr[0], "\x7f\x00\x00\x02", 4);
    /* both TXT records, in either order */
    assert_non_null(strstr(x1.res.txt, "Listed for testing"));
    assert_non_null(strstr(x1.res.txt, " / "));
    assert_non_null(strstr(x1.res.txt, "see example"));
    assert_int_equal(x2.res.status, DNS_NOTFOUND);
    assert_int_equal(x2.res.naddr, 0);
    loop_free(&l);
}

static void test_live_peer(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_dm.port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct canswer ok, forged, none, local;
    peer(&l, &ok, "127.0.0.4");         /* implicit.test, and back */
    peer(&l, &forged, "127.0.0.6");     /* mx1.a.test, which is 127.0.0.2 */
    peer(&l, &none, "127.0.0.9");       /* no PTR */
    peer(&l, &local, "127.0.0.1");      /* the hosts file */
    run(&l, 20);
    assert_int_equal(ok.peer.name_status, DNS_PEER_OK);
    assert_string_equal(ok.peer.name, "implicit.test");
    assert_string_equal(ok.peer.warning, "");
    assert_int_equal(forged.peer.name_status, DNS_PEER_FORGED);
    assert_int_equal(forged.peer.reverse_status, DNS_PEER_OK);
    assert_string_equal(forged.peer.name, "unknown");
    assert_string_equal(forged.peer.reverse_name, "mx1.a.test");
    assert_string_equal(forged.peer.warning,
                        "hostname mx1.a.test does not resolve to address 127.0.0.6");
    assert_int_equal(none.peer.name_status, DNS_PEER_PERM);
    assert_int_equal(none.peer.reverse_status, DNS_PEER_PERM);
    assert_string_equal(none.peer.name, "unknown");
    assert_int_equal(local.peer.name_status, DNS_PEER_OK);
    assert_string_equal(local.peer.name, "localhost");
    loop_free(&l);
}

/* A server that never answers: the deadline answers, a cancelled check
 * never does, and dns_free answers what is left. */
static void test_live_check_deadline_cancel_free(void **state)
{
    (void)state;
    char srv[64];
    server_arg(srv, sizeof srv, g_silent_port);
    const char *servers[] = { srv };
    struct loop l;
    loop_init(&l, servers, 1);
    struct canswer t, c, f;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    check(&l, &t, DNS_CHECK_DNSXL, "2.0.0.127.rbl.test", 300);
    struct dns_req *r = check(&l, &c, DNS_CHECK_DOMAIN, "a.test", 300);
    dns_cancel(r);
    l.remaining--;                      /* c never answers */
    run(&l, 10);
    t1 = t.at;
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_int_equal(t.done, 1);
    assert_int_equal(t.res.status, DNS_TEMPFAIL);
    assert_non_null(strstr(t.res.error, "timed out"));
    assert_true(ms >= 250 && ms < 2000);
    assert_int_equal(c.done, 0);
    /* pending without a deadline: answered by dns_free */
    check(&l, &f, DNS_CHECK_HOST, "a.test", 0);
    struct timeval tv = { 0, 50000 };
    event_base_loopexit(l.base, &tv);
    event_base_dispatch(l.base);
    assert_int_equal(f.done, 0);
    dns_free(l.dns);
    l.dns = NULL;
    assert_int_equal(f.done, 1);
    assert_int_equal(f.res.status, DNS_TEMPFAIL);
    assert_non_null(strstr(f.res.error, "resolver shut down"));
    assert_int_equal(c.done, 0);
    event_base_free(l.base);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_sort_order),
        cmocka_unit_test(test_sort_stable_without_rnd),
        cmocka_unit_test(test_sort_zero_rnd),
        cmocka_unit_test(test_sort_shuffles_equal_prefs),
        cmocka_unit_test(test_sort_same_rnd_same_order),
        cmocka_unit_test(test_null_mx),
        cmocka_unit_test(test_bad_servers),
        cmocka_unit_test(test_reverse_name),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_live_mx),
        cmocka_unit_test(test_live_big_mx),
        cmocka_unit_test(test_live_host),
        cmocka_unit_test(test_live_equal_pref_shuffle),
        cmocka_unit_test(test_live_refused),
        cmocka_unit_test(test_live_dead_server),
        cmocka_unit_test(test_live_timeout),
        cmocka_unit_test(test_live_second_server),
        cmocka_unit_test(test_free_pending),
        cmocka_unit_test(test_callback_resolves_again),
        cmocka_unit_test(test_callback_frees),
        cmocka_unit_test(test_live_checks),
        cmocka_unit_test(test_live_peer),
        cmocka_unit_test(test_live_check_deadline_cancel_free),
    };
    int rc = cmocka_run_group_tests_name("dns (pure)", pure, NULL, NULL);
    rc |= cmocka_run_group_tests_name("dns (dnsmasq)", live, live_setup, live_teardown);
    return rc;
}
