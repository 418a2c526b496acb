/* session_dns — what a session asks DNS: the client's name at connect
 * (smtpd_peername_lookup) and the answers the DNS restrictions need.
 *
 * The restriction evaluator is a pure decider: when it lacks an answer it
 * says which one (restrict_result.need). The session then looks it up,
 * reads nothing meanwhile (SS_DNS_WAIT: pipelined commands stay buffered,
 * in order) and runs the same command again once the answer is in; the
 * answers are kept for the session's life, so each name is asked once and
 * the next evaluation goes further. Every lookup has a deadline
 * (smtpd_dns_timeout), so a resolver that never answers costs a client
 * that much, never a 5xx; other sessions are not held up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../net/dns.h"
#include "../util/log.h"
#include "server.h"
#include "session_cmd.h"
#include "session_internal.h"

#define FACTS_MAX 64            /* answers kept per session (then the oldest go) */

struct session_dns_fact {
    enum dns_check_kind kind;
    char name[256];
    struct dns_check_result res;
};

static long long dns_timeout_ms(const struct session *s)
{
    return session_cfg(s)->smtpd_dns_timeout * 1000;
}

static void peer_label_set(struct session *s)
{
    snprintf(s->peer_label, sizeof s->peer_label, "%s[%s]", s->client_name, s->client_addr);
}

/* ---------- the client's name ---------- */

static void on_peer(void *arg, const struct dns_peer_result *r)
{
    struct session *s = arg;
    s->dns_req = NULL;
    snprintf(s->client_name, sizeof s->client_name, "%s", r->name);
    snprintf(s->reverse_name, sizeof s->reverse_name, "%s", r->reverse_name);
    s->client_name_status = (int)r->name_status;
    s->reverse_name_status = (int)r->reverse_status;
    if (r->warning[0]) {
        char clean[700];
        log_warning("%s", log_sanitize(r->warning, strlen(r->warning), clean, sizeof clean));
    }
    peer_label_set(s);
    s->state = SS_CMD;
    session_greet(s, s->greet_kind, NULL);
    session_resume(s);
}

int session_dns_peer(struct session *s, enum listen_kind kind)
{
    const struct config *cfg = session_cfg(s);
    struct dns *d = server_dns(s->srv);
    if (s->local_uid >= 0)
        return 0;       /* the local socket: "localhost", set at connect */
    snprintf(s->reverse_name, sizeof s->reverse_name, "unknown");
    /* Postfix with smtpd_peername_lookup = no: unknown, for good */
    s->client_name_status = s->reverse_name_status = cfg->smtpd_peername_lookup && !d
                                                         ? DNS_PEER_TEMP : DNS_PEER_PERM;
    if (!cfg->smtpd_peername_lookup || !d)
        return 0;
    s->state = SS_DNS_WAIT;
    s->greet_kind = kind;
    s->dns_req = dns_lookup_peer(d, (const struct sockaddr *)(const void *)&s->peer,
                                 dns_timeout_ms(s), on_peer, s);
    return 1;
}

/* ---------- the restrictions' answers ---------- */

static void fact_store(struct session *s, enum dns_check_kind kind, const char *name,
                       const struct dns_check_result *res)
{
    if (s->nfacts == s->cap_facts && s->cap_facts < FACTS_MAX) {
        /* most sessions need a few answers: grow on demand */
        size_t cap = s->cap_facts ? s->cap_facts * 2 : 4;
        if (cap > FACTS_MAX)
            cap = FACTS_MAX;
        struct session_dns_fact *v = realloc(s->facts, cap * sizeof *v);
        if (v) {
            s->facts = v;
            s->cap_facts = cap;
        }
    }
    if (s->cap_facts == 0)
        return;         /* no memory: asked again next time, slower, still right */
    struct session_dns_fact *f;
    if (s->nfacts < s->cap_facts) {
        f = &s->facts[s->nfacts++];
    } else {
        f = &s->facts[s->next_fact];        /* full: the oldest goes */
        s->next_fact = (s->next_fact + 1) % s->nfacts;
    }
    f->kind = kind;
    snprintf(f->name, sizeof f->name, "%s", name);
    f->res = *res;
}

const struct dns_check_result *session_dns_fact(void *arg, enum dns_check_kind kind,
                                                const char *name)
{
    const struct session *s = arg;
    for (size_t i = 0; i < s->nfacts; i++)
        if (s->facts[i].kind == kind && strcasecmp(s->facts[i].name, name) == 0)
            return &s->facts[i].res;
    return NULL;
}

/* Run the kept command again (it finds the answer now), then what the
 * client pipelined after it. */
static void replay(struct session *s)
{
    char *line = s->dns_line;
    size_t len = s->dns_line_len;
    s->dns_line = NULL;
    s->state = SS_CMD;
    /* the command's deadline may have passed while DNS was asked (the
     * timer ignores SS_DNS_WAIT): the client gets its full time again */
    session_timer_arm(s, session_cfg(s)->smtpd_timeout);
    if (line) {
        s->dns_replay = 1;
        session_command(s, line, len);
        s->dns_replay = 0;
        explicit_bzero(line, len);
        free(line);
    }
}

static void on_check(void *arg, const struct dns_check_result *res)
{
    struct session *s = arg;
    s->dns_req = NULL;
    fact_store(s, (enum dns_check_kind)s->dns_kind, s->dns_name, res);
    replay(s);
    session_resume(s);
}

void session_dns_need(struct session *s, int kind, const char *name)
{
    struct dns *d = server_dns(s->srv);
    if (++s->dns_rounds > FACTS_MAX / 2) {
        /* the answers needed for one command do not fit in the session's
         * memory: each lookup would push out one that is still needed */
        log_warning("%s: too many DNS lookups for one command; shorten the restriction "
                    "lists", s->peer_label);
        session_reply(s, REPLY_SERVER_CONFIG, NULL, NULL);
        return;
    }
    free(s->dns_line);
    s->dns_line = s->cur_line ? malloc(s->cur_len + 1) : NULL;
    if (s->dns_line) {
        memcpy(s->dns_line, s->cur_line, s->cur_len);
        s->dns_line[s->cur_len] = '\0';
        s->dns_line_len = s->cur_len;
    }
    s->dns_kind = kind;
    snprintf(s->dns_name, sizeof s->dns_name, "%s", name);
    if (!d || !s->dns_line) {
        /* no resolver (or no memory): a temporary failure, decided now */
        struct dns_check_result r = { .status = DNS_TEMPFAIL };
        snprintf(r.error, sizeof r.error, "%s: no resolver", s->dns_name);
        fact_store(s, (enum dns_check_kind)kind, s->dns_name, &r);
        if (s->dns_line && session_dns_fact(s, (enum dns_check_kind)kind, s->dns_name))
            replay(s);
        else
            session_reply(s, REPLY_NOMEM, NULL, NULL);
        return;
    }
    s->state = SS_DNS_WAIT;
    s->dns_req = dns_lookup_check(d, (enum dns_check_kind)kind, s->dns_name,
                                  dns_timeout_ms(s), on_check, s);
}

void session_dns_free(struct session *s)
{
    if (s->dns_req)
        dns_cancel(s->dns_req);
    s->dns_req = NULL;
    free(s->dns_line);
    s->dns_line = NULL;
    free(s->facts);
    s->facts = NULL;
    s->nfacts = s->next_fact = s->cap_facts = 0;
}
