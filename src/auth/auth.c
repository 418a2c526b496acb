/* auth — the asynchronous front of the AUTH backends (see auth.h).
 *
 * A request is owned by this module from auth_verify_start until its done
 * callback has run on the loop thread. The worker thread reads only the
 * request's copies and the immutable backend settings; the loop thread
 * alone touches the list of outstanding requests and the callbacks, so a
 * cancel is a flag the worker may read (to skip work not started) and the
 * loop acts on. */
#include "auth.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"
#include "../util/workq.h"
#include "dovecot.h"
#include "saslauthd.h"
#include "users.h"

enum backend { BACKEND_POSTERN, BACKEND_SASLAUTHD, BACKEND_DOVECOT };

struct auth {
    enum backend backend;
    char path[PATH_MAX];            /* saslauthd / Dovecot socket */
    char run_as[64];                /* mail_owner, for advice in errors */
    struct users *users;            /* BACKEND_POSTERN */
    struct workq *q;
    struct auth_request *pending;   /* loop thread only */
};

struct auth_request {
    struct auth *a;
    struct auth_request *prev, *next;
    atomic_int cancelled;
    atomic_int stopping;            /* auth_free: not started means AUTH_TEMP */
    int too_long;                   /* refused before it was queued */
    auth_done_fn *cb;
    void *arg;
    char user[AUTH_NAME_MAX + 1];
    char pass[AUTH_NAME_MAX + 1];
    char client_addr[64], server_addr[64];
    int secured;
    struct auth_verdict v;
};

const char *auth_socket_path(const struct config *cfg, char *out, size_t outlen)
{
    const char *p = cfg->smtpd_sasl_path;
    if (!p[0])
        p = strcmp(cfg->smtpd_sasl_type, "saslauthd") == 0 ? "/run/saslauthd/mux"
                                                            : "private/auth";
    if (p[0] == '/')
        snprintf(out, outlen, "%s", p);
    else
        snprintf(out, outlen, "%s/%s", cfg->queue_directory, p);
    return out;
}

struct auth *auth_new(const struct config *cfg, struct event_base *base,
                      const char *users_text, size_t users_len, char *err, size_t errlen)
{
    struct auth *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->backend = strcmp(cfg->smtpd_sasl_type, "saslauthd") == 0 ? BACKEND_SASLAUTHD
                 : strcmp(cfg->smtpd_sasl_type, "dovecot") == 0 ? BACKEND_DOVECOT
                                                                : BACKEND_POSTERN;
    auth_socket_path(cfg, a->path, sizeof a->path);
    snprintf(a->run_as, sizeof a->run_as, "%s", cfg->mail_owner);
    if (a->backend == BACKEND_POSTERN &&
        !(a->users = users_parse(users_text ? users_text : "", users_text ? users_len : 0,
                                 cfg->smtpd_sasl_users, err, errlen))) {
        free(a);
        return NULL;
    }
    if (!(a->q = workq_new(base, AUTH_THREADS))) {
        snprintf(err, errlen, "cannot start the authentication threads");
        users_free(a->users);
        free(a);
        return NULL;
    }
    return a;
}

/* Worker thread. */
static void run_check(void *arg)
{
    struct auth_request *r = arg;
    const struct auth *a = r->a;
    if (r->too_long)
        return;
    if (atomic_load(&r->cancelled) || atomic_load(&r->stopping)) {
        r->v.result = AUTH_TEMP;
        snprintf(r->v.why, sizeof r->v.why, "the check was not started (shutting down)");
        return;
    }
    snprintf(r->v.user, sizeof r->v.user, "%s", r->user);
    struct auth_peer peer = { r->client_addr[0] ? r->client_addr : NULL,
                              r->server_addr[0] ? r->server_addr : NULL, r->secured };
    switch (a->backend) {
    case BACKEND_POSTERN:
        switch (users_verify(a->users, r->user, r->pass, r->v.why, sizeof r->v.why)) {
        case USERS_OK:
            r->v.result = AUTH_OK;
            users_rate(a->users, r->user, &r->v.rate, &r->v.rate_window_ms);
            break;
        case USERS_FAIL: r->v.result = AUTH_FAIL; break;
        case USERS_ERROR: r->v.result = AUTH_TEMP; break;
        }
        break;
    case BACKEND_SASLAUTHD:
        saslauthd_verify(a->path, r->user, r->pass, a->run_as, AUTH_TIMEOUT_MS, &r->v);
        break;
    case BACKEND_DOVECOT:
        dovecot_verify(a->path, r->user, r->pass, &peer, a->run_as, AUTH_TIMEOUT_MS,
                       &r->v);
        break;
    }
    explicit_bzero(r->pass, sizeof r->pass);
}

static void unlink_request(struct auth_request *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->a->pending = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

/* Loop thread. */
static void check_done(void *arg)
{
    struct auth_request *r = arg;
    unlink_request(r);
    if (r->v.result != AUTH_OK)
        r->v.user[0] = '\0';
    if (!atomic_load(&r->cancelled))
        r->cb(r->arg, &r->v);
    explicit_bzero(r, sizeof *r);
    free(r);
}

struct auth_request *auth_verify_start(struct auth *a, const char *user, const char *pass,
                                       const struct auth_peer *peer, auth_done_fn *cb,
                                       void *arg)
{
    struct auth_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->a = a;
    r->cb = cb;
    r->arg = arg;
    atomic_init(&r->cancelled, 0);
    atomic_init(&r->stopping, 0);
    r->v.result = AUTH_FAIL;
    if (strlen(user) > AUTH_NAME_MAX || strlen(pass) > AUTH_NAME_MAX) {
        /* the SASL layer never lets these through; refuse rather than cut */
        snprintf(r->v.why, sizeof r->v.why, "name or password longer than %d bytes",
                 AUTH_NAME_MAX);
        r->too_long = 1;
    } else {
        memcpy(r->user, user, strlen(user) + 1);
        memcpy(r->pass, pass, strlen(pass) + 1);
    }
    if (peer) {
        snprintf(r->client_addr, sizeof r->client_addr, "%s",
                 peer->client_addr ? peer->client_addr : "");
        snprintf(r->server_addr, sizeof r->server_addr, "%s",
                 peer->server_addr ? peer->server_addr : "");
        r->secured = peer->secured;
    }
    r->next = a->pending;
    if (a->pending)
        a->pending->prev = r;
    a->pending = r;
    if (workq_submit(a->q, run_check, check_done, r) < 0) {
        unlink_request(r);
        explicit_bzero(r, sizeof *r);
        free(r);
        return NULL;
    }
    return r;
}

void auth_verify_cancel(struct auth_request *r)
{
    if (r)
        atomic_store(&r->cancelled, 1);
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    /* checks not started yet are not worth waiting for */
    for (struct auth_request *r = a->pending; r; r = r->next)
        atomic_store(&r->stopping, 1);
    workq_free(a->q);
    users_free(a->users);
    free(a);
}

const char *auth_reply(enum auth_result r)
{
    switch (r) {
    case AUTH_OK:
        return "235 2.7.0 Authentication successful";
    case AUTH_FAIL:
        return "535 5.7.8 Error: authentication failed: authentication failure";
    case AUTH_TEMP:
        break;
    }
    return "454 4.7.0 Temporary authentication failure";
}
