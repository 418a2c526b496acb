/* Unit tests for policy/restrict: every restriction, table-driven, with the
 * exact Postfix reply; the stage order; access table results; the
 * parsing errors of the lists. Tables are in-memory texts opened with
 * map_open_text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/maps.h"
#include "policy/restrict.h"

/* ---- tables ------------------------------------------------------------- */

static const struct { const char *spec, *text; } tables[] = {
    { "cidr:/t/clients",
      "192.0.2.0/24 REJECT\n"
      "198.51.100.0/24 DEFER busy, come back later\n"
      "203.0.113.0/25 521 5.7.0 go away\n"
      "203.0.113.128/25 OK\n"
      "[2001:db8::]/32 PERMIT\n" },
    { "hash:/t/client_names",
      "client.example.net REJECT by name\n"
      "example.org REJECT parent domain\n"
      "192.0.2 REJECT network\n"
      "2001:db8:1 REJECT v6 network\n" },
    { "hash:/t/senders",
      "spammer@bad.example REJECT\n"
      "bad.example 550 5.7.1 no mail from you\n"
      "lists.example DEFER 4.1.1 try later\n"
      "sub.parent.example DUNNO\n"
      "parent.example REJECT parent\n"
      "<> REJECT no bounces here\n"
      "noreply@ REJECT user at any domain\n"
      "ok@bad.example OK\n" },
    { "regexp:/t/recipients",
      "/^abuse@/ OK\n"
      "/^hold@/ HOLD\n"
      "/^nested@/ hash:/t/senders\n"
      "/^list@/ permit_mynetworks, reject\n"
      "/^upper@/ PERMIT\n"
      "/^digits@/ 20260101\n"
      "/^warn@/ WARN looked at\n"
      "/^empty@/ ,\n"
      "/^weird@/ frobnicate\n"
      "/^code@/ 421 4.3.2 shutting down\n"
      "/^nodsn@/ 550 no dsn here\n"
      "/%/ OK\n" },
    { "hash:/t/helos",
      "bad.example.net REJECT\n"
      "1.2.3.4 REJECT numeric\n" },
    { "hash:/t/logins",
      "alice@ours.example alice\n"
      "bob@ours.example bob\n"
      "carol alice\n"
      "@shared.example alice, bob\n"
      "team@ours.example alice bob,carol\n" },
    { "regexp:/t/logins_re",
      "/^(.*)@regex\\.example$/ $1\n" },
    { "hash:/t/local_users",
      "alice x\n"
      "bob@ours.example x\n" },
    { "hash:/t/relay_users",
      "known@relay.example x\n"
      "@catchall.example x\n" },
};

static struct map *open_table(void *arg, const char *spec, char *err, size_t errlen)
{
    (void)arg;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (strcmp(tables[i].spec, spec) == 0)
            return map_open_text(spec, 0, tables[i].text, strlen(tables[i].text), err,
                                 errlen);
    snprintf(err, errlen, "%s: cannot open: No such file or directory", spec);
    return NULL;
}

/* Errors collected while loading. */
static char errs[16][1024];
static size_t nerrs;

static void on_error(void *arg, const char *param, const char *msg)
{
    (void)arg;
    if (nerrs < 16)
        snprintf(errs[nerrs], sizeof errs[0], "[%s] %s", param, msg);
    nerrs++;
}

/* ---- configuration from "name = value" lines ------------------------------ */

struct split {
    char *v[64];
    size_t n;
};

static void split(struct split *sp, const char *value)
{
    sp->n = 0;
    const char *p = value;
    while (*p && sp->n < 64) {
        p += strspn(p, ", \t");
        size_t len = strcspn(p, ", \t");
        if (!len)
            break;
        sp->v[sp->n++] = strndup(p, len);
        p += len;
    }
}

static void split_free(struct split *sp)
{
    for (size_t i = 0; i < sp->n; i++)
        free(sp->v[i]);
    sp->n = 0;
}

static const char *const list_names[RESTRICT_NLISTS] = {
    "smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
    "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "smtpd_data_restrictions",
};

/* Build a conf from lines; defaults as postern's: the relay list
 * permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination;
 * mydestination ours.example; smtpd_reject_unlisted_recipient = yes. */
static struct restrict_conf *mk(const char *lines)
{
    struct split lists[RESTRICT_NLISTS], mydest, relay;
    const char *login = "", *local = "", *relay_users = "";
    char *copy = strdup(lines);
    struct restrict_settings s = { .reject_unlisted_recipient = 1 };
    split(&lists[RESTRICT_RELAY], "permit_mynetworks, permit_sasl_authenticated, "
                                  "reject_unauth_destination");
    for (int l = 0; l < RESTRICT_NLISTS; l++)
        if (l != RESTRICT_RELAY)
            lists[l].n = 0;
    split(&mydest, "ours.example");
    relay.n = 0;
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        assert_non_null(eq);
        *eq = '\0';
        char *name = line, *value = eq + 1;
        name[strcspn(name, " ")] = '\0';
        value += strspn(value, " ");
        int done = 0;
        for (int l = 0; l < RESTRICT_NLISTS; l++)
            if (strcmp(name, list_names[l]) == 0) {
                split_free(&lists[l]);
                split(&lists[l], value);
                done = 1;
            }
        if (done)
            continue;
        if (strcmp(name, "mydestination") == 0) {
            split_free(&mydest);
            split(&mydest, value);
        } else if (strcmp(name, "relay_domains") == 0) {
            split(&relay, value);
        } else if (strcmp(name, "smtpd_sender_login_maps") == 0) {
            login = value;
        } else if (strcmp(name, "local_recipient_maps") == 0) {
            local = value;
        } else if (strcmp(name, "relay_recipient_maps") == 0) {
            relay_users = value;
        } else if (strcmp(name, "allow_untrusted_routing") == 0) {
            s.allow_untrusted_routing = strcmp(value, "yes") == 0;
        } else if (strcmp(name, "smtpd_helo_required") == 0) {
            s.helo_required = strcmp(value, "yes") == 0;
        } else if (strcmp(name, "strict_rfc821_envelopes") == 0) {
            s.strict_rfc821_envelopes = strcmp(value, "yes") == 0;
        } else if (strcmp(name, "smtpd_reject_unlisted_sender") == 0) {
            s.reject_unlisted_sender = strcmp(value, "yes") == 0;
        } else if (strcmp(name, "smtpd_reject_unlisted_recipient") == 0) {
            s.reject_unlisted_recipient = strcmp(value, "yes") == 0;
        } else if (strcmp(name, "smtpd_sender_header_check") == 0) {
            s.sender_header_check = strcmp(value, "yes") == 0;
        } else if (strcmp(name, "unknown_client_reject_code") == 0) {
            s.unknown_client_reject_code = atoi(value);
        } else if (strcmp(name, "unknown_hostname_reject_code") == 0) {
            s.unknown_hostname_reject_code = atoi(value);
        } else if (strcmp(name, "unknown_address_reject_code") == 0) {
            s.unknown_address_reject_code = atoi(value);
        } else if (strcmp(name, "maps_rbl_reject_code") == 0) {
            s.maps_rbl_reject_code = atoi(value);
        } else if (strcmp(name, "unknown_address_tempfail_action") == 0) {
            s.unknown_address_tempfail_action = value;
        } else if (strcmp(name, "unknown_helo_hostname_tempfail_action") == 0) {
            s.unknown_helo_hostname_tempfail_action = value;
        } else {
            fail_msg("test config: unknown name %s", name);
        }
    }
    for (int l = 0; l < RESTRICT_NLISTS; l++) {
        s.list[l] = lists[l].v;
        s.nlist[l] = lists[l].n;
    }
    s.mydestination = mydest.v;
    s.nmydestination = mydest.n;
    s.relay_domains = relay.v;
    s.nrelay_domains = relay.n;
    s.sender_login_maps = login;
    s.local_recipient_maps = local;
    s.relay_recipient_maps = relay_users;
    struct restrict_io io = { open_table, on_error, NULL };
    nerrs = 0;
    struct restrict_conf *rc = restrict_conf_new(&s, &io);
    for (int l = 0; l < RESTRICT_NLISTS; l++)
        split_free(&lists[l]);
    split_free(&mydest);
    split_free(&relay);
    free(copy);
    return rc;
}

