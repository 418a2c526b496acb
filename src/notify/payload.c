/* payload — a webhook event's body and signature, pure (see notify.h). */
#include "notify.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../util/sbuf.h"

static const char *const kind_names[NOTIFY_KINDS] = {
    "bounce", "delayed", "upstream_login_failed", "quota_deferred",
};

const char *notify_kind_name(enum notify_kind k)
{
    return (unsigned)k < NOTIFY_KINDS ? kind_names[k] : NULL;
}

int notify_kind_parse(const char *name)
{
    for (int k = 0; k < NOTIFY_KINDS; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

static const char *s_(const char *s)
{
    return s ? s : "";
}

static void field(struct sbuf *b, const char *name, const char *value)
{
    sbuf_printf(b, ",\"%s\":", name);
    sbuf_json(b, s_(value));
}

static void payload_json(struct sbuf *b, const struct notify_event *ev)
{
    sbuf_printf(b, "{\"event\":\"%s\",\"time\":%lld", notify_kind_name(ev->kind), ev->time);
    switch (ev->kind) {
    case NOTIFY_BOUNCE:
        field(b, "queue_id", ev->queue_id);
        field(b, "sender", ev->sender);
        field(b, "recipient", ev->recipient);
        field(b, "dsn", ev->dsn);
        break;
    case NOTIFY_DELAYED:
        field(b, "queue_id", ev->queue_id);
        field(b, "sender", ev->sender);
        sbuf_str(b, ",\"recipients\":[");
        for (size_t i = 0; i < ev->nrecipients; i++) {
            if (i)
                sbuf_char(b, ',');
            sbuf_json(b, s_(ev->recipients[i]));
        }
        sbuf_char(b, ']');
        sbuf_printf(b, ",\"delay\":%lld", ev->delay);
        field(b, "dsn", ev->dsn);
        break;
    case NOTIFY_LOGIN_FAILED:
        field(b, "relayhost", ev->relayhost);
        break;
    case NOTIFY_QUOTA_DEFERRED:
        field(b, "key", ev->key);
        field(b, "window", ev->window);
        sbuf_printf(b, ",\"next_slot\":%lld", ev->next_slot);
        break;
    default:
        break;
    }
    field(b, "reason", ev->reason);
    sbuf_char(b, '}');
}

/* Slack's mrkdwn reserves &, < and > (its own escapes); JSON's come after. */
static void slack_escape(struct sbuf *t, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&': sbuf_str(t, "&amp;"); break;
        case '<': sbuf_str(t, "&lt;"); break;
        case '>': sbuf_str(t, "&gt;"); break;
        default: sbuf_char(t, *s);
        }
}

static void payload_slack(struct sbuf *b, const struct notify_event *ev)
{
    struct sbuf t = SBUF_INIT;
    sbuf_str(&t, "postern: ");
    switch (ev->kind) {
    case NOTIFY_BOUNCE:
        sbuf_str(&t, "bounce ");
        slack_escape(&t, s_(ev->queue_id));
        sbuf_str(&t, " from <");
        slack_escape(&t, s_(ev->sender));
        sbuf_str(&t, "> to <");
        slack_escape(&t, s_(ev->recipient));
        sbuf_str(&t, ">, dsn=");
        slack_escape(&t, s_(ev->dsn));
        break;
    case NOTIFY_DELAYED:
        sbuf_str(&t, "delayed ");
        slack_escape(&t, s_(ev->queue_id));
        sbuf_printf(&t, " for %llds from <", ev->delay);
        slack_escape(&t, s_(ev->sender));
        sbuf_str(&t, "> to");
        for (size_t i = 0; i < ev->nrecipients; i++) {
            sbuf_str(&t, i ? ", <" : " <");
            slack_escape(&t, s_(ev->recipients[i]));
            sbuf_char(&t, '>');
        }
        break;
    case NOTIFY_LOGIN_FAILED:
        sbuf_str(&t, "upstream login failed at ");
        slack_escape(&t, s_(ev->relayhost));
        break;
    case NOTIFY_QUOTA_DEFERRED:
        sbuf_str(&t, "upstream quota ");
        slack_escape(&t, s_(ev->key));
        sbuf_str(&t, " full (");
        slack_escape(&t, s_(ev->window));
        sbuf_printf(&t, "), mail deferred until %lld", ev->next_slot);
        break;
    default:
        break;
    }
    if (ev->reason && *ev->reason) {
        sbuf_str(&t, ": ");
        slack_escape(&t, ev->reason);
    }
    if (t.oom)
        b->oom = 1;
    sbuf_str(b, "{\"text\":");
    sbuf_json(b, t.s ? t.s : "");
    sbuf_char(b, '}');
    sbuf_free(&t);
}

void notify_payload(struct sbuf *b, const struct notify_event *ev, int slack)
{
    if (slack)
        payload_slack(b, ev);
    else
        payload_json(b, ev);
}

int notify_sign(const void *key, size_t keylen, const char *timestamp, const char *body,
                size_t bodylen, char sig[NOTIFY_SIG_SIZE])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t tl = strlen(timestamp);
    if (bodylen > SIZE_MAX - tl - 2)
        return -1;
    unsigned char *msg = malloc(tl + 1 + bodylen + 1);
    if (!msg)
        return -1;
    memcpy(msg, timestamp, tl);
    msg[tl] = '.';
    memcpy(msg + tl + 1, body, bodylen);
    int rc = -1;
    if (HMAC(EVP_sha256(), key, (int)keylen, msg, tl + 1 + bodylen, mac, &maclen) &&
        maclen == 32) {
        static const char hex[] = "0123456789abcdef";
        memcpy(sig, "sha256=", 7);
        for (unsigned i = 0; i < maclen; i++) {
            sig[7 + 2 * i] = hex[mac[i] >> 4];
            sig[7 + 2 * i + 1] = hex[mac[i] & 15];
        }
        sig[7 + 64] = '\0';
        rc = 0;
    }
    free(msg);
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}

void notify_url_origin(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    size_t hl = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hl);
    if (at) {
        hl -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    int sl = p ? (int)(p - url) : 0;
    snprintf(out, outlen, "%.*s%s%.*s", sl, url, p ? "://" : "", (int)hl, host);
}
