/* TEMPORARY: weak stand-ins for modules being written in parallel (dns,
 * smtp client, sender rewrite), so main links meanwhile. The real
 * definitions override these; this file is deleted once they have landed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../deliver/dns.h"
#include "../deliver/rewrite.h"
#include "../deliver/smtp.h"
#include "../deliver/transport.h"

#define WEAK __attribute__((weak))

static char pending_dummy;

WEAK struct dns *dns_new(struct event_base *base, char *const *servers, size_t n,
                         char *err, size_t errlen)
{
    (void)base; (void)servers; (void)n; (void)err; (void)errlen;
    return (struct dns *)(void *)&pending_dummy;
}
WEAK void dns_free(struct dns *d) { (void)d; }
WEAK struct smtp_client *smtp_client_new(struct event_base *base, struct dns *dns)
{
    (void)base; (void)dns;
    return (struct smtp_client *)(void *)&pending_dummy;
}
WEAK void smtp_client_free(struct smtp_client *c) { (void)c; }
WEAK int smtp_client_configure(struct smtp_client *c, const struct config *cfg,
                               char *err, size_t errlen)
{
    (void)c; (void)cfg; (void)err; (void)errlen;
    return 0;
}
WEAK void smtp_client_deliver(struct smtp_client *c, struct delivery_job *job)
{
    (void)c;
    for (size_t i = 0; i < job->env->nrcpt; i++) {
        if (!job->todo[i])
            continue;
        struct env_rcpt *r = &job->env->rcpt[i];
        r->state = RCPT_DEFERRED;
        snprintf(r->dsn, sizeof r->dsn, "4.3.0");
        free(r->reason);
        r->reason = strdup("smtp transport not built yet");
    }
    job->done(job);
}
WEAK char *rewrite_envelope_sender(const struct map *m, const char *sender)
{
    (void)m; (void)sender;
    return NULL;
}
WEAK int rewrite_header_senders(const struct map *m, int add_reply_to,
                                const char *content, size_t len, char **out,
                                size_t *outlen)
{
    (void)m; (void)add_reply_to; (void)content; (void)len; (void)out; (void)outlen;
    return 0;
}

#include "../policy/maps.h"
#include "../queue/bounce.h"

WEAK struct map *map_open(const char *spec, int flags, char *err, size_t errlen)
{
    (void)flags;
    snprintf(err, errlen, "%s: lookup tables are not built yet", spec);
    return NULL;
}
WEAK void map_free(struct map *m) { (void)m; }
WEAK char *map_lookup(const struct map *m, const char *key)
{
    (void)m; (void)key;
    return NULL;
}
WEAK char *bounce_compose(const struct envelope *env, const char *content, size_t len,
                          const struct bounce_params *p, size_t *outlen)
{
    (void)env; (void)content; (void)len; (void)p; (void)outlen;
    return NULL;
}
