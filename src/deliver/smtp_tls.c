/* smtp_tls — the SMTP client's TLS context and per-connection settings.
 *
 * The context is created on the first TLS connection only (an SSL_CTX with
 * a CA store costs megabytes; DESIGN.md keeps idle memory small). Levels:
 * may and encrypt encrypt without verifying the server (like Postfix);
 * verify and secure check the chain against smtp_tls_CAfile (or the system
 * store) and the name: verify the host we connect to (the nexthop as
 * written, or the MX host), secure the nexthop and its subdomains. */
#include "smtp_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static void ssl_err_text(const char *what, char *err, size_t errlen)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    if (e) {
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(err, errlen, "%s: %s", what, buf);
    } else {
        snprintf(err, errlen, "%s", what);
    }
    ERR_clear_error();
}

struct ssl_ctx_st *smtp_tls_ctx_new(const char *cafile, int verify, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ssl_err_text("cannot create the TLS client context", err, errlen);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (verify) {
        int ok = cafile && *cafile ? SSL_CTX_load_verify_locations(ctx, cafile, NULL)
                                   : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            char what[600];
            snprintf(what, sizeof what, "cannot load the CA certificates from %.500s",
                     cafile && *cafile ? cafile : "the system store");
            ssl_err_text(what, err, errlen);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

static int is_ip(const char *h)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, h, tmp) == 1 || inet_pton(AF_INET6, h, tmp) == 1;
}

struct ssl_st *smtp_tls_ssl_new(struct ssl_ctx_st *ctx, int level, const char *sni_host,
                                const char *match_host, char *err, size_t errlen)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        ssl_err_text("cannot create a TLS connection", err, errlen);
        return NULL;
    }
    if (sni_host && *sni_host && !is_ip(sni_host) &&
        SSL_set_tlsext_host_name(ssl, sni_host) != 1) {
        ssl_err_text("cannot set the TLS server name", err, errlen);
        SSL_free(ssl);
        return NULL;
    }
    if (level >= SMTP_TLS_VERIFY) {
        X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
        int ok;
        X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (is_ip(match_host)) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(p, match_host);
        } else {
            ok = X509_VERIFY_PARAM_set1_host(p, match_host, 0);
            if (ok == 1 && level == SMTP_TLS_SECURE) {
                char dot[300];
                snprintf(dot, sizeof dot, ".%s", match_host);
                ok = X509_VERIFY_PARAM_add1_host(p, dot, 0);
            }
        }
        if (ok != 1) {
            ssl_err_text("cannot set the name to verify", err, errlen);
            SSL_free(ssl);
            return NULL;
        }
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    }
    return ssl;
}

void smtp_tls_failure_reason(struct ssl_st *ssl, unsigned long sslerr, char *out, size_t outlen)
{
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (ssl && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) && vr != X509_V_OK) {
        snprintf(out, outlen, "Server certificate not verified: %s",
                 X509_verify_cert_error_string(vr));
        return;
    }
    if (sslerr) {
        char buf[256];
        ERR_error_string_n(sslerr, buf, sizeof buf);
        snprintf(out, outlen, "TLS handshake failed: %s", buf);
        return;
    }
    snprintf(out, outlen, "TLS handshake failed: connection closed by the server");
}