/* ---- decisions ------------------------------------------------------------- */

enum stage { RCPT, MAIL, DATA, HFROM };

#define NONE "\x01"     /* this snapshot field is NULL */

struct dcase {
    const char *conf;
    enum stage stage;
    /* snapshot; NULL fields take the defaults below */
    const char *addr, *name, *helo, *sender, *rcpt, *user, *hfrom;
    int mynet, nosasl, tls, utf8;
    const char *want;       /* the reply, "" for no objection */
    const char *warning;    /* expected in res.warning, or NULL */
};

static const char *pick(const char *v, const char *def)
{
    if (!v)
        v = def;
    return v && strcmp(v, NONE) == 0 ? NULL : v;
}

#define DEF_RELAY ""
#define LOGINS "smtpd_sender_login_maps = hash:/t/logins\n"

static const struct dcase dcases[] = {
    /* reject_unauth_destination in the default smtpd_relay_restrictions */
    { "", RCPT, .want = "" },
    { "", RCPT, .rcpt = "u@other.example",
      .want = "554 5.7.1 <u@other.example>: Relay access denied" },
    { "", RCPT, .rcpt = "u@OURS.example.", .want = "" },
    { "", RCPT, .rcpt = "u@[192.0.2.1]",
      .want = "554 5.7.1 <u@[192.0.2.1]>: Relay access denied" },
    /* permit_mynetworks */
    { "", RCPT, .rcpt = "u@other.example", .mynet = 1, .want = "" },
    /* permit_sasl_authenticated: only with AUTH offered */
    { "", RCPT, .rcpt = "u@other.example", .user = "alice", .want = "" },
    { "", RCPT, .rcpt = "u@other.example", .user = "alice", .nosasl = 1,
      .want = "554 5.7.1 <u@other.example>: Relay access denied" },
    /* a bare postmaster passes before any list */
    { "smtpd_client_restrictions = reject", RCPT, .rcpt = "Postmaster", .want = "" },
    /* routing operators (allow_untrusted_routing) */
    { "", RCPT, .rcpt = "a%b@ours.example",
      .want = "554 5.7.1 <a%b@ours.example>: Relay access denied" },
    { "", RCPT, .rcpt = "b!a@ours.example",
      .want = "554 5.7.1 <b!a@ours.example>: Relay access denied" },
    { "", RCPT, .rcpt = "\"a@b\"@ours.example",
      .want = "554 5.7.1 <\"a@b\"@ours.example>: Relay access denied" },
    { "allow_untrusted_routing = yes", RCPT, .rcpt = "a%b@ours.example", .want = "" },
    { "", RCPT, .rcpt = "a%b@other.example", .mynet = 1, .want = "" },
    /* relay_domains: the domain and its subdomains; ".x" only subdomains */
    { "relay_domains = relay.example", RCPT, .rcpt = "u@relay.example", .want = "" },
    { "relay_domains = relay.example", RCPT, .rcpt = "u@mx.Relay.Example", .want = "" },
    { "relay_domains = relay.example", RCPT, .rcpt = "u@notrelay.example",
      .want = "554 5.7.1 <u@notrelay.example>: Relay access denied" },
    { "relay_domains = .relay.example", RCPT, .rcpt = "u@relay.example",
      .want = "554 5.7.1 <u@relay.example>: Relay access denied" },
    { "relay_domains = .relay.example", RCPT, .rcpt = "u@a.relay.example", .want = "" },
    { "relay_domains = relay.example", RCPT, .rcpt = "a%b@relay.example",
      .want = "554 5.7.1 <a%b@relay.example>: Relay access denied" },
    /* defer_unauth_destination: relay_domains_reject_code - 100 */
    { "smtpd_relay_restrictions = permit_mynetworks, defer_unauth_destination", RCPT,
      .rcpt = "u@other.example", .want = "454 4.7.1 <u@other.example>: Relay access denied" },
    /* permit_auth_destination, reject */
    { "smtpd_relay_restrictions = permit_auth_destination, reject", RCPT, .want = "" },
    { "smtpd_relay_restrictions = permit_auth_destination, reject", RCPT,
      .rcpt = "u@other.example",
      .want = "554 5.7.1 <u@other.example>: Recipient address rejected: Access denied" },
    /* permit, reject, defer in each list, with the list's reply name */
    { "smtpd_client_restrictions = reject", RCPT,
      .want = "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied" },
    { "smtpd_client_restrictions = reject", RCPT, .name = "mx.client.example",
      .want = "554 5.7.1 <mx.client.example[192.0.2.10]>: Client host rejected: Access "
              "denied" },
    { "smtpd_helo_restrictions = defer", RCPT,
      .want = "450 4.3.2 <client.example.net>: Helo command rejected: Try again later" },
    { "smtpd_helo_restrictions = defer", RCPT, .helo = NONE, .want = "" },
    { "smtpd_sender_restrictions = reject", RCPT,
      .want = "554 5.7.1 <alice@ours.example>: Sender address rejected: Access denied" },
    { "smtpd_sender_restrictions = reject", RCPT, .sender = "",
      .want = "554 5.7.1 <>: Sender address rejected: Access denied" },
    { "smtpd_recipient_restrictions = defer", RCPT,
      .want = "450 4.3.2 <bob@ours.example>: Recipient address rejected: Try again later" },
    /* a permit ends only its own list; the relay list still runs */
    { "smtpd_client_restrictions = permit", RCPT, .rcpt = "u@other.example",
      .want = "554 5.7.1 <u@other.example>: Relay access denied" },
    /* relay before recipient */
    { "smtpd_recipient_restrictions = defer", RCPT, .rcpt = "u@other.example",
      .want = "554 5.7.1 <u@other.example>: Relay access denied" },
    { "smtpd_relay_restrictions = permit\nsmtpd_recipient_restrictions = "
      "reject_unauth_destination", RCPT, .rcpt = "u@other.example",
      .want = "554 5.7.1 <u@other.example>: Relay access denied" },
    /* client before helo before sender */
    { "smtpd_client_restrictions = defer\nsmtpd_helo_restrictions = reject", RCPT,
      .want = "450 4.3.2 <unknown[192.0.2.10]>: Client host rejected: Try again later" },
    { "smtpd_helo_restrictions = reject\nsmtpd_sender_restrictions = defer", RCPT,
      .want = "554 5.7.1 <client.example.net>: Helo command rejected: Access denied" },
    /* case does not matter in names */
    { "smtpd_client_restrictions = PERMIT_MYNETWORKS, REJECT", RCPT, .mynet = 1,
      .want = "" },
    /* reject_plaintext_session */
    { "smtpd_client_restrictions = reject_plaintext_session", RCPT,
      .want = "450 4.7.1 Session encryption is required" },
    { "smtpd_client_restrictions = reject_plaintext_session", RCPT, .tls = 1, .want = "" },
    /* reject_non_fqdn_helo_hostname (= reject_non_fqdn_hostname) */
    { "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", RCPT, .helo = "localhost",
      .want = "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified "
              "hostname" },
    { "smtpd_helo_restrictions = reject_non_fqdn_hostname", RCPT, .helo = "1.2.3.4",
      .want = "504 5.5.2 <1.2.3.4>: Helo command rejected: need fully-qualified hostname" },
    { "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", RCPT,
      .helo = "mx.example.com.", .want = "" },
    { "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", RCPT,
      .helo = "[192.0.2.1]", .want = "" },
    { "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", RCPT,
      .helo = "[IPv6:2001:db8::1]", .want = "" },
    { "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", RCPT, .helo = "[1.2.3]",
      .want = "501 5.5.2 <[1.2.3]>: Helo command rejected: invalid ip address" },
    /* reject_invalid_helo_hostname (= reject_invalid_hostname) */
    { "smtpd_helo_restrictions = reject_invalid_helo_hostname", RCPT, .helo = "bad_host!",
      .want = "501 5.5.2 <bad_host!>: Helo command rejected: Invalid name" },
    { "smtpd_helo_restrictions = reject_invalid_hostname", RCPT, .helo = "-a.example",
      .want = "501 5.5.2 <-a.example>: Helo command rejected: Invalid name" },
    { "smtpd_helo_restrictions = reject_invalid_helo_hostname", RCPT, .helo = "a..example",
      .want = "501 5.5.2 <a..example>: Helo command rejected: Invalid name" },
    { "smtpd_helo_restrictions = reject_invalid_helo_hostname", RCPT, .helo = "localhost",
      .want = "" },
    { "smtpd_helo_restrictions = reject_invalid_helo_hostname", RCPT, .helo = "1.2.3.4",
      .want = "" },
    { "smtpd_helo_restrictions = reject_invalid_helo_hostname", RCPT, .helo = "[::1]",
      .want = "501 5.5.2 <[::1]>: Helo command rejected: invalid ip address" },
    { "smtpd_helo_restrictions = reject_invalid_helo_hostname", RCPT,
      .helo = "\xe4\xbe\x8b\xe5\xad\x90.example", .utf8 = 1, .want = "" },
    /* reject_non_fqdn_sender / _recipient */
    { "smtpd_sender_restrictions = reject_non_fqdn_sender", RCPT, .sender = "a@localhost",
      .want = "504 5.5.2 <a@localhost>: Sender address rejected: need fully-qualified "
              "address" },
    { "smtpd_sender_restrictions = reject_non_fqdn_sender", RCPT, .sender = "", .want = "" },
    { "smtpd_sender_restrictions = reject_non_fqdn_sender", RCPT,
      .sender = "a@[192.0.2.1]", .want = "" },
    { "smtpd_sender_restrictions = reject_non_fqdn_sender", RCPT,
      .sender = "a@example.com.", .want = "" },
    { "smtpd_recipient_restrictions = reject_non_fqdn_recipient\nmydestination = ours",
      RCPT, .rcpt = "bob@ours",
      .want = "504 5.5.2 <bob@ours>: Recipient address rejected: need fully-qualified "
              "address" },
    /* check_client_access with a cidr: table */
    { "smtpd_client_restrictions = check_client_access cidr:/t/clients", RCPT,
      .want = "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied" },
    { "smtpd_client_restrictions = check_client_access cidr:/t/clients", RCPT,
      .addr = "198.51.100.7",
      .want = "450 4.7.1 <unknown[198.51.100.7]>: Client host rejected: busy, come back "
              "later" },
    { "smtpd_client_restrictions = check_client_access cidr:/t/clients", RCPT,
      .addr = "203.0.113.9",
      .want = "521 5.7.0 <unknown[203.0.113.9]>: Client host rejected: go away" },
    { "smtpd_client_restrictions = check_client_access cidr:/t/clients, reject", RCPT,
      .addr = "203.0.113.200", .want = "" },
    { "smtpd_client_restrictions = check_client_access cidr:/t/clients, reject", RCPT,
      .addr = "2001:db8::5", .want = "" },
    { "smtpd_client_restrictions = check_client_access cidr:/t/clients", RCPT,
      .addr = "10.0.0.1", .want = "" },
    /* OK in the client list does not open the relay */
    { "smtpd_client_restrictions = check_client_access cidr:/t/clients", RCPT,
      .addr = "203.0.113.200", .rcpt = "u@other.example",
      .want = "554 5.7.1 <u@other.example>: Relay access denied" },
    /* a bare table is the list's own check_*_access */
    { "smtpd_client_restrictions = cidr:/t/clients", RCPT,
      .want = "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied" },
    /* check_client_access with names: the name, its parents, then the address and
     * its networks */
    { "smtpd_client_restrictions = check_client_access hash:/t/client_names", RCPT,
      .name = "client.example.net", .addr = "10.0.0.1",
      .want = "554 5.7.1 <client.example.net[10.0.0.1]>: Client host rejected: by name" },
    { "smtpd_client_restrictions = check_client_access hash:/t/client_names", RCPT,
      .name = "a.b.example.org", .addr = "10.0.0.1",
      .want = "554 5.7.1 <a.b.example.org[10.0.0.1]>: Client host rejected: parent "
              "domain" },
    { "smtpd_client_restrictions = check_client_access hash:/t/client_names", RCPT,
      .addr = "192.0.2.77",
      .want = "554 5.7.1 <unknown[192.0.2.77]>: Client host rejected: network" },
    { "smtpd_client_restrictions = check_client_access hash:/t/client_names", RCPT,
      .addr = "2001:db8:1::2",
      .want = "554 5.7.1 <unknown[2001:db8:1::2]>: Client host rejected: v6 network" },
    /* check_helo_access */
    { "smtpd_helo_restrictions = check_helo_access hash:/t/helos", RCPT,
      .helo = "bad.example.net",
      .want = "554 5.7.1 <bad.example.net>: Helo command rejected: Access denied" },
    { "smtpd_helo_restrictions = check_helo_access hash:/t/helos", RCPT,
      .helo = "mx.bad.example.net",
      .want = "554 5.7.1 <mx.bad.example.net>: Helo command rejected: Access denied" },
    { "smtpd_helo_restrictions = check_helo_access hash:/t/helos", RCPT, .helo = "1.2.3.4",
      .want = "554 5.7.1 <1.2.3.4>: Helo command rejected: numeric" },
    /* check_sender_access: address, domain and parents, "user@", "<>" */
    { "smtpd_sender_restrictions = check_sender_access hash:/t/senders", RCPT,
      .sender = "spammer@bad.example",
      .want = "554 5.7.1 <spammer@bad.example>: Sender address rejected: Access denied" },
    { "smtpd_sender_restrictions = check_sender_access hash:/t/senders", RCPT,
      .sender = "x@bad.example",
      .want = "550 5.7.1 <x@bad.example>: Sender address rejected: no mail from you" },
    { "smtpd_sender_restrictions = check_sender_access hash:/t/senders", RCPT,
      .sender = "ok@bad.example", .want = "" },
    { "smtpd_sender_restrictions = check_sender_access hash:/t/senders", RCPT,
      .sender = "x@lists.example",
      .want = "450 4.1.0 <x@lists.example>: Sender address rejected: try later" },
    { "smtpd_sender_restrictions = check_sender_access hash:/t/senders", RCPT,
      .sender = "x@a.parent.example",
      .want = "554 5.7.1 <x@a.parent.example>: Sender address rejected: parent" },
    { "smtpd_sender_restrictions = check_sender_access hash:/t/senders, reject", RCPT,
      .sender = "x@sub.parent.example",
      .want = "554 5.7.1 <x@sub.parent.example>: Sender address rejected: Access denied" },
    { "smtpd_sender_restrictions = check_sender_access hash:/t/senders", RCPT, .sender = "",
      .want = "554 5.7.1 <>: Sender address rejected: no bounces here" },
    { "smtpd_sender_restrictions = check_sender_access hash:/t/senders", RCPT,
      .sender = "noreply@anywhere.example",
      .want = "554 5.7.1 <noreply@anywhere.example>: Sender address rejected: user at any "
              "domain" },
    /* check_recipient_access with a regexp: table: the full address only */
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients", RCPT,
      .rcpt = "abuse@other.example", .want = "554 5.7.1 <abuse@other.example>: Relay "
                                             "access denied" },
    { "smtpd_relay_restrictions = check_recipient_access regexp:/t/recipients, "
      "reject_unauth_destination", RCPT, .rcpt = "abuse@other.example", .want = "" },
    /* ...an OK for a routed address is only a DUNNO */
    { "smtpd_relay_restrictions = check_recipient_access regexp:/t/recipients, "
      "reject_unauth_destination", RCPT, .rcpt = "a%b@other.example",
      .want = "554 5.7.1 <a%b@other.example>: Relay access denied" },
    /* access(5) results */
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients", RCPT,
      .rcpt = "hold@ours.example", .want = "451 4.3.5 Server configuration error",
      .warning = "action HOLD is not supported" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients", RCPT,
      .rcpt = "nested@ours.example", .want = "451 4.3.5 Server configuration error",
      .warning = "lookup table" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients", RCPT,
      .rcpt = "list@ours.example", .mynet = 1, .want = "" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients", RCPT,
      .rcpt = "list@ours.example",
      .want = "554 5.7.1 <list@ours.example>: Recipient address rejected: Access denied" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients, reject",
      RCPT, .rcpt = "upper@ours.example", .want = "" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients, reject",
      RCPT, .rcpt = "digits@ours.example", .want = "" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients", RCPT,
      .rcpt = "warn@ours.example", .want = "", .warning = "WARN" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients, reject",
      RCPT, .rcpt = "empty@ours.example", .want = "", .warning = "empty value" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients", RCPT,
      .rcpt = "weird@ours.example", .want = "451 4.3.5 Server configuration error",
      .warning = "frobnicate" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients", RCPT,
      .rcpt = "code@ours.example",
      .want = "421 4.3.2 <code@ours.example>: Recipient address rejected: shutting down" },
    { "smtpd_recipient_restrictions = check_recipient_access regexp:/t/recipients", RCPT,
      .rcpt = "nodsn@ours.example",
      .want = "550 5.7.1 <nodsn@ours.example>: Recipient address rejected: no dsn here" },
    /* reject_unlisted_sender: only where a recipient table covers the domain */
    { "smtpd_sender_restrictions = reject_unlisted_sender\n"
      "local_recipient_maps = hash:/t/local_users", RCPT, .sender = "nobody@ours.example",
      .rcpt = "alice@ours.example",
      .want = "550 5.1.0 <nobody@ours.example>: Sender address rejected: User unknown in "
              "local recipient table" },
    { "smtpd_sender_restrictions = reject_unlisted_sender\n"
      "local_recipient_maps = hash:/t/local_users", RCPT, .sender = "alice@ours.example",
      .rcpt = "alice@ours.example", .want = "" },
    { "smtpd_sender_restrictions = reject_unlisted_sender\n"
      "local_recipient_maps = hash:/t/local_users", RCPT, .sender = "x@elsewhere.example",
      .rcpt = "alice@ours.example", .want = "" },
    { "smtpd_sender_restrictions = reject_unlisted_sender", RCPT,
      .sender = "nobody@ours.example", .want = "" },
    { "smtpd_reject_unlisted_sender = yes\nlocal_recipient_maps = hash:/t/local_users",
      RCPT, .sender = "nobody@ours.example", .rcpt = "alice@ours.example",
      .want = "550 5.1.0 <nobody@ours.example>: Sender address rejected: User unknown in "
              "local recipient table" },
    /* reject_unlisted_recipient, explicit or implicit (the default yes) */
    { "local_recipient_maps = hash:/t/local_users", RCPT, .rcpt = "carol@ours.example",
      .want = "550 5.1.1 <carol@ours.example>: Recipient address rejected: User unknown in "
              "local recipient table" },
    { "local_recipient_maps = hash:/t/local_users", RCPT, .rcpt = "bob@ours.example",
      .want = "" },
    { "local_recipient_maps = hash:/t/local_users", RCPT, .rcpt = "ALICE@ours.example",
      .want = "" },
    { "local_recipient_maps = hash:/t/local_users", RCPT, .rcpt = "postmaster@ours.example",
      .want = "" },
    { "local_recipient_maps = hash:/t/local_users", RCPT,
      .rcpt = "MAILER-DAEMON@ours.example", .want = "" },
    { "local_recipient_maps = hash:/t/local_users\nsmtpd_reject_unlisted_recipient = no",
      RCPT, .rcpt = "carol@ours.example", .want = "" },
    { "local_recipient_maps = hash:/t/local_users\nsmtpd_reject_unlisted_recipient = no\n"
      "smtpd_recipient_restrictions = reject_unlisted_recipient", RCPT,
      .rcpt = "carol@ours.example",
      .want = "550 5.1.1 <carol@ours.example>: Recipient address rejected: User unknown in "
              "local recipient table" },
    { "relay_domains = relay.example, catchall.example\n"
      "relay_recipient_maps = hash:/t/relay_users", RCPT, .rcpt = "who@relay.example",
      .want = "550 5.1.1 <who@relay.example>: Recipient address rejected: User unknown in "
              "relay recipient table" },
    { "relay_domains = relay.example, catchall.example\n"
      "relay_recipient_maps = hash:/t/relay_users", RCPT, .rcpt = "known@relay.example",
      .want = "" },
    { "relay_domains = relay.example, catchall.example\n"
      "relay_recipient_maps = hash:/t/relay_users", RCPT, .rcpt = "any@catchall.example",
      .want = "" },
    /* a relay denial comes before the unlisted check */
    { "local_recipient_maps = hash:/t/local_users", RCPT, .rcpt = "u@other.example",
      .want = "554 5.7.1 <u@other.example>: Relay access denied" },
    /* sender login maps: reject_authenticated_sender_login_mismatch */
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "bob",
      .want = "553 5.7.1 <alice@ours.example>: Sender address rejected: not owned by user "
              "bob" },
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "alice", .want = "" },
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "ALICE", .want = "" },
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "bob", .sender = "anyone@shared.example", .want = "" },
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "carol", .sender = "team@ours.example", .want = "" },
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "alice", .sender = "carol@ours.example", .want = "" },   /* "carol": local */
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "alice", .sender = "carol@shared2.example",
      .want = "553 5.7.1 <carol@shared2.example>: Sender address rejected: not owned by "
              "user alice" },
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "bob", .sender = "x@nowhere.example",
      .want = "553 5.7.1 <x@nowhere.example>: Sender address rejected: not owned by user "
              "bob" },
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .want = "" },
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "bob", .sender = "", .want = "" },
    { LOGINS "smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", RCPT,
      .user = "bob", .nosasl = 1, .want = "" },
    /* reject_unauthenticated_sender_login_mismatch */
    { LOGINS "smtpd_sender_restrictions = reject_unauthenticated_sender_login_mismatch",
      RCPT, .want = "553 5.7.1 <alice@ours.example>: Sender address rejected: not logged in" },
    { LOGINS "smtpd_sender_restrictions = reject_unauthenticated_sender_login_mismatch",
      RCPT, .sender = "x@nowhere.example", .want = "" },
    { LOGINS "smtpd_sender_restrictions = reject_unauthenticated_sender_login_mismatch",
      RCPT, .user = "bob", .want = "" },
    /* reject_sender_login_mismatch: both */
    { LOGINS "smtpd_sender_restrictions = reject_sender_login_mismatch", RCPT,
      .want = "553 5.7.1 <alice@ours.example>: Sender address rejected: not logged in" },
    { LOGINS "smtpd_sender_restrictions = reject_sender_login_mismatch", RCPT, .user = "bob",
      .want = "553 5.7.1 <alice@ours.example>: Sender address rejected: not owned by user "
              "bob" },
    { LOGINS "smtpd_sender_restrictions = reject_sender_login_mismatch", RCPT,
      .user = "alice", .want = "" },
    /* reject_known_sender_login_mismatch: unknown senders pass */
    { LOGINS "smtpd_sender_restrictions = reject_known_sender_login_mismatch", RCPT,
      .user = "bob", .sender = "x@nowhere.example", .want = "" },
    { LOGINS "smtpd_sender_restrictions = reject_known_sender_login_mismatch", RCPT,
      .user = "bob",
      .want = "553 5.7.1 <alice@ours.example>: Sender address rejected: not owned by user "
              "bob" },
    /* a regexp: login table */
    { "smtpd_sender_login_maps = regexp:/t/logins_re\n"
      "smtpd_sender_restrictions = reject_sender_login_mismatch", RCPT,
      .user = "dave", .sender = "dave@regex.example", .want = "" },
    { "smtpd_sender_login_maps = regexp:/t/logins_re\n"
      "smtpd_sender_restrictions = reject_sender_login_mismatch", RCPT,
      .user = "eve", .sender = "dave@regex.example",
      .want = "553 5.7.1 <dave@regex.example>: Sender address rejected: not owned by user "
              "eve" },
    /* smtpd_data_restrictions */
    { "smtpd_data_restrictions = reject", DATA,
      .want = "554 5.7.1 <DATA>: Data command rejected: Access denied" },
    { "smtpd_data_restrictions = check_client_access cidr:/t/clients", DATA,
      .want = "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied" },
    { "smtpd_data_restrictions = reject_unauth_destination", DATA,
      .rcpt = "u@other.example", .want = "554 5.7.1 <u@other.example>: Relay access denied" },
    { "smtpd_data_restrictions = reject_unauth_destination", DATA, .rcpt = NONE,
      .want = "" },
    { "", DATA, .want = "" },
    /* smtpd_helo_required */
    { "smtpd_helo_required = yes", MAIL, .helo = NONE,
      .want = "503 5.5.1 Error: send HELO/EHLO first" },
    { "smtpd_helo_required = yes", MAIL, .want = "" },
    { "", MAIL, .helo = NONE, .want = "" },
    /* smtpd_sender_header_check */
    { LOGINS "smtpd_sender_header_check = yes", HFROM, .user = "alice",
      .hfrom = "bob@ours.example",
      .want = "550 5.7.1 <bob@ours.example>: From: header address rejected: not owned by "
              "user alice" },
    { LOGINS "smtpd_sender_header_check = yes", HFROM, .user = "alice",
      .hfrom = "x@nowhere.example",
      .want = "550 5.7.1 <x@nowhere.example>: From: header address rejected: not owned by "
              "user alice" },
    { LOGINS "smtpd_sender_header_check = yes", HFROM, .user = "alice",
      .hfrom = "Alice@Ours.Example", .want = "" },
    { LOGINS "smtpd_sender_header_check = yes", HFROM, .hfrom = "bob@ours.example",
      .want = "" },
    { LOGINS, HFROM, .user = "alice", .hfrom = "bob@ours.example", .want = "" },
    /* replies are made safe: controls become spaces */
    { "smtpd_helo_restrictions = reject", RCPT, .helo = "a\tb\rc",
      .want = "554 5.7.1 <a b c>: Helo command rejected: Access denied" },
};

