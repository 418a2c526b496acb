#include "route.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../config/config.h"
#include "../config/maps.h"

static void lower_domain(const char *rcpt, char *out, size_t outlen)
{
    const char *at = strrchr(rcpt, '@');
    const char *d = at ? at + 1 : "";
    size_t i = 0;
    for (; d[i] && i + 1 < outlen; i++)
        out[i] = (char)tolower((unsigned char)d[i]);
    out[i] = '\0';
    if (i > 0 && out[i - 1] == '.')
        out[i - 1] = '\0';
}

/* Parse a transport_maps value or default route into out. */
static int route_parse(const char *value, struct route *out, char *err, size_t errlen)
{
    const char *colon = strchr(value, ':');
    size_t tl = colon ? (size_t)(colon - value) : strlen(value);
    const char *rest = colon ? colon + 1 : "";
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (tl == 7 && strncasecmp(value, "capture", 7) == 0) {
        out->kind = ROUTE_CAPTURE;
        return 0;
    }
    if ((tl == 4 && strncasecmp(value, "smtp", 4) == 0) ||
        (tl == 5 && strncasecmp(value, "relay", 5) == 0)) {
        out->kind = ROUTE_SMTP;
        if (strlen(rest) >= sizeof out->nexthop) {
            snprintf(err, errlen, "next-hop \"%.60s...\" too long", rest);
            return -1;
        }
        snprintf(out->nexthop, sizeof out->nexthop, "%s", rest);
        return 0;
    }
    if (tl == 5 && strncasecmp(value, "error", 5) == 0) {
        out->kind = ROUTE_ERROR;
        snprintf(out->error, sizeof out->error, "%s",
                 *rest ? rest : "mail for this domain is not deliverable");
        return 0;
    }
    snprintf(err, errlen, "unknown transport \"%.*s\" (use capture, smtp: or error:)",
             (int)(tl > 40 ? 40 : tl), value);
    return -1;
}

static char *table_lookup(const struct map *m, const char *rcpt, const char *domain)
{
    char *v = map_lookup(m, rcpt);
    if (v)
        return v;
    if (*domain && (v = map_lookup(m, domain)))
        return v;
    /* parent domains: .example.com matches a.example.com and b.a.example.com */
    for (const char *p = strchr(domain, '.'); p; p = strchr(p + 1, '.')) {
        if ((v = map_lookup(m, p)))
            return v;
    }
    return map_lookup(m, "*");
}

char *route_sender_relayhost(const struct map *m, const char *sender)
{
    if (!m || !sender)
        return NULL;
    char *v = *sender ? map_lookup_address(m, sender) : map_lookup(m, "<>");
    if (v && (strcasecmp(v, "DUNNO") == 0 || strlen(v) >= sizeof ((struct route *)0)->nexthop)) {
        free(v);
        v = NULL;
    }
    return v;
}

char *route_login_relayhost(const struct map *m, const char *login)
{
    if (!m || !login || !*login)
        return NULL;
    char *v = map_lookup(m, login);
    if (v && (strcasecmp(v, "DUNNO") == 0 || strlen(v) >= sizeof ((struct route *)0)->nexthop)) {
        free(v);
        v = NULL;
    }
    return v;
}

int route_for(const struct config *cfg, const struct map *transport_map,
              const char *relayhost, const char *rcpt, struct route *out,
              char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    lower_domain(rcpt, out->domain, sizeof out->domain);
    if (transport_map) {
        char *v = table_lookup(transport_map, rcpt, out->domain);
        if (v) {
            int rc = route_parse(v, out, err, errlen);
            if (rc < 0) {
                char why[256];
                snprintf(why, sizeof why, "%s", err);
                snprintf(err, errlen, "transport_maps entry for %s: %s", out->domain, why);
            }
            free(v);
            return rc;
        }
    }
    /* mydestination: this host is the final destination (Postfix's
     * local_transport; postern has no mailboxes of its own) */
    for (size_t i = 0; i < cfg->mydestination.n && out->domain[0]; i++) {
        if (strcasecmp(cfg->mydestination.v[i], out->domain) == 0) {
            int rc = route_parse(cfg->local_transport, out, err, errlen);
            if (rc == 0 && out->kind == ROUTE_SMTP && !out->nexthop[0]) {
                snprintf(err, errlen, "local_transport = %s: smtp needs a next-hop "
                         "for local domains (smtp:[host]:port)", cfg->local_transport);
                return -1;
            }
            return rc;
        }
    }
    if (strcasecmp(cfg->default_transport, "smtp") == 0) {
        out->kind = ROUTE_SMTP;
        snprintf(out->nexthop, sizeof out->nexthop, "%s",
                 relayhost ? relayhost : cfg->relayhost);
        return 0;
    }
    return route_parse(cfg->default_transport, out, err, errlen);
}

int route_equal(const struct route *a, const struct route *b)
{
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case ROUTE_CAPTURE:
        return 1;
    case ROUTE_ERROR:
        return strcmp(a->error, b->error) == 0;
    case ROUTE_SMTP:
        if (strcmp(a->nexthop, b->nexthop) != 0)
            return 0;
        /* MX delivery: one domain per job */
        return a->nexthop[0] || strcmp(a->domain, b->domain) == 0;
    }
    return 0;
}
