/* libFuzzer harness for the restriction lists (see fuzz/README.md).
 *
 * The first byte picks what the rest is:
 *   even: a restriction list (split on commas and blanks as main.cf values
 *         are) for the list numbered (byte / 2) % 6; it is parsed with the
 *         other lists at postern's defaults, any "type:/path" opening a
 *         small table of that type;
 *   odd:  the result of an access table entry ("REJECT 5.7.1 text",
 *         "451 ...", "permit_mynetworks, reject"...), put behind
 *         check_client_access.
 * When the configuration loads, RCPT, MAIL, DATA and header From: checks run
 * on a fixed snapshot. Besides ASan/UBSan, it aborts when an invariant
 * breaks:
 *   - a configuration that does not load reported at least one error, and
 *     every message starts with its parameter's name;
 *   - a decision is 0 or a code 400..599 whose reply starts with that code,
 *     a space and an enhanced status code of the same class, is at most 510
 *     bytes and holds no control byte;
 *   - a decision that asks for a DNS answer (need) has no code.
 * The DNS restrictions get answers made up from the name asked (every
 * status, A records 127.0.0.x, a long TXT); a name answered "missing"
 * stays missing, so the need path runs too. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/maps.h"
#include "policy/restrict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static const char *table_value;     /* odd mode: the access result */

static struct map *open_table(void *arg, const char *spec, char *err, size_t errlen)
{
    (void)arg;
    const char *text = "192.0.2.1 OK\n";
    char buf[4200];
    if (table_value) {
        snprintf(buf, sizeof buf, "192.0.2.1 %s\n", table_value);
        text = buf;
    } else if (strncmp(spec, "regexp:", 7) == 0 || strncmp(spec, "pcre:", 5) == 0) {
        text = "/^(.*)@example\\.com$/ $1\n/./ REJECT no\n";
    } else if (strncmp(spec, "cidr:", 5) == 0) {
        text = "192.0.2.0/24 REJECT\n::/0 DUNNO\n";
    }
    return map_open_text(spec, 0, text, strlen(text), err, errlen);
}

static size_t nerr;

static void on_error(void *arg, const char *param, const char *msg)
{
    (void)arg;
    nerr++;
    check(strncmp(msg, param, strlen(param)) == 0, "error does not start with its param");
}

static struct dns_check_result fact_res;

static const struct dns_check_result *fake_fact(void *arg, enum dns_check_kind kind,
                                                const char *name)
{
    (void)arg;
    unsigned h = (unsigned)kind * 31u;
    for (const char *p = name; *p; p++)
        h = h * 33u + (unsigned char)*p;
    if (h % 7 == 0)
        return NULL;        /* not asked yet */
    memset(&fact_res, 0, sizeof fact_res);
    fact_res.status = (enum dns_status)(h % 4);
    fact_res.naddr = 1 + h % 3;
    for (size_t i = 0; i < fact_res.naddr; i++) {
        fact_res.addr[i][0] = 127;
        fact_res.addr[i][3] = (unsigned char)(h >> (i * 3));
    }
    memset(fact_res.txt, h % 2 ? 'x' : '\t', sizeof fact_res.txt - 1);
    snprintf(fact_res.error, sizeof fact_res.error, "%s: made up", name);
    return &fact_res;
}

static void check_result(const struct restrict_result *r)
{
    if (r->need[0])
        check(r->code == 0, "a code while asking for DNS");
    if (r->code == 0)
        return;
    check(r->code >= 400 && r->code <= 599, "code out of range");
    char code[8];
    snprintf(code, sizeof code, "%d ", r->code);
    check(strncmp(r->reply, code, 4) == 0, "reply does not start with its code");
    check(r->reply[4] == r->reply[0] && r->reply[5] == '.', "enhanced status class");
    size_t n = strlen(r->reply);
    check(n <= 510, "reply longer than 510 bytes");
    for (size_t i = 0; i < n; i++)
        check((unsigned char)r->reply[i] >= 0x20 && r->reply[i] != 0x7f, "control byte");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *tok[256];
    size_t ntok = 0;
    const char *client_list[] = { "check_client_access", "hash:/fuzz/access" };
    char *relay_default[] = { "permit_mynetworks", "permit_sasl_authenticated",
                              "reject_unauth_destination" };
    char *mydest[] = { "example.com" }, *relay[] = { "relay.example" };
    struct restrict_settings s = {
        .mydestination = mydest, .nmydestination = 1,
        .relay_domains = relay, .nrelay_domains = 1,
        .sender_login_maps = "hash:/fuzz/logins", .local_recipient_maps = "",
        .relay_recipient_maps = "", .reject_unlisted_recipient = 1,
        .sender_header_check = 1,
    };
    s.list[RESTRICT_RELAY] = relay_default;
    s.nlist[RESTRICT_RELAY] = 3;
    table_value = NULL;
    if (data[0] & 1) {
        table_value = text;
        s.list[RESTRICT_CLIENT] = (char *const *)client_list;
        s.nlist[RESTRICT_CLIENT] = 2;
    } else {
        /* split as main.cf list values are; NUL bytes end the text */
        for (char *p = text; *p && ntok < 256;) {
            p += strspn(p, ", \t\r\n");
            size_t n = strcspn(p, ", \t\r\n");
            if (!n)
                break;
            tok[ntok++] = p;
            p += n;
            if (*p)
                *p++ = '\0';
        }
        int l = (data[0] / 2) % RESTRICT_NLISTS;
        s.list[l] = tok;
        s.nlist[l] = ntok;
    }
    nerr = 0;
    struct restrict_io io = { open_table, on_error, NULL };
    struct restrict_conf *rc = restrict_conf_new(&s, &io);
    if (!rc) {
        check(nerr > 0, "refused without an error");
        free(text);
        return 0;
    }
    struct restrict_snapshot snap = {
        .client_addr = "192.0.2.1", .client_name = "mx.client.example", .sasl_enabled = 1,
        .helo = "mx.client.example", .sender = "alice@example.com",
        .recipient = "bob@other.example", .rcpt_count = 1, .dns_fact = fake_fact,
        .client_name_status = (enum dns_peer)(size % 4),
        .reverse_name_status = (enum dns_peer)(size % 3),
    };
    struct restrict_result r;
    for (int pass = 0; pass < 2; pass++) {
        restrict_check_rcpt(rc, &snap, &r);
        check_result(&r);
        restrict_check_mail(rc, &snap, &r);
        check_result(&r);
        restrict_check_data(rc, &snap, &r);
        check_result(&r);
        restrict_check_header_from(rc, &snap, "carol@example.com", &r);
        check_result(&r);
        snap.sasl_username = "alice";
        snap.in_mynetworks = 1;
        snap.sender = "";
        snap.recipient = "x%y@example.com";
    }
    restrict_conf_free(rc);
    free(text);
    return 0;
}