static void test_decisions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof dcases / sizeof dcases[0]; i++) {
        const struct dcase *c = &dcases[i];
        struct restrict_conf *rc = mk(c->conf);
        if (!rc)
            fail_msg("case %zu: conf \"%s\" did not load: %s", i, c->conf, errs[0]);
        struct restrict_snapshot s = {
            .client_addr = pick(c->addr, "192.0.2.10"),
            .client_name = pick(c->name, "unknown"),
            .in_mynetworks = c->mynet,
            .sasl_enabled = !c->nosasl,
            .sasl_username = pick(c->user, NONE),
            .tls = c->tls,
            .smtputf8 = c->utf8,
            .helo = pick(c->helo, "client.example.net"),
            .sender = pick(c->sender, "alice@ours.example"),
            .recipient = pick(c->rcpt, "bob@ours.example"),
            .rcpt_count = c->stage == DATA ? 1 : 0,
        };
        struct restrict_result res;
        memset(&res, 0x55, sizeof res);         /* must be fully reset */
        switch (c->stage) {
        case RCPT: restrict_check_rcpt(rc, &s, &res); break;
        case MAIL: restrict_check_mail(rc, &s, &res); break;
        case DATA: restrict_check_data(rc, &s, &res); break;
        case HFROM: restrict_check_header_from(rc, &s, c->hfrom, &res); break;
        }
        const char *got = res.code ? res.reply : "";
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu (%s): got \"%s\", want \"%s\"", i, c->conf, got, c->want);
        if (res.code && atoi(res.reply) != res.code)
            fail_msg("case %zu: code %d, reply %s", i, res.code, res.reply);
        if (c->warning ? !strstr(res.warning, c->warning) : res.warning[0] != '\0')
            fail_msg("case %zu: warning \"%s\", want \"%s\"", i, res.warning,
                     c->warning ? c->warning : "");
        restrict_conf_free(rc);
    }
}

