/* runtime — a loaded configuration and the tables it names, shared by
 * reference: sessions keep the snapshot they started with while SIGHUP
 * swaps in a new one. Loading validates what `postern check` reports. */
#include "runtime.h"

#include "../config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/maps.h"
#include "../policy/policy.h"
#include "../policy/restrict.h"
#include "../http/http.h"
#include "../smtp/server.h"
#include "../smtp/tls.h"
#include "../auth/auth.h"
#include "../auth/users.h"
#include "../queue/quota.h"
#include "../dkim/dkim.h"
#include "../dkim/dkim_key.h"
#include "../util/fbundle.h"
#include "../util/fs.h"

/* A certificate chain or a key is a few kilobytes. */
#define RT_PEM_MAX (1024 * 1024)

/* The text of a file the runtime needs: from a replay bundle (the worker
 * after a reload), else from disk (kept in a recording bundle). */
/* What runtime_read reads from disk: a configuration file, a table
 * (spec), or the AUTH users file (secret: mode 600, no link). */
enum runtime_file { RF_CONFIG, RF_MAP, RF_USERS, RF_PEM };

static char *runtime_read(struct fbundle *fb, enum runtime_file kind, const char *path,
                          const char *spec, int flags, size_t *len, char *err, size_t errlen,
                          struct config_errors *errs)
{
    char *text = NULL;
    if (fb && fbundle_is_replay(fb)) {
        const char *t = fbundle_get(fb, path, len);
        if (!t) {
            snprintf(err, errlen, "%s: not passed on by the privileged parent", path);
            return NULL;
        }
        if (!(text = malloc(*len + 1))) {
            snprintf(err, errlen, "%s: out of memory", path);
            return NULL;
        }
        memcpy(text, t, *len + 1);
        return text;
    }
    int rc = kind == RF_MAP ? map_read_file(spec, flags, &text, len, err, errlen)
             : kind == RF_USERS ? users_read_file(path, 1, &text, len, err, errlen)
             : kind == RF_PEM ? fs_read_file(path, (flags & MAP_SECRET) ? FS_READ_SECRET : 0,
                                             RT_PEM_MAX, &text, len, err, errlen)
                                : config_read_file(path, &text, len, errs);
    if (rc < 0)
        return NULL;
    if (fb && fbundle_put(fb, path, text, *len) < 0) {
        explicit_bzero(text, *len);
        free(text);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    return text;
}

struct map *runtime_map(struct fbundle *fb, const char *spec, int flags, char *err,
                        size_t errlen)
{
    const char *path = map_spec_path(spec);
    if (!path)      /* let map_open_text say what is wrong with it */
        return map_open_text(spec, flags, "", 0, err, errlen);
    size_t len = 0;
    char *text = runtime_read(fb, RF_MAP, path, spec, flags, &len, err, errlen, NULL);
    if (!text)
        return NULL;
    struct map *m = map_open_text(spec, flags, text, len, err, errlen);
    free(text);
    return m;
}

static void wipe_free(char *p, size_t len)
{
    if (p) {
        volatile char *v = p;
        for (size_t i = 0; i < len; i++)
            v[i] = 0;
    }
    free(p);
}

/* The SMTP server's TLS context, when a listener or STARTTLS needs one:
 * smtpd_tls_security_level may or encrypt, or a submission(s):// listener.
 * The key is read as a secret (mode 0600, root's). NULL when none is
 * needed or on an error (in errs). */
static struct ssl_ctx_st *runtime_tls(const struct config *cfg, struct fbundle *fb,
                                      struct config_errors *errs)
{
    char where[512], why[1024];
    const char *needs = NULL;      /* the listen URL that needs it */
    int by_level = strcmp(cfg->smtpd_tls_security_level, "may") == 0 ||
                   strcmp(cfg->smtpd_tls_security_level, "encrypt") == 0;
    for (size_t i = 0; !by_level && !needs && i < cfg->listen.n; i++) {
        char host[256];
        int port;
        enum listen_kind kind;
        if (server_parse_listen(cfg->listen.v[i], &kind, host, sizeof host, &port, why,
                                sizeof why) == 0 &&
            kind != LISTEN_SMTP)
            needs = cfg->listen.v[i];
    }
    int by_http = !by_level && !needs && cfg->http_tls && cfg->http_listen[0];
    if (!by_level && !needs && !by_http)
        return NULL;
    if (!cfg->smtpd_tls_cert_file[0] || !cfg->smtpd_tls_key_file[0]) {
        char what[400];
        if (by_http) {
            config_param_where(cfg, "http_tls", where, sizeof where);
            config_errors_add(errs, "%s: http_tls = yes needs a certificate: set "
                              "smtpd_tls_cert_file (and smtpd_tls_key_file, if the key is "
                              "in a file of its own)", where);
            return NULL;
        }
        if (by_level)
            snprintf(what, sizeof what, "smtpd_tls_security_level = %s",
                     cfg->smtpd_tls_security_level);
        else
            snprintf(what, sizeof what, "listen %.300s", needs);
        config_param_where(cfg, by_level ? "smtpd_tls_security_level" : "listen", where,
                           sizeof where);
        config_errors_add(errs, "%s: %s needs a certificate: set smtpd_tls_cert_file (and "
                          "smtpd_tls_key_file, if the key is in a file of its own)",
                          where, what);
        return NULL;
    }
    size_t clen = 0, klen = 0;
    char *cert = runtime_read(fb, RF_PEM, cfg->smtpd_tls_cert_file, NULL, 0, &clen, why,
                              sizeof why, NULL);
    if (!cert) {
        config_errors_add(errs, "%s: smtpd_tls_cert_file: %s",
                          config_param_where(cfg, "smtpd_tls_cert_file", where, sizeof where),
                          why);
        return NULL;
    }
    char *key = runtime_read(fb, RF_PEM, cfg->smtpd_tls_key_file, NULL, MAP_SECRET, &klen,
                             why, sizeof why, NULL);
    if (!key) {
        config_errors_add(errs, "%s: smtpd_tls_key_file: %s",
                          config_param_where(cfg, "smtpd_tls_key_file", where, sizeof where),
                          why);
        free(cert);
        return NULL;
    }
    struct ssl_ctx_st *ctx = tls_server_ctx_new(cert, clen, cfg->smtpd_tls_cert_file, key,
                                                klen, cfg->smtpd_tls_key_file, why,
                                                sizeof why);
    /* the certificate file may hold the key too */
    wipe_free(cert, clen);
    wipe_free(key, klen);
    if (!ctx)
        config_errors_add(errs, "%s: smtpd_tls_key_file: %s",
                          config_param_where(cfg, "smtpd_tls_key_file", where, sizeof where),
                          why);
    return ctx;
}

/* relayhost_rate_limits: a texthash:/hash: file read by the privileged
 * parent (as the other tables), parsed here so that a bad line fails the
 * start or the reload, naming the file and line. */
static void load_quota(struct runtime *rt, struct fbundle *fb, struct config_errors *errs)
{
    const struct config *cfg = rt->cfg;
    const char *spec = cfg->relayhost_rate_limits;
    char err[1024], where[512];
    if (!spec[0])
        return;
    config_param_where(cfg, "relayhost_rate_limits", where, sizeof where);
    const char *path = map_spec_path(spec);
    if (!path || (strncmp(spec, "texthash:", 9) != 0 && strncmp(spec, "hash:", 5) != 0)) {
        config_errors_add(errs, "%s: relayhost_rate_limits = %s: use texthash:/path (lines "
                          "\"[smtp.example.com]:465 500/1d 60/1m\")", where, spec);
        return;
    }
    size_t len = 0;
    char *text = runtime_read(fb, RF_MAP, path, spec, 0, &len, err, sizeof err, NULL);
    if (!text) {
        config_errors_add(errs, "%s: relayhost_rate_limits: %s", where, err);
        return;
    }
    rt->quota = quota_conf_parse(text, len, path, err, sizeof err);
    free(text);
    if (!rt->quota)
        config_errors_add(errs, "relayhost_rate_limits: %s", err);
}

/* smtpd_sasl_users, read (by the privileged parent) and checked now so
 * that a broken file fails the start or the reload, not each AUTH. */
static void load_sasl_users(struct runtime *rt, struct fbundle *fb, struct config_errors *errs)
{
    const struct config *cfg = rt->cfg;
    char err[1024], where[512];
    if (!cfg->smtpd_sasl_auth_enable || strcmp(cfg->smtpd_sasl_type, "postern") != 0)
        return;
    size_t len = 0;
    char *text = runtime_read(fb, RF_USERS, cfg->smtpd_sasl_users, NULL, 0, &len, err,
                              sizeof err, NULL);
    if (!text) {
        config_errors_add(errs, "%s: smtpd_sasl_users: %s",
                          config_param_where(cfg, "smtpd_sasl_users", where, sizeof where),
                          err);
        return;
    }
    struct users *u = users_parse(text, len, cfg->smtpd_sasl_users, err, sizeof err);
    if (!u) {
        explicit_bzero(text, len);
        free(text);
        config_errors_add(errs, "smtpd_sasl_users: %s", err);
        return;
    }
    users_free(u);
    rt->sasl_users = text;
    rt->sasl_users_len = len;
}

/* http_users: read by the privileged parent like smtpd_sasl_users (mode
 * 600, no link), parsed once; the worker verifies against it on the event
 * loop (daemon/http_auth.c bounds that). Only with http_listen set. */
static void load_http_users(struct runtime *rt, struct fbundle *fb, struct config_errors *errs)
{
    const struct config *cfg = rt->cfg;
    char err[1024], where[512];
    if (!cfg->http_listen[0] || !cfg->http_users[0])
        return;
    size_t len = 0;
    char *text = runtime_read(fb, RF_USERS, cfg->http_users, NULL, 0, &len, err, sizeof err,
                              NULL);
    if (!text) {
        config_errors_add(errs, "%s: http_users: %s",
                          config_param_where(cfg, "http_users", where, sizeof where), err);
        return;
    }
    rt->http_users = users_parse(text, len, cfg->http_users, err, sizeof err);
    explicit_bzero(text, len);
    free(text);
    if (!rt->http_users)
        config_errors_add(errs, "http_users: %s", err);
}

/* notify_secret: a value starting with / is a file, read (by the
 * privileged parent) as a secret; a final newline is not part of the key. */
static void load_notify_secret(struct runtime *rt, struct fbundle *fb,
                               struct config_errors *errs)
{
    const struct config *cfg = rt->cfg;
    char err[1024], where[512];
    if (cfg->notify_url.n == 0 || !cfg->notify_secret[0])
        return;
    size_t len = strlen(cfg->notify_secret);
    char *key;
    if (cfg->notify_secret[0] == '/') {
        key = runtime_read(fb, RF_PEM, cfg->notify_secret, NULL, MAP_SECRET, &len, err,
                           sizeof err, NULL);
        if (!key) {
            config_errors_add(errs, "%s: notify_secret: %s",
                              config_param_where(cfg, "notify_secret", where, sizeof where),
                              err);
            return;
        }
        while (len > 0 && (key[len - 1] == '\n' || key[len - 1] == '\r'))
            key[--len] = '\0';
        if (len == 0) {
            free(key);
            config_errors_add(errs, "%s: notify_secret: %s is empty; put the key in it "
                              "(e.g. openssl rand -hex 32 > %s)",
                              config_param_where(cfg, "notify_secret", where, sizeof where),
                              cfg->notify_secret, cfg->notify_secret);
            return;
        }
    } else if (!(key = strdup(cfg->notify_secret))) {
        config_errors_add(errs, "notify_secret: out of memory");
        return;
    }
    rt->notify_secret = key;
    rt->notify_secret_len = len;
}

/* ---------- DKIM keys ---------- */

struct dkim_load {
    struct runtime *rt;
    struct fbundle *fb;
    struct config_errors *errs;
    const char *param;          /* for messages: dkim_private_key, dkim_key_table */
};

/* Read one key file as a secret (mode 600, root's) and add it. */
static int dkim_load_key(void *arg, const char *domain, const char *selector,
                         const char *keyfile, size_t line, char *err, size_t errlen)
{
    struct dkim_load *l = arg;
    const struct config *cfg = l->rt->cfg;
    char why[1024], where[512], at[600] = "";
    size_t len = 0;
    (void)err;
    (void)errlen;
    config_param_where(cfg, l->param, where, sizeof where);
    if (line)
        snprintf(at, sizeof at, " (%s line %zu)", map_spec_path(cfg->dkim_key_table), line);
    char *pem = runtime_read(l->fb, RF_PEM, keyfile, NULL, MAP_SECRET, &len, why, sizeof why,
                             NULL);
    EVP_PKEY *key = pem ? dkim_key_parse(pem, len, keyfile, why, sizeof why) : NULL;
    wipe_free(pem, len);
    if (!key) {
        config_errors_add(l->errs, "%s: %s%s: %s", where, l->param, at, why);
        return 0;       /* go on: report every bad key at once */
    }
    if (dkim_signer_add(l->rt->dkim, domain, selector, key, why, sizeof why) < 0)
        config_errors_add(l->errs, "%s: %s%s: %s", where, l->param, at, why);
    return 0;
}

/* dkim_private_key and the keys of dkim_key_table, read by the privileged
 * parent and checked now: a bad key fails the start, the reload and
 * `postern check`, naming the file and the fix. */
static void load_dkim(struct runtime *rt, struct fbundle *fb, struct config_errors *errs)
{
    const struct config *cfg = rt->cfg;
    char where[512], why[1024];
    if (!cfg->dkim_private_key[0] && !cfg->dkim_key_table[0])
        return;
    /* header/body; one word is the header's, the body simple (RFC 6376 3.5 c=) */
    const char *c = cfg->dkim_canonicalization, *slash = strchr(c, '/');
    int hc = canon_parse(c, slash ? (size_t)(slash - c) : strlen(c));
    int bc = slash ? canon_parse(slash + 1, strlen(slash + 1)) : DKIM_CANON_SIMPLE;
    if (hc < 0 || bc < 0)
        return;         /* config_validate has said so */
    rt->dkim = dkim_signer_new((enum dkim_canon)hc, (enum dkim_canon)bc,
                               (const char *const *)cfg->dkim_signed_headers.v,
                               cfg->dkim_signed_headers.n, why, sizeof why);
    if (!rt->dkim) {
        config_errors_add(errs, "%s: %s",
                          config_param_where(cfg, "dkim_signed_headers", where, sizeof where),
                          why);
        return;
    }
    struct dkim_load l = { rt, fb, errs, "dkim_private_key" };
    if (cfg->dkim_private_key[0] && cfg->dkim_domain[0] && cfg->dkim_selector[0])
        dkim_load_key(&l, cfg->dkim_domain, cfg->dkim_selector, cfg->dkim_private_key, 0,
                      why, sizeof why);
    const char *path = cfg->dkim_key_table[0] ? map_spec_path(cfg->dkim_key_table) : NULL;
    if (path) {
        size_t len = 0;
        l.param = "dkim_key_table";
        char *text = runtime_read(fb, RF_MAP, path, cfg->dkim_key_table, 0, &len, why,
                                  sizeof why, NULL);
        if (!text || dkim_keytable_parse(text, len, path, dkim_load_key, &l, why,
                                         sizeof why) < 0)
            config_errors_add(errs, "%s: dkim_key_table: %s",
                              config_param_where(cfg, "dkim_key_table", where, sizeof where),
                              why);
        else if (dkim_signer_nkeys(rt->dkim) == 0 && !cfg->dkim_private_key[0])
            config_errors_add(errs, "%s: dkim_key_table: %s has no keys; add lines of "
                              "\"domain selector keyfile\" or leave dkim_key_table empty",
                              config_param_where(cfg, "dkim_key_table", where, sizeof where),
                              path);
        free(text);
    }
}

int runtime_auth_start(struct runtime *rt, struct event_base *base, struct anvil *anvil,
                       char *err, size_t errlen)
{
    for (size_t i = 0; rt->listeners && i < rt->cfg->listen.n; i++)
        if (rt->listeners[i] &&
            runtime_auth_start(rt->listeners[i], base, anvil, err, errlen) < 0)
            return -1;
    rt->anvil = anvil;
    if (!rt->cfg->smtpd_sasl_auth_enable)
        return 0;
    rt->auth = auth_new(rt->cfg, base, rt->sasl_users ? rt->sasl_users : "",
                        rt->sasl_users_len, err, errlen);
    if (rt->sasl_users) {
        explicit_bzero(rt->sasl_users, rt->sasl_users_len);
        free(rt->sasl_users);
        rt->sasl_users = NULL;
        rt->sasl_users_len = 0;
    }
    return rt->auth ? 0 : -1;
}

struct runtime *runtime_load(const char *path, struct config_errors *errs)
{
    return runtime_load_from(path, NULL, errs);
}

/* What rt holds of its own (a derived snapshot borrows the rest from its
 * top). */
static void runtime_free(struct runtime *rt)
{
    const struct runtime *top = rt->top;
    if (!top) {
        if (rt->mynetworks)
            policy_netlist_free(rt->mynetworks);
        free(rt->mynetworks);
        if (rt->proxy_networks)
            policy_netlist_free(rt->proxy_networks);
        free(rt->proxy_networks);
        if (rt->event_exceptions)
            policy_netlist_free(rt->event_exceptions);
        free(rt->event_exceptions);
        if (rt->http_networks)
            policy_netlist_free(rt->http_networks);
        free(rt->http_networks);
        users_free(rt->http_users);
        map_free(rt->canonical);
        map_free(rt->transport_map);
        map_free(rt->sender_relay);
        map_free(rt->login_relay);
        map_free(rt->passwd);
        quota_conf_free(rt->quota);
        dkim_signer_free(rt->dkim);
    }
    for (size_t i = 0; rt->listeners && i < rt->cfg->listen.n; i++)
        if (rt->listeners[i])
            runtime_free(rt->listeners[i]);
    free(rt->listeners);
    restrict_conf_free(rt->restrictions);
    if (!top || rt->smtpd_tls != top->smtpd_tls)
        tls_server_ctx_free(rt->smtpd_tls);
    if (rt->auth)
        auth_free(rt->auth);
    if (rt->sasl_users) {
        explicit_bzero(rt->sasl_users, rt->sasl_users_len);
        free(rt->sasl_users);
    }
    if (rt->notify_secret) {
        explicit_bzero(rt->notify_secret, rt->notify_secret_len);
        free(rt->notify_secret);
    }
    config_free(rt->cfg);
    free(rt);
}

/* The snapshot of the configuration text with the overrides of `listen`
 * URL i added at its end (master.cf's -o), with the files beside a Postfix
 * main.cf that the top read (pf, or NULL): its own restriction lists, AUTH
 * and TLS context (when its level differs); the tables and mynetworks are
 * top's. Errors go to errs, naming the `listen` line. */
static struct runtime *runtime_derive(struct runtime *top, const char *text, size_t len,
                                      const char *name,
                                      const struct config_postfix_files *pf,
                                      const char *overrides, size_t i,
                                      struct fbundle *fb, struct config_errors *errs)
{
    const struct config *tcfg = top->cfg;
    char where[512];
    config_param_where(tcfg, "listen", where, sizeof where);
    size_t olen = strlen(overrides);
    char *all = malloc(len + olen + 2);
    if (!all) {
        config_errors_add(errs, "out of memory");
        return NULL;
    }
    memcpy(all, text, len);
    all[len] = '\n';
    memcpy(all + len + 1, overrides, olen + 1);
    struct config_errors derr = { 0 };
    /* the top's text loaded (no NUL in it): the same Postfix files too */
    struct config *cfg = config_load_postfix_collect(all, name, pf, &derr);
    free(all);
    struct runtime *rt = cfg ? calloc(1, sizeof *rt) : NULL;
    if (rt) {
        rt->cfg = cfg;
        rt->top = top;
        rt->mynetworks = top->mynetworks;
        rt->proxy_networks = top->proxy_networks;
        rt->event_exceptions = top->event_exceptions;
        rt->http_networks = top->http_networks;
        rt->http_users = top->http_users;
        rt->canonical = top->canonical;
        rt->transport_map = top->transport_map;
        rt->sender_relay = top->sender_relay;
        rt->login_relay = top->login_relay;
        rt->quota = top->quota;
        if (derr.n == 0)
            rt->restrictions = runtime_restrictions(cfg, fb, &derr);
        if (derr.n == 0)
            load_sasl_users(rt, fb, &derr);
        if (derr.n == 0)
            rt->smtpd_tls = strcmp(cfg->smtpd_tls_security_level,
                                   tcfg->smtpd_tls_security_level) == 0
                                ? top->smtpd_tls
                                : runtime_tls(cfg, fb, &derr);
    } else if (cfg) {
        config_free(cfg);
        config_errors_add(&derr, "out of memory");
    }
    /* the override lines are past the file's end: name the URL instead */
    size_t nl = strlen(name);
    for (size_t k = 0; k < derr.n; k++) {
        const char *m = derr.msg[k];
        if (strncmp(m, name, nl) == 0 && m[nl] == ':' && m[nl + 1] >= '0' &&
            m[nl + 1] <= '9') {
            m += nl + 1;
            while (*m >= '0' && *m <= '9')
                m++;
            m += strncmp(m, ": ", 2) == 0 ? 2 : 0;
        }
        config_errors_add(errs, "%s: listen \"%s\": %s", where, tcfg->listen.v[i], m);
    }
    if (derr.n > 0 && rt) {
        runtime_free(rt);
        rt = NULL;
    }
    return rt;
}

/* The derived snapshots of the `listen` URLs with overrides. */
static void runtime_derive_all(struct runtime *rt, const char *text, size_t len,
                               const char *name, const struct config_postfix_files *pf,
                               struct fbundle *fb, struct config_errors *errs)
{
    const struct config *cfg = rt->cfg;
    char where[512], err[1024], over[2048];
    for (size_t i = 0; i < cfg->listen.n; i++) {
        int n = server_listen_overrides(cfg->listen.v[i], over, sizeof over, err, sizeof err);
        if (n < 0)
            config_errors_add(errs, "%s: listen %s",
                              config_param_where(cfg, "listen", where, sizeof where), err);
        if (n <= 0)
            continue;
        if (!rt->listeners && !(rt->listeners = calloc(cfg->listen.n, sizeof *rt->listeners))) {
            config_errors_add(errs, "out of memory");
            return;
        }
        rt->listeners[i] = runtime_derive(rt, text, len, name, pf, over, i, fb, errs);
    }
}

/* The files beside a Postfix main.cf (config.h: config_postfix_files), read
 * as the configuration is, and kept for the derived snapshots. */
struct pf_hold {
    struct config_postfix_files pf;
    char *master, *otext;
    char mpath[4096], opath[4096];
};

static void pf_hold_free(struct pf_hold *h)
{
    free(h->master);
    free(h->otext);
    h->master = h->otext = NULL;
}

/* -1 with the error in errs when the master.cf is there but unreadable; a
 * myorigin file that cannot be read is the loader's to report. */
static int pf_hold_read(struct pf_hold *h, struct fbundle *fb, const char *path,
                        const char *text, struct config_errors *errs)
{
    char why[768] = "";
    size_t mlen = 0, olen = 0;
    int replay = fb && fbundle_is_replay(fb);
    memset(h, 0, sizeof *h);
    if (config_master_path(path, h->mpath, sizeof h->mpath) == 0 &&
        (replay ? fbundle_get(fb, h->mpath, &mlen) != NULL : access(h->mpath, F_OK) == 0)) {
        h->master = runtime_read(fb, RF_CONFIG, h->mpath, NULL, 0, &mlen, why, sizeof why,
                                 errs);
        if (!h->master) {
            if (errs->n == 0)
                config_errors_add(errs, "%s", why);
            return -1;
        }
        if (strlen(h->master) != mlen) {
            config_errors_add(errs, "%s: NUL byte in file; is it a text file?", h->mpath);
            pf_hold_free(h);
            return -1;
        }
    }
    if (config_myorigin_path(text, h->opath, sizeof h->opath) == 0 &&
        (replay ? fbundle_get(fb, h->opath, &olen) != NULL : access(h->opath, R_OK) == 0)) {
        struct config_errors ignore = { 0 };
        h->otext = runtime_read(fb, RF_CONFIG, h->opath, NULL, 0, &olen, why, sizeof why,
                                &ignore);
    }
    h->pf = (struct config_postfix_files){ h->master, h->mpath, h->otext ? h->opath : NULL,
                                           h->otext };
    return 0;
}

/* Every error, the configuration's and those of mynetworks and the map
 * files, goes to errs: NULL when there is any. */
struct runtime *runtime_load_from(const char *path, struct fbundle *fb,
                                  struct config_errors *errs)
{
    struct config *cfg;
    char why[768] = "", where[512];
    char *text = NULL;
    size_t len = 0;
    struct pf_hold hold;
    memset(&hold, 0, sizeof hold);
    if (path) {
        text = runtime_read(fb, RF_CONFIG, path, NULL, 0, &len, why, sizeof why, errs);
        if (!text) {
            if (errs->n == 0)       /* not a read error: those are in errs */
                config_errors_add(errs, "%s", why);
            return NULL;
        }
        /* a Postfix main.cf: the master.cf beside it gives the listeners,
         * the file myorigin names the domain */
        if (pf_hold_read(&hold, fb, path, text, errs) < 0) {
            free(text);
            return NULL;
        }
        if (strlen(text) != len)
            cfg = config_load_buffer_collect(text, len, path, errs);   /* says where */
        else
            cfg = config_load_postfix_collect(text, path, &hold.pf, errs);
    } else {
        cfg = config_load_collect(NULL, errs);
    }
    if (!cfg) {
        free(text);
        pf_hold_free(&hold);
        return NULL;
    }
    struct runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        free(text);
        pf_hold_free(&hold);
        config_free(cfg);
        config_errors_add(errs, "out of memory");
        return NULL;
    }
    rt->cfg = cfg;
    rt->refs = 1;
    if (!(rt->mynetworks = calloc(1, sizeof *rt->mynetworks))) {
        free(text);
        pf_hold_free(&hold);
        config_errors_add(errs, "out of memory");
        runtime_unref(rt);
        return NULL;
    }
    config_param_where(cfg, "mynetworks", where, sizeof where);
    long wide;
    if (policy_netlist_parse(rt->mynetworks, cfg->mynetworks.v, cfg->mynetworks.n,
                             why, sizeof why) < 0)
        config_errors_add(errs, "%s: mynetworks: %s", where, why);
    else if ((wide = policy_netlist_open_relay(rt->mynetworks)) >= 0)
        /* "it never becomes an open relay": seed configs carry 0.0.0.0/0 */
        config_errors_add(errs, "%s: mynetworks entry \"%s\" trusts a large part of the "
                          "Internet, which would make postern an open relay; list only "
                          "your own networks (e.g. 10.0.0.0/8, 192.168.0.0/16)",
                          where, cfg->mynetworks.v[wide]);
    if (!(rt->proxy_networks = calloc(1, sizeof *rt->proxy_networks)))
        config_errors_add(errs, "out of memory");
    else if (policy_netlist_parse(rt->proxy_networks, cfg->smtpd_upstream_proxy_networks.v,
                                  cfg->smtpd_upstream_proxy_networks.n, why, sizeof why) < 0)
        config_errors_add(errs, "%s: smtpd_upstream_proxy_networks: %s",
                          config_param_where(cfg, "smtpd_upstream_proxy_networks", where,
                                             sizeof where), why);
    if (!(rt->http_networks = calloc(1, sizeof *rt->http_networks)))
        config_errors_add(errs, "out of memory");
    else if (policy_netlist_parse(rt->http_networks, cfg->http_allowed_networks.v,
                                  cfg->http_allowed_networks.n, why, sizeof why) < 0)
        config_errors_add(errs, "%s: http_allowed_networks: %s",
                          config_param_where(cfg, "http_allowed_networks", where,
                                             sizeof where), why);
    if (!(rt->event_exceptions = calloc(1, sizeof *rt->event_exceptions)))
        config_errors_add(errs, "out of memory");
    else if (policy_netlist_parse(rt->event_exceptions,
                                  cfg->smtpd_client_event_limit_exceptions.v,
                                  cfg->smtpd_client_event_limit_exceptions.n, why,
                                  sizeof why) < 0)
        config_errors_add(errs, "%s: smtpd_client_event_limit_exceptions: %s",
                          config_param_where(cfg, "smtpd_client_event_limit_exceptions",
                                             where, sizeof where), why);
    if (cfg->sender_canonical_maps[0] &&
        !(rt->canonical = runtime_map(fb, cfg->sender_canonical_maps, 0, why, sizeof why)))
        config_errors_add(errs, "sender_canonical_maps: %s", why);
    if (cfg->smtp_sasl_auth_enable && cfg->smtp_sasl_password_maps[0] &&
        !(rt->passwd = runtime_map(fb, cfg->smtp_sasl_password_maps, MAP_SECRET, why,
                                   sizeof why)))
        config_errors_add(errs, "smtp_sasl_password_maps: %s", why);
    if (cfg->transport_maps[0] &&
        !(rt->transport_map = runtime_map(fb, cfg->transport_maps, 0, why, sizeof why)))
        config_errors_add(errs, "transport_maps: %s", why);
    if (cfg->sender_dependent_relayhost_maps[0] &&
        !(rt->sender_relay = runtime_map(fb, cfg->sender_dependent_relayhost_maps, 0, why,
                                         sizeof why)))
        config_errors_add(errs, "sender_dependent_relayhost_maps: %s", why);
    if (cfg->smtpd_sasl_login_relayhost_maps[0] &&
        !(rt->login_relay = runtime_map(fb, cfg->smtpd_sasl_login_relayhost_maps, 0, why,
                                        sizeof why)))
        config_errors_add(errs, "smtpd_sasl_login_relayhost_maps: %s", why);
    load_quota(rt, fb, errs);
    load_http_users(rt, fb, errs);
    if (cfg->http_listen[0]) {
        char host[256];
        int port;
        if (http_parse_listen(cfg->http_listen, host, sizeof host, &port, why, sizeof why) < 0)
            config_errors_add(errs, "%s: http_listen %s",
                              config_param_where(cfg, "http_listen", where, sizeof where),
                              why);
    }
    rt->restrictions = runtime_restrictions(cfg, fb, errs);
    load_sasl_users(rt, fb, errs);
    load_dkim(rt, fb, errs);
    load_notify_secret(rt, fb, errs);
    if (errs->n == 0)
        rt->smtpd_tls = runtime_tls(cfg, fb, errs);
    /* after the rest, whose errors the derived ones would repeat */
    if (errs->n == 0)
        runtime_derive_all(rt, text ? text : config_default_text,
                           text ? len : strlen(config_default_text), path ? path : "(default)",
                           text ? &hold.pf : NULL, fb, errs);
    free(text);
    pf_hold_free(&hold);
    if (errs->n > 0) {
        runtime_unref(rt);
        return NULL;
    }
    return rt;
}

struct runtime *runtime_ref(struct runtime *rt)
{
    (rt->top ? rt->top : rt)->refs++;
    return rt;
}

void runtime_unref(struct runtime *rt)
{
    if (rt && rt->top)
        rt = rt->top;
    if (!rt || --rt->refs > 0)
        return;
    runtime_free(rt);
}
