/* bounce — delivery status notifications (RFC 3464, RFC 6522), pure.
 *
 * The message is built part by part into separate buffers first, so that the
 * MIME boundary can be checked against everything it will enclose before the
 * parts are joined. Wording after Postfix's bounce templates. */
#include "queue/bounce.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/sbuf.h"
#include "util/utf8.h"

/* Longest line we write ourselves, CRLF excluded: well below RFC 5322's 998. */
#define LINE_MAX_OCTETS 900
#define BOUNDARY_MAX 70     /* RFC 2046 */
#define BOUNDARY_BASE 53    /* leaves room for "=" and 16 hex digits */
#define SEED_MAX 24         /* of the seed in the boundary and Message-ID */

/* ---------- text helpers ---------- */

/* Append s made safe for one logical line: control characters (CR, LF, TAB,
 * NUL, ...) become spaces, runs of white space collapse to one, the ends are
 * trimmed. Invalid UTF-8 and C1 controls become '?'; with ascii_only every
 * non-ASCII character does. */
static void put_clean(struct sbuf *b, const char *s, int ascii_only)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    int pending_space = 0, any = 0;
    while (i < n) {
        unsigned char c = u[i];
        if (c < 0x20 || c == 0x7f || c == ' ') {
            pending_space = any;
            i++;
            continue;
        }
        if (pending_space) {
            sbuf_char(b, ' ');
            pending_space = 0;
        }
        any = 1;
        if (c < 0x80) {
            sbuf_char(b, (char)c);
            i++;
            continue;
        }
        uint32_t cp;
        size_t l = utf8_decode(u + i, n - i, &cp);
        if (l == 0) {
            sbuf_char(b, '?');
            i++;
        } else {
            if (ascii_only || cp < 0xa0)
                sbuf_char(b, '?');
            else
                sbuf_add(b, s + i, l);
            i += l;
        }
    }
}

/* A cleaned copy of s (NULL on ENOMEM). */
static char *clean_dup(const char *s, int ascii_only)
{
    struct sbuf b = SBUF_INIT;
    put_clean(&b, s ? s : "", ascii_only);
    return sbuf_take(&b, NULL);
}

/* Write "<prefix><value>\r\n", folded before LINE_MAX_OCTETS. value is a
 * cleaned single line (single spaces, no controls): folds go at a space,
 * which then starts the continuation line (RFC 5322 folding, so unfolding
 * gives the value back); a word too long for a line is broken at a UTF-8
 * character boundary with an inserted space. */
static void put_folded(struct sbuf *b, const char *prefix, const char *value)
{
    size_t col = strlen(prefix);
    sbuf_str(b, prefix);
    const char *v = value;
    size_t n = strlen(v);
    while (n > 0) {
        size_t room = col < LINE_MAX_OCTETS ? LINE_MAX_OCTETS - col : 1;
        if (n <= room) {
            sbuf_add(b, v, n);
            break;
        }
        /* last space in v[1..room] (a fold right at v[0] would make no
         * progress on a continuation line that starts with it) */
        size_t cut = 0;
        for (size_t i = room; i >= 1; i--) {
            if (v[i] == ' ') {
                cut = i;
                break;
            }
        }
        if (cut) {
            sbuf_add(b, v, cut);
            sbuf_str(b, "\r\n");
            v += cut;               /* continuation starts with the space */
            n -= cut;
            col = 0;
            continue;
        }
        /* no space: hard break on a character boundary */
        cut = room;
        while (cut > 1 && ((unsigned char)v[cut] & 0xc0) == 0x80)
            cut--;
        sbuf_add(b, v, cut);
        sbuf_str(b, "\r\n ");
        v += cut;
        n -= cut;
        col = 1;
    }
    sbuf_str(b, "\r\n");
}