/* A reply never passes 510 bytes, however long the client's text. */
static void test_long_reply(void **state)
{
    (void)state;
    struct restrict_conf *rc = mk("smtpd_helo_restrictions = reject");
    assert_non_null(rc);
    char helo[600];
    memset(helo, 'h', sizeof helo - 1);
    helo[sizeof helo - 1] = '\0';
    struct restrict_snapshot s = { .client_addr = "192.0.2.1", .helo = helo,
                                   .sender = "a@b.example", .recipient = "c@ours.example" };
    struct restrict_result res;
    restrict_check_rcpt(rc, &s, &res);
    assert_int_equal(res.code, 554);
    assert_int_equal(strlen(res.reply), 510);
    assert_memory_equal(res.reply, "554 5.7.1 <hhh", 14);
    restrict_conf_free(rc);
}

static void test_flags(void **state)
{
    (void)state;
    struct restrict_conf *rc = mk("strict_rfc821_envelopes = yes");
    assert_true(restrict_strict_rfc821(rc));
    assert_false(restrict_wants_header_from(rc));
    restrict_conf_free(rc);
    rc = mk(LOGINS "smtpd_sender_header_check = yes");
    assert_false(restrict_strict_rfc821(rc));
    assert_true(restrict_wants_header_from(rc));
    restrict_conf_free(rc);
    assert_string_equal(restrict_list_param(RESTRICT_DATA), "smtpd_data_restrictions");
}

