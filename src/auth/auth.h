/* auth — SMTP AUTH credentials checked against the configured backend
 * (smtpd_sasl_type: the postern users file, saslauthd or Dovecot) without
 * blocking the event loop.
 *
 * The session runs the SASL exchange itself (sasl.h). With the credentials
 * it calls auth_verify_start on the event loop; the check runs on one of
 * this module's worker threads (crypt_rn of the users file; a unix socket
 * to saslauthd or Dovecot, bounded by AUTH_TIMEOUT_MS) and cb is called
 * afterwards on the loop thread -- never from inside auth_verify_start. A
 * session that goes away before then calls auth_verify_cancel: cb is then
 * never called, and the password is wiped when the worker lets go of it.
 *
 *   struct auth_peer peer = { s->client_addr, s->server_addr, s->tls != NULL };
 *   s->auth_req = auth_verify_start(rt->auth, x.authcid, x.passwd, &peer, on_auth, s);
 *   sasl_wipe(&x);
 *   if (!s->auth_req) reply auth_reply(AUTH_TEMP);
 *   ...
 *   static void on_auth(void *arg, const struct auth_verdict *v)
 *   {
 *       s->auth_req = NULL;
 *       reply auth_reply(v->result); log v->why (and v->user on AUTH_OK)
 *   }
 *   (session freed early: if (s->auth_req) auth_verify_cancel(s->auth_req);)
 *
 * The session also asks the rate table (policy/anvil.h) before an exchange
 * and tells it about each AUTH_FAIL. */
#ifndef POSTERN_AUTH_AUTH_H
#define POSTERN_AUTH_AUTH_H

#include <stddef.h>

struct config;
struct event_base;

enum auth_result {
    AUTH_OK,        /* 235 2.7.0 */
    AUTH_FAIL,      /* 535 5.7.8: wrong name or password (or account disabled) */
    AUTH_TEMP,      /* 454 4.7.0: the backend could not answer; try again later */
};

#define AUTH_TIMEOUT_MS 15000   /* one check, connection included */
#define AUTH_THREADS 2          /* crypt is CPU work: one per core here */
#define AUTH_NAME_MAX 255

struct auth_peer {
    const char *client_addr;    /* "192.0.2.1", for Dovecot's rip; NULL: none */
    const char *server_addr;    /* the listener's address, Dovecot's lip; may be NULL */
    int secured;                /* TLS is on (or a local tool): Dovecot's "secured" */
};

struct auth_verdict {
    enum auth_result result;
    char user[AUTH_NAME_MAX + 1];   /* AUTH_OK: the name the backend knows (Dovecot's
                                     * user=, else the name given) */
    char why[512];                  /* for the log: what the backend said, or why it could
                                     * not; printable ASCII, never a password */
    unsigned long rate;             /* AUTH_OK: the account's users-file rate=N/W, N (0:
                                     * none, and always with saslauthd or Dovecot) */
    long long rate_window_ms;       /* ... W */
};

typedef void auth_done_fn(void *arg, const struct auth_verdict *v);

struct auth;
struct auth_request;

/* A checker for cfg's smtpd_sasl_type on base's loop. users_text (len
 * bytes) is the smtpd_sasl_users file for type postern, read beforehand
 * (users_read_file; in the daemon, by the privileged parent), ignored for
 * the other types. NULL with err ("FILE:LINE: ...; fix") when the users
 * file is wrong or the worker threads cannot start. */
struct auth *auth_new(const struct config *cfg, struct event_base *base,
                      const char *users_text, size_t users_len, char *err, size_t errlen);

/* Finish the checks under way -- callbacks not cancelled still run, with
 * AUTH_TEMP for those not started -- then free. */
void auth_free(struct auth *a);

/* Check user and pass (NUL-terminated, at most 255 bytes each). Copies what
 * it needs: the caller may wipe its buffers at once. NULL when the check
 * cannot be queued (out of memory): answer AUTH_TEMP. */
struct auth_request *auth_verify_start(struct auth *a, const char *user, const char *pass,
                                       const struct auth_peer *peer, auth_done_fn *cb,
                                       void *arg);

/* From the loop thread, before cb ran: cb will not run. */
void auth_verify_cancel(struct auth_request *r);

/* The SMTP reply for a result (RFC 4954 codes, Postfix's words). */
const char *auth_reply(enum auth_result r);

/* The backend socket for cfg: smtpd_sasl_path, or the type's default
 * (/run/saslauthd/mux, private/auth); a relative path is under
 * queue_directory. Returns out. */
const char *auth_socket_path(const struct config *cfg, char *out, size_t outlen);

#endif