/* RFC 5322 date, UTC. */
static void fmt_date(char *out, size_t outlen, long long t)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    time_t tt = (time_t)t;
    if ((long long)tt != t || t < 0 || !gmtime_r(&tt, &tm) || tm.tm_year > 9999 - 1900) {
        tt = 0;
        gmtime_r(&tt, &tm);
    }
    snprintf(out, outlen, "%s, %d %s %04d %02d:%02d:%02d +0000",
             wd[tm.tm_wday % 7], tm.tm_mday, mo[tm.tm_mon % 12], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* "4.0 hours", Postfix style. */
static void fmt_duration(char *out, size_t outlen, long long secs)
{
    if (secs < 0)
        secs = 0;
    if (secs < 120)
        snprintf(out, outlen, "%lld seconds", secs);
    else if (secs < 2 * 3600)
        snprintf(out, outlen, "%lld minutes", secs / 60);
    else if (secs < 2 * 86400)
        snprintf(out, outlen, "%lld.%lld hours", secs / 3600, secs % 3600 * 10 / 3600);
    else
        snprintf(out, outlen, "%lld.%lld days", secs / 86400, secs % 86400 * 10 / 86400);
}

/* Keep only characters safe in a boundary (with dots) or a Message-ID
 * dot-atom part (without). */
static void put_token(struct sbuf *b, const char *s, size_t max, int dots)
{
    size_t n = 0;
    for (; s && *s && n < max; s++) {
        char c = *s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            (c == '.' && dots) || c == '-' || c == '_') {
            sbuf_char(b, c);
            n++;
        }
    }
}

static int hostname_ok(const char *h)
{
    if (!h || !*h || strlen(h) > 255)
        return 0;
    for (; *h; h++) {
        char c = *h;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == '[' || c == ']' || c == ':'))
            return 0;
    }
    return 1;
}

/* "5.1.1": class 2, 4 or 5, then two numbers of 1-3 digits. */
static int dsn_ok(const char *d)
{
    if (!(d[0] == '2' || d[0] == '4' || d[0] == '5') || d[1] != '.')
        return 0;
    const char *p = d + 2;
    for (int part = 0; part < 2; part++) {
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            p++;
            digits++;
        }
        if (digits < 1 || digits > 3)
            return 0;
        if (part == 0 && *p++ != '.')
            return 0;
    }
    return *p == '\0';
}

/* A reason that is an SMTP reply ("550 5.1.1 ...", "421-...") is reported as
 * Diagnostic-Code type smtp, anything else (local errors) as X-Postern. */
static int is_smtp_reply(const char *r)
{
    return r[0] >= '2' && r[0] <= '5' && r[1] >= '0' && r[1] <= '9' &&
           r[2] >= '0' && r[2] <= '9' && (r[3] == ' ' || r[3] == '-' || r[3] == '\0');
}

/* RFC 6533 utf-8-addr-xtext: ASCII printable except '+', '=', '\' as is,
 * everything else as \x{HEX}. */
static void put_utf8_xtext(struct sbuf *b, const char *addr)
{
    const unsigned char *u = (const unsigned char *)addr;
    size_t n = strlen(addr), i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_decode(u + i, n - i, &cp);
        if (l == 0) {
            cp = '?';
            l = 1;
        }
        if (cp > 0x20 && cp < 0x7f && cp != '+' && cp != '=' && cp != '\\')
            sbuf_char(b, (char)cp);
        else
            sbuf_printf(b, "\\x{%02X}", (unsigned)cp);
        i += l;
    }
}

/* 64-bit FNV-1a, to perturb the boundary unpredictably on a collision. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *u = p;
    for (size_t i = 0; i < n; i++) {
        h ^= u[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---------- original content ---------- */

/* Length of the header section of content: up to and including the line end
 * before the first empty line, or everything when there is none. */
static size_t header_len(const char *c, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (c[i] == '\n' || (c[i] == '\r' && i + 1 < len && c[i + 1] == '\n'))
            return i;      /* empty line starts at i */
        const char *nl = memchr(c + i, '\n', len - i);
        if (!nl)
            return len;
        i = (size_t)(nl - c) + 1;
    }
    return len;
}

/* Longest prefix of the header section h (hlen) not above limit that ends
 * at a header field boundary: a line end not followed by a continuation
 * line, so no field is returned half. Nothing when the first field is
 * already too long. */
static size_t header_cut(const char *h, size_t hlen, size_t limit)
{
    size_t best = 0;
    for (size_t i = 0; i < hlen && i < limit; i++) {
        if (h[i] != '\n')
            continue;
        size_t end = i + 1;
        if (end == hlen || (h[end] != ' ' && h[end] != '\t'))
            best = end;
    }
    return best;
}