/* ---- configuration errors ------------------------------------------------ */

struct ecase {
    const char *conf;
    size_t nerrs;
    const char *want[3];    /* in errs[0] */
};

static const struct ecase ecases[] = {
    { "smtpd_recipient_restrictions = permit_sasl_authenticatd, reject", 1,
      { "[smtpd_recipient_restrictions] smtpd_recipient_restrictions: unknown restriction "
        "\"permit_sasl_authenticatd\"; did you mean permit_sasl_authenticated?" } },
    { "smtpd_client_restrictions = reject_unknow_client", 1,
      { "unknown restriction \"reject_unknow_client\"", "did you mean "
        "reject_unknown_client?" } },
    { "smtpd_client_restrictions = reject_unknown_forwrd_client_hostname", 1,
      { "did you mean reject_unknown_forward_client_hostname? (it is a DNS restriction "
        "postern does not implement yet)" } },
    { "smtpd_client_restrictions = frobnicate_everything", 1,
      { "unknown restriction \"frobnicate_everything\"", "docs/config.md" } },
    { "smtpd_client_restrictions = permit_mynetworks, reject_rbl_client", 1,
      { "[smtpd_client_restrictions] smtpd_client_restrictions: reject_rbl_client needs "
        "a DNS list zone: reject_rbl_client zone.example[=127.0.0.2]" } },
    { "smtpd_client_restrictions = reject_rbl_client zen.example=127.0.0.300", 1,
      { "reject_rbl_client \"zen.example=127.0.0.300\": expected a DNS zone" } },
    { "smtpd_client_restrictions = reject_rbl_client zen.example=127.0.[2..1].1", 1,
      { "expected a DNS zone" } },
    { "smtpd_client_restrictions = permit_dnswl_client bad/zone", 1,
      { "permit_dnswl_client \"bad/zone\": expected a DNS zone" } },
    { "smtpd_helo_restrictions = check_helo_mx_access hash:/t/helos", 1,
      { "check_helo_mx_access is a DNS restriction postern does not implement yet; "
        "remove it" } },
    { "smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:10023", 1,
      { "check_policy_service is a Postfix restriction that postern does not implement" } },
    { "smtpd_client_restrictions = check_client_access", 1,
      { "check_client_access needs a table: check_client_access type:/path" } },
    { "smtpd_client_restrictions = check_client_access reject", 1,
      { "check_client_access needs a table" } },
    { "smtpd_client_restrictions = check_client_access cidr:/t/missing", 1,
      { "[smtpd_client_restrictions] smtpd_client_restrictions: check_client_access "
        "cidr:/t/missing: cidr:/t/missing: cannot open" } },
    { "smtpd_data_restrictions = hash:/t/helos", 1,
      { "table \"hash:/t/helos\" without a check_*_access in front" } },
    { "smtpd_recipient_restrictions = permit_sasl_authenticated,reject#comment", 1,
      { "\"reject#comment\": in main.cf a '#' starts a comment only at the beginning of "
        "a line" } },
    { "smtpd_relay_restrictions = permit_mynetworks\nsmtpd_recipient_restrictions = "
      "permit_auth_destination", 1,
      { "[smtpd_relay_restrictions]", "neither can refuse relaying",
        "reject_unauth_destination" } },
    { "smtpd_relay_restrictions =", 1, { "neither can refuse relaying" } },
    { "smtpd_sender_restrictions = reject_sender_login_mismatch", 1,
      { "reject_sender_login_mismatch needs smtpd_sender_login_maps" } },
    { "smtpd_sender_header_check = yes", 1,
      { "[smtpd_sender_header_check]", "needs smtpd_sender_login_maps" } },
    { "relay_domains = hash:/t/relay_domains", 1,
      { "[relay_domains]", "tables are not supported here yet" } },
    { "smtpd_sender_login_maps = hash:/t/nothing", 1,
      { "[smtpd_sender_login_maps]", "hash:/t/nothing: cannot open" } },
    { "local_recipient_maps = hash:/t/a, hash:/t/b", 1,
      { "[local_recipient_maps]", "one table only" } },
    /* every error is reported, not just the first */
    { "smtpd_client_restrictions = foo, reject_maps_rbl, bar\n"
      "smtpd_helo_restrictions = baz", 4, { "\"foo\"" } },
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ecases / sizeof ecases[0]; i++) {
        const struct ecase *c = &ecases[i];
        struct restrict_conf *rc = mk(c->conf);
        if (rc)
            fail_msg("case %zu: \"%s\" loaded", i, c->conf);
        if (nerrs != c->nerrs)
            fail_msg("case %zu: %zu errors, want %zu; first: %s", i, nerrs, c->nerrs,
                     errs[0]);
        for (size_t k = 0; k < 3 && c->want[k]; k++)
            if (!strstr(errs[0], c->want[k]))
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errs[0], c->want[k]);
    }
}