/* ---------- composition ---------- */

static int included(const struct envelope *env, const struct bounce_params *p, size_t i)
{
    if (p->include)
        return p->include[i] != 0;
    return env->rcpt[i].state == (p->kind == BOUNCE_DELAYED ? RCPT_DEFERRED : RCPT_BOUNCED);
}

static void part_text(struct sbuf *b, const struct envelope *env, const struct bounce_params *p,
                      int whole, const char *host)
{
    sbuf_printf(b, "This is the mail system at host %s.\r\n\r\n", host);
    if (p->kind == BOUNCE_DELAYED) {
        char dur[64];
        sbuf_str(b,
                "####################################################################\r\n"
                "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
                "####################################################################\r\n"
                "\r\n");
        fmt_duration(dur, sizeof dur, p->now - env->arrival_sec);
        sbuf_printf(b, "Your message could not be delivered for %s.\r\n", dur);
        if (p->lifetime > 0) {
            fmt_duration(dur, sizeof dur, p->lifetime);
            sbuf_printf(b, "It is still being retried: the mail system will keep trying "
                         "until the message is %s old.\r\n", dur);
        } else {
            sbuf_str(b, "It is still being retried.\r\n");
        }
    } else {
        sbuf_printf(b, "I'm sorry to have to inform you that your message could not be "
                     "delivered to one or more recipients. %s\r\n",
                  whole ? "It's attached below." : "Its headers are attached below.");
    }
    sbuf_str(b, "\r\n"
               "For further assistance, please send mail to postmaster.\r\n"
               "\r\n"
               "If you do so, please include this problem report. You can\r\n"
               "delete your own text from the attached returned message.\r\n"
               "\r\n"
               "                   The mail system\r\n"
               "\r\n");
    for (size_t i = 0; i < env->nrcpt; i++) {
        if (!included(env, p, i))
            continue;
        const struct env_rcpt *r = &env->rcpt[i];
        /* one line "<addr>: reason", folded only when too long */
        struct sbuf line = SBUF_INIT;
        sbuf_char(&line, '<');
        put_clean(&line, r->addr ? r->addr : "", 0);
        sbuf_str(&line, ">: ");
        size_t mark = line.len;
        put_clean(&line, r->reason ? r->reason : "", 0);
        if (line.len == mark)
            sbuf_printf(&line, "%s (status %s)",
                      p->kind == BOUNCE_DELAYED ? "delivery temporarily deferred"
                                                : "undeliverable",
                      dsn_ok(r->dsn) ? r->dsn : p->kind == BOUNCE_DELAYED ? "4.0.0" : "5.0.0");
        if (line.oom)
            b->oom = 1;
        else
            put_folded(b, "", line.s);
        sbuf_free(&line);
    }
}

static void part_status(struct sbuf *b, const struct envelope *env,
                        const struct bounce_params *p, const char *host, const char *qid)
{
    char date[64], now[64];
    fmt_date(date, sizeof date, env->arrival_sec);
    fmt_date(now, sizeof now, p->now);
    sbuf_printf(b, "Reporting-MTA: dns; %s\r\n", host);
    sbuf_printf(b, "X-Postern-Queue-ID: %s\r\n", qid);
    sbuf_printf(b, "Arrival-Date: %s\r\n", date);
    char *mta = p->remote_mta ? clean_dup(p->remote_mta, 1) : NULL;
    if (p->remote_mta && !mta) {
        b->oom = 1;
        return;
    }
    for (size_t i = 0; i < env->nrcpt && !b->oom; i++) {
        if (!included(env, p, i))
            continue;
        const struct env_rcpt *r = &env->rcpt[i];
        const char *addr = r->addr ? r->addr : "";
        sbuf_str(b, "\r\n");
        struct sbuf v = SBUF_INIT;
        if (!utf8_has_8bit(addr, strlen(addr))) {
            sbuf_str(&v, "rfc822; ");
            put_clean(&v, addr, 1);
        } else {
            sbuf_str(&v, "utf-8; ");
            put_utf8_xtext(&v, addr);
        }
        if (v.oom) {
            b->oom = 1;
            sbuf_free(&v);
            break;
        }
        put_folded(b, "Final-Recipient: ", v.s);
        sbuf_free(&v);
        sbuf_printf(b, "Action: %s\r\n", p->kind == BOUNCE_DELAYED ? "delayed" : "failed");
        sbuf_printf(b, "Status: %s\r\n",
                  dsn_ok(r->dsn) ? r->dsn : p->kind == BOUNCE_DELAYED ? "4.0.0" : "5.0.0");
        if (mta && *mta)
            put_folded(b, "Remote-MTA: dns; ", mta);
        char *reason = clean_dup(r->reason, 1);
        if (!reason) {
            b->oom = 1;
            break;
        }
        if (*reason)
            put_folded(b, is_smtp_reply(reason) ? "Diagnostic-Code: smtp; "
                                                 : "Diagnostic-Code: X-Postern; ",
                       reason);
        free(reason);
        sbuf_printf(b, "Last-Attempt-Date: %s\r\n", now);
        if (p->kind == BOUNCE_DELAYED && p->lifetime > 0 &&
            env->arrival_sec <= LLONG_MAX - p->lifetime) {
            char until[64];
            fmt_date(until, sizeof until, env->arrival_sec + p->lifetime);
            sbuf_printf(b, "Will-Retry-Until: %s\r\n", until);
        }
    }
    free(mta);
}