/* Seed 001's lists. Its main.cf lost its line breaks on the web page; with
 * them back, smtpd_recipient_restrictions is "permit_sasl_authenticated,
 * reject" and the rest of its lines are comments. Uncommented, they load
 * (DNS restrictions included); its client list has a typo. */
static void test_seed001(void **state)
{
    (void)state;
    struct restrict_conf *rc = mk(
        "smtpd_helo_restrictions = permit_mynetworks\n"
        "smtpd_recipient_restrictions = permit_sasl_authenticated, reject");
    assert_non_null(rc);
    struct restrict_snapshot s = { .client_addr = "192.0.2.1", .client_name = "unknown",
                                   .sasl_enabled = 1, .helo = "mail.xx.com",
                                   .sender = "guol@xx.com", .recipient = "test@xxx.com" };
    struct restrict_result res;
    restrict_check_rcpt(rc, &s, &res);
    assert_string_equal(res.reply, "554 5.7.1 <test@xxx.com>: Relay access denied");
    s.sasl_username = "guol";
    restrict_check_rcpt(rc, &s, &res);
    assert_int_equal(res.code, 0);
    restrict_conf_free(rc);

    rc = mk("smtpd_recipient_restrictions = permit_sasl_authenticated, reject, "
            "reject_unauth_destination, reject_non_fqdn_recipient, "
            "reject_unknown_recipient_domain, permit_mynetworks");
    assert_non_null(rc);
    restrict_conf_free(rc);

    rc = mk("smtpd_client_restrictions = permit_mynetworks, reject_unknow_client, "
            "reject_rbl_client cblless.anti-spam.org.cn, reject_rbl_client "
            "sbl-xbl.spamhaus.org, reject_rbl_client relays.ordb.org, reject_rhsbl_client "
            "dsn.rfc-ignorant.org\n"
            "smtpd_sender_restrictions = reject_unknown_sender_domain, reject_non_fqdn_sender");
    assert_null(rc);
    assert_int_equal(nerrs, 1);
    assert_non_null(strstr(errs[0], "did you mean reject_unknown_client?"));

    /* its master.cf override for the submission service */
    rc = mk("smtpd_client_restrictions = permit_sasl_authenticated,reject");
    assert_non_null(rc);
    s.sasl_username = NULL;
    restrict_check_rcpt(rc, &s, &res);
    assert_string_equal(res.reply,
                        "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied");
    restrict_conf_free(rc);
}

/* The settings restrict_conf_new gets are the configuration's parameters. */
static void test_settings_from_config(void **state)
{
    (void)state;
    char err[CONFIG_ERROR_MAX] = "";
    struct config *cfg = config_load_text(
        "mydestination = a.test, b.test\n"
        "relay_domains = r.test\n"
        "smtpd_helo_required = yes\n"
        "smtpd_sender_login_maps = texthash:/etc/postern/logins\n"
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
        "smtpd_data_restrictions = reject_unauth_pipelining\n", "t.cf", err, sizeof err);
    if (!cfg)
        fail_msg("%s", err);
    struct restrict_settings s;
    restrict_settings_from_config(cfg, &s);
    assert_int_equal(s.nmydestination, 2);
    assert_string_equal(s.mydestination[1], "b.test");
    assert_int_equal(s.nrelay_domains, 1);
    assert_string_equal(s.relay_domains[0], "r.test");
    assert_int_equal(s.helo_required, 1);
    assert_string_equal(s.sender_login_maps, "texthash:/etc/postern/logins");
    assert_int_equal(s.nlist[RESTRICT_RELAY], 2);
    assert_string_equal(s.list[RESTRICT_RELAY][1], "reject_unauth_destination");
    assert_int_equal(s.nlist[RESTRICT_DATA], 1);
    assert_string_equal(s.list[RESTRICT_DATA][0], "reject_unauth_pipelining");
    assert_int_equal(s.nlist[RESTRICT_CLIENT], 0);
    config_free(cfg);
}

/* ---- DNS restrictions ------------------------------------------------------ */

/* What "DNS" knows in these tests; anything else is missing (R_NEED). */
struct fake {
    enum dns_check_kind kind;
    const char *name;
    enum dns_status st;
    const char *a;          /* DNSXL answer */
    const char *txt;
};

static const struct fake fakes[] = {
    { DNS_CHECK_DNSXL, "10.2.0.192.bl.example", DNS_OK, "127.0.0.2", "spam source" },
    { DNS_CHECK_DNSXL, "11.2.0.192.bl.example", DNS_OK, "127.0.0.4", "" },
    { DNS_CHECK_DNSXL, "12.2.0.192.bl.example", DNS_NOTFOUND, NULL, NULL },
    { DNS_CHECK_DNSXL, "13.2.0.192.bl.example", DNS_TEMPFAIL, NULL, NULL },
    { DNS_CHECK_DNSXL, "10.2.0.192.wl.example", DNS_OK, "127.0.0.2", "" },
    { DNS_CHECK_DNSXL, "13.2.0.192.wl.example", DNS_TEMPFAIL, NULL, NULL },
    { DNS_CHECK_DNSXL, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example",
      DNS_OK, "127.0.0.2", "" },
    { DNS_CHECK_DNSXL, "spam.example.rhs.example", DNS_OK, "127.0.0.2", "" },
    { DNS_CHECK_DNSXL, "ham.example.rhs.example", DNS_NOTFOUND, NULL, NULL },
    { DNS_CHECK_HOST, "client.example.net", DNS_OK, NULL, NULL },
    { DNS_CHECK_HOST, "nx.example", DNS_NOTFOUND, NULL, NULL },
    { DNS_CHECK_HOST, "slow.example", DNS_TEMPFAIL, NULL, NULL },
    { DNS_CHECK_DOMAIN, "spam.example", DNS_OK, NULL, NULL },
    { DNS_CHECK_DOMAIN, "ham.example", DNS_OK, NULL, NULL },
    { DNS_CHECK_DOMAIN, "nx.example", DNS_NOTFOUND, NULL, NULL },
    { DNS_CHECK_DOMAIN, "null.example", DNS_NULLMX, NULL, NULL },
    { DNS_CHECK_DOMAIN, "slow.example", DNS_TEMPFAIL, NULL, NULL },
};

static struct dns_check_result fake_res[sizeof fakes / sizeof fakes[0]];

static const struct dns_check_result *fake_fact(void *arg, enum dns_check_kind kind,
                                                const char *name)
{
    (void)arg;
    for (size_t i = 0; i < sizeof fakes / sizeof fakes[0]; i++) {
        if (fakes[i].kind != kind || strcmp(fakes[i].name, name) != 0)
            continue;
        struct dns_check_result *r = &fake_res[i];
        memset(r, 0, sizeof *r);
        r->status = fakes[i].st;
        if (fakes[i].a) {
            assert_int_equal(inet_pton(AF_INET, fakes[i].a, r->addr[0]), 1);
            r->naddr = 1;
        }
        snprintf(r->txt, sizeof r->txt, "%s", fakes[i].txt ? fakes[i].txt : "");
        snprintf(r->error, sizeof r->error, "%s: Timeout", name);
        return r;
    }
    return NULL;
}

struct xcase {
    const char *conf;
    const char *addr, *sender, *rcpt, *helo, *name;
    enum dns_peer name_st, rev_st;
    const char *want;       /* the reply, "" for none */
    const char *need;       /* the lookup asked for, or NULL */
    const char *warning;
};