/* Does needle occur in any of the n buffers? */
static int occurs(const struct sbuf *parts, size_t n, const char *needle, size_t nlen,
                  const char *orig, size_t olen)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].len && memmem(parts[i].s, parts[i].len, needle, nlen))
            return 1;
    return olen && memmem(orig, olen, needle, nlen) != NULL;
}

char *bounce_compose(const struct envelope *env, const char *content, size_t len,
                     const struct bounce_params *p, size_t *outlen)
{
    if (!env || !p || !outlen || (!content && len) || !hostname_ok(p->myhostname) ||
        (env->nrcpt && !env->rcpt)) {
        errno = EINVAL;
        return NULL;
    }
    size_t count = 0;
    for (size_t i = 0; i < env->nrcpt; i++)
        count += included(env, p, i) ? 1 : 0;
    if (count == 0) {
        errno = EINVAL;
        return NULL;
    }
    const char *host = p->myhostname;
    char qid[QID_LEN + 1];
    {
        size_t q = 0;
        for (size_t i = 0; i < QID_LEN && env->qid[i]; i++) {
            char c = env->qid[i];
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                qid[q++] = c;
        }
        qid[q] = '\0';
    }

    /* part 3: what of the original goes back */
    int whole = p->size_limit > 0 && (unsigned long long)p->size_limit >= len;
    size_t olen = len;
    if (!whole) {
        olen = header_len(content, len);
        if (p->size_limit > 0 && (unsigned long long)olen > (unsigned long long)p->size_limit)
            olen = header_cut(content, olen, (size_t)p->size_limit);
    }

    struct sbuf parts[3] = {SBUF_INIT, SBUF_INIT, SBUF_INIT};   /* text, status, part-3 headers */
    struct sbuf bnd = SBUF_INIT, out = SBUF_INIT;
    char *ret = NULL;
    int saved = ENOMEM;

    part_text(&parts[0], env, p, whole, host);
    part_status(&parts[1], env, p, host, qid);
    if (whole)
        sbuf_str(&parts[2], "Content-Description: Undelivered Message\r\n"
                           "Content-Type: message/rfc822\r\n");
    else
        sbuf_str(&parts[2], "Content-Description: Undelivered Message Headers\r\n"
                           "Content-Type: text/rfc822-headers\r\n");
    if (utf8_has_8bit(content, olen))
        sbuf_str(&parts[2], "Content-Transfer-Encoding: 8bit\r\n");
    sbuf_str(&parts[2], "\r\n");
    if (parts[0].oom || parts[1].oom || parts[2].oom)
        goto done;

    /* boundary: qid, seed, host; perturbed until it occurs nowhere inside */
    sbuf_str(&bnd, qid);
    sbuf_char(&bnd, '.');
    if (p->boundary_seed && *p->boundary_seed)
        put_token(&bnd, p->boundary_seed, SEED_MAX, 1);
    else
        sbuf_printf(&bnd, "%lld", p->now);
    sbuf_str(&bnd, "/");
    put_token(&bnd, host, bnd.len < BOUNDARY_BASE ? BOUNDARY_BASE - bnd.len : 0, 1);
    if (bnd.oom)
        goto done;
    size_t base_len = bnd.len;
    uint64_t h = 0xcbf29ce484222325ULL;
    if (p->boundary_seed)
        h = fnv1a(h, p->boundary_seed, strlen(p->boundary_seed));
    h = fnv1a(h, content, olen);
    for (unsigned tries = 0;; tries++) {
        if (!occurs(parts, 3, bnd.s, bnd.len, content, olen))
            break;
        if (tries >= 1000) {
            saved = EAGAIN;
            goto done;
        }
        h = fnv1a(h, &tries, sizeof tries);
        sbuf_truncate(&bnd, base_len);
        sbuf_printf(&bnd, "=%016llx", (unsigned long long)h);
        if (bnd.oom)
            goto done;
    }

    /* headers */
    char date[64];
    fmt_date(date, sizeof date, p->now);
    sbuf_printf(&out, "Date: %s\r\n", date);
    sbuf_printf(&out, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n", host);
    sbuf_printf(&out, "Subject: %s\r\n", p->kind == BOUNCE_DELAYED
                                           ? "Delayed Mail (still being retried)"
                                           : "Undelivered Mail Returned to Sender");
    {
        char *to = NULL;
        if (env->sender && *env->sender) {
            to = clean_dup(env->sender, 0);
            if (!to)
                goto done;
        }
        if (to && *to) {
            put_folded(&out, "To: ", to);
        } else {
            sbuf_printf(&out, "To: postmaster@%s\r\n", host);
        }
        free(to);
    }
    sbuf_str(&out, "Auto-Submitted: auto-replied\r\n");
    sbuf_str(&out, "MIME-Version: 1.0\r\n");
    sbuf_printf(&out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                    "\tboundary=\"%s\"\r\n", bnd.s);
    {
        struct tm tm;
        time_t tt = (time_t)p->now;
        char stamp[32] = "0";
        if ((long long)tt == p->now && gmtime_r(&tt, &tm) && tm.tm_year >= 0 &&
            tm.tm_year <= 9999 - 1900)
            snprintf(stamp, sizeof stamp, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        sbuf_printf(&out, "Message-ID: <%s", stamp);
        if (*qid)
            sbuf_printf(&out, ".%s", qid);
        size_t mark = out.len;
        sbuf_char(&out, '.');
        put_token(&out, p->boundary_seed, SEED_MAX, 0);
        if (out.len == mark + 1 && !out.oom)
            sbuf_truncate(&out, mark);  /* nothing usable in the seed */
        sbuf_printf(&out, "@%s>\r\n", host);
    }
    sbuf_str(&out, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

    sbuf_printf(&out, "--%s\r\n", bnd.s);
    sbuf_str(&out, "Content-Description: Notification\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n");
    if (utf8_has_8bit(parts[0].s, parts[0].len))
        sbuf_str(&out, "Content-Transfer-Encoding: 8bit\r\n");
    sbuf_str(&out, "\r\n");
    sbuf_add(&out, parts[0].s, parts[0].len);

    sbuf_printf(&out, "\r\n--%s\r\n", bnd.s);
    sbuf_str(&out, "Content-Description: Delivery report\r\n"
                  "Content-Type: message/delivery-status\r\n\r\n");
    sbuf_add(&out, parts[1].s, parts[1].len);

    sbuf_printf(&out, "\r\n--%s\r\n", bnd.s);
    sbuf_add(&out, parts[2].s, parts[2].len);
    sbuf_add(&out, content, olen);
    sbuf_printf(&out, "\r\n--%s--\r\n", bnd.s);

    {
        size_t n;
        if ((ret = sbuf_take(&out, &n)) != NULL)
            *outlen = n;
    }
done:
    sbuf_free(&bnd);
    sbuf_free(&out);
    for (int i = 0; i < 3; i++)
        sbuf_free(&parts[i]);
    if (!ret)
        errno = saved;
    return ret;
}