static const struct xcase xcases[] = {
    /* reject_rbl_client: listed, the reply with the TXT reason */
    { "smtpd_client_restrictions = reject_rbl_client bl.example",
      .want = "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using "
              "bl.example; spam source" },
    { "smtpd_client_restrictions = reject_rbl_client bl.example\nmaps_rbl_reject_code = 521",
      .addr = "192.0.2.11",
      .want = "521 5.7.1 Service unavailable; Client host [192.0.2.11] blocked using "
              "bl.example" },
    { "smtpd_client_restrictions = reject_rbl_client bl.example", .addr = "192.0.2.12",
      .want = "" },
    { "smtpd_client_restrictions = reject_rbl_client bl.example", .addr = "2001:db8::1",
      .want = "554 5.7.1 Service unavailable; Client host [2001:db8::1] blocked using "
              "bl.example" },
    /* the answer filter */
    { "smtpd_client_restrictions = reject_rbl_client bl.example=127.0.0.4", .want = "" },
    { "smtpd_client_restrictions = reject_rbl_client bl.example=127.0.0.4", .addr = "192.0.2.11",
      .want = "554 5.7.1 Service unavailable; Client host [192.0.2.11] blocked using "
              "bl.example" },
    { "smtpd_client_restrictions = reject_rbl_client bl.example=127.0.0.[1..3]",
      .want = "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using "
              "bl.example; spam source" },
    { "smtpd_client_restrictions = reject_rbl_client bl.example=127.0.0.[3;5..9]", .want = "" },
    /* a list that does not answer is skipped, with a warning */
    { "smtpd_client_restrictions = reject_rbl_client bl.example", .addr = "192.0.2.13",
      .want = "", .warning = "13.2.0.192.bl.example: RBL lookup error" },
    /* not asked yet: the lookup is asked for, nothing decided */
    { "smtpd_client_restrictions = reject_rbl_client other.example", .want = "",
      .need = "10.2.0.192.other.example" },
    /* permit_mynetworks first: no lookup */
    { "smtpd_client_restrictions = permit, reject_rbl_client other.example", .want = "" },
    /* permit_dnswl_client */
    { "smtpd_client_restrictions = permit_dnswl_client wl.example, reject", .want = "" },
    { "smtpd_client_restrictions = permit_dnswl_client wl.example, reject", .addr = "192.0.2.12",
      .want = "", .need = "12.2.0.192.wl.example" },
    /* ... never for a recipient we do not receive for, as Postfix */
    { "smtpd_client_restrictions = permit_dnswl_client wl.example, reject",
      .rcpt = "u@elsewhere.example",
      .want = "554 5.7.1 <unknown[192.0.2.10]>: Client host rejected: Access denied" },
    /* ... and a temporary failure turns the later reject into a deferral */
    { "smtpd_client_restrictions = permit_dnswl_client wl.example, reject", .addr = "192.0.2.13",
      .want = "450 4.7.1 <192.0.2.13>: Client host rejected: Service unavailable" },
    /* RHSBL */
    { "smtpd_sender_restrictions = reject_rhsbl_sender rhs.example", .sender = "a@spam.example",
      .want = "554 5.7.1 Service unavailable; Sender address [a@spam.example] blocked using "
              "rhs.example" },
    { "smtpd_sender_restrictions = reject_rhsbl_sender rhs.example", .sender = "a@ham.example",
      .want = "" },
    { "smtpd_sender_restrictions = reject_rhsbl_sender rhs.example", .sender = "a@[192.0.2.1]",
      .want = "" },
    { "smtpd_client_restrictions = reject_rhsbl_client rhs.example", .want = "" },  /* unknown */
    { "smtpd_client_restrictions = reject_rhsbl_client rhs.example", .name = "spam.example",
      .want = "554 5.7.1 Service unavailable; Client host [spam.example] blocked using "
              "rhs.example" },
    { "smtpd_recipient_restrictions = reject_rhsbl_recipient rhs.example",
      .rcpt = "u@spam.example", .sender = "a@ours.example", .want = "554 5.7.1 Service "
      "unavailable; Recipient address [u@spam.example] blocked using rhs.example" },
    /* the client's name */
    { "smtpd_client_restrictions = reject_unknown_client_hostname", .name_st = DNS_PEER_PERM,
      .want = "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.10]" },
    { "smtpd_client_restrictions = reject_unknown_client_hostname\n"
      "unknown_client_reject_code = 550", .name_st = DNS_PEER_FORGED,
      .want = "550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.10]" },
    { "smtpd_client_restrictions = reject_unknown_client_hostname\n"
      "unknown_client_reject_code = 550", .name_st = DNS_PEER_TEMP,
      .want = "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.10]" },
    { "smtpd_client_restrictions = reject_unknown_client_hostname", .name = "c.example",
      .want = "" },
    { "smtpd_client_restrictions = reject_unknown_reverse_client_hostname\n"
      "unknown_client_reject_code = 550", .name_st = DNS_PEER_FORGED, .want = "" },
    { "smtpd_client_restrictions = reject_unknown_reverse_client_hostname\n"
      "unknown_client_reject_code = 550", .name_st = DNS_PEER_PERM, .rev_st = DNS_PEER_PERM,
      .want = "550 5.7.25 Client host rejected: cannot find your reverse hostname, "
              "[192.0.2.10]" },
    /* HELO */
    { "smtpd_helo_restrictions = reject_unknown_helo_hostname", .want = "" },
    { "smtpd_helo_restrictions = reject_unknown_helo_hostname", .helo = "nx.example.",
      .want = "450 4.7.1 <nx.example.>: Helo command rejected: Host not found" },
    { "smtpd_helo_restrictions = reject_unknown_helo_hostname\n"
      "unknown_hostname_reject_code = 550", .helo = "nx.example",
      .want = "550 5.7.1 <nx.example>: Helo command rejected: Host not found" },
    { "smtpd_helo_restrictions = reject_unknown_helo_hostname", .helo = "[192.0.2.1]",
      .want = "" },
    { "smtpd_helo_restrictions = reject_unknown_helo_hostname", .helo = "[192.0.2.300]",
      .want = "501 5.5.2 <[192.0.2.300]>: Helo command rejected: invalid ip address" },
    { "smtpd_helo_restrictions = reject_unknown_helo_hostname\n"
      "unknown_hostname_reject_code = 550", .helo = "slow.example",
      .want = "450 4.7.1 <slow.example>: Helo command rejected: Host not found" },
    /* sender and recipient domains */
    { "smtpd_sender_restrictions = reject_unknown_sender_domain", .sender = "a@nx.example",
      .want = "450 4.1.8 <a@nx.example>: Sender address rejected: Domain not found" },
    { "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
      "unknown_address_reject_code = 550", .sender = "a@nx.example",
      .want = "550 5.1.8 <a@nx.example>: Sender address rejected: Domain not found" },
    { "smtpd_sender_restrictions = reject_unknown_sender_domain", .sender = "a@null.example",
      .want = "550 5.7.27 <a@null.example>: Sender address rejected: Domain null.example does "
              "not accept mail (nullMX)" },
    { "smtpd_sender_restrictions = reject_unknown_sender_domain", .sender = "", .want = "" },
    { "smtpd_sender_restrictions = reject_unknown_sender_domain", .sender = "a@ours.example",
      .want = "" },
    { "smtpd_recipient_restrictions = reject_unknown_recipient_domain", .rcpt = "u@nx.example",
      .want = "450 4.1.2 <u@nx.example>: Recipient address rejected: Domain not found" },
    { "smtpd_recipient_restrictions = reject_unknown_recipient_domain",
      .rcpt = "u@null.example", .want = "556 5.1.10 <u@null.example>: Recipient address "
      "rejected: Domain null.example does not accept mail (nullMX)" },
    /* a temporary failure: defer_if_permit (450 when nothing rejects) ... */
    { "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
      "unknown_address_reject_code = 550", .sender = "a@slow.example",
      .want = "450 4.1.8 <a@slow.example>: Sender address rejected: Domain not found" },
    /* ... a later reject wins, a later permit does not */
    { "smtpd_sender_restrictions = reject_unknown_sender_domain, permit\n"
      "smtpd_recipient_restrictions = reject", .sender = "a@slow.example",
      .want = "554 5.7.1 <bob@ours.example>: Recipient address rejected: Access denied" },
    { "smtpd_sender_restrictions = reject_unknown_sender_domain, permit",
      .sender = "a@slow.example",
      .want = "450 4.1.8 <a@slow.example>: Sender address rejected: Domain not found" },
    /* ... and defer: at once, before the reject */
    { "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
      "smtpd_recipient_restrictions = reject\n"
      "unknown_address_tempfail_action = defer", .sender = "a@slow.example",
      .want = "450 4.1.8 <a@slow.example>: Sender address rejected: Domain not found" },
    /* the first missing answer is asked for, in list order */
    { "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
      "smtpd_recipient_restrictions = reject_unknown_recipient_domain",
      .sender = "a@new.example", .rcpt = "u@other.example", .want = "",
      .need = "new.example" },
};

static void test_dns_restrictions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof xcases / sizeof xcases[0]; i++) {
        const struct xcase *c = &xcases[i];
        struct restrict_conf *rc = mk(c->conf);
        if (!rc)
            fail_msg("case %zu: conf \"%s\" did not load: %s", i, c->conf, errs[0]);
        struct restrict_snapshot s = {
            .client_addr = c->addr ? c->addr : "192.0.2.10",
            .client_name = c->name ? c->name : "unknown",
            .client_name_status = c->name ? DNS_PEER_OK : c->name_st,
            .reverse_name_status = c->rev_st,
            .in_mynetworks = 1,     /* relaying to other domains is allowed */
            .sasl_enabled = 1,
            .helo = c->helo ? c->helo : "client.example.net",
            .sender = c->sender ? c->sender : "alice@ours.example",
            .recipient = c->rcpt ? c->rcpt : "bob@ours.example",
            .dns_fact = fake_fact,
        };
        struct restrict_result res;
        memset(&res, 0x55, sizeof res);
        restrict_check_rcpt(rc, &s, &res);
        const char *got = res.code ? res.reply : "";
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu (%s): got \"%s\", want \"%s\"", i, c->conf, got, c->want);
        if (strcmp(res.need, c->need ? c->need : "") != 0)
            fail_msg("case %zu (%s): need \"%s\", want \"%s\"", i, c->conf, res.need,
                     c->need ? c->need : "");
        if (c->warning ? !strstr(res.warning, c->warning) : res.warning[0] != '\0')
            fail_msg("case %zu: warning \"%s\", want \"%s\"", i, res.warning,
                     c->warning ? c->warning : "");
        restrict_conf_free(rc);
    }
}

static void test_tempfail_action_errors(void **state)
{
    (void)state;
    assert_null(mk("unknown_address_tempfail_action = defer_if_reject"));
    assert_non_null(strstr(errs[0], "unknown_address_tempfail_action = defer_if_reject: use "
                                    "defer_if_permit"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_long_reply),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_seed001),
        cmocka_unit_test(test_dns_restrictions),
        cmocka_unit_test(test_tempfail_action_errors),
        cmocka_unit_test(test_settings_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
