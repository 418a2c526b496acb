/* queue_page — the HTML of /queue (see queue_page.h). */
#include "queue_page.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../util/sbuf.h"
#include "queue_view.h"

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.3em;margin:0 0 .6em}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}"
    "code{font-size:13px}"
    ".hold{color:#a60}.active{color:#06a}.deferred{color:#a00}"
    ".err{color:#666;font-size:12px}"
    ".note{padding:.5em;background:#eef6ee;border:1px solid #9c9;margin-bottom:1em}"
    ".note.bad{background:#fbecec;border-color:#c99}"
    "form.f{margin-bottom:1em}form.f input{margin-right:.6em}"
    "form.a{display:inline}button{margin:0 .15em .15em 0}";

static void field(struct sbuf *b, const char *label, const char *name, const char *value)
{
    sbuf_printf(b, "<label>%s <input name=\"%s\" value=\"", label, name);
    sbuf_html(b, value);
    sbuf_str(b, "\"></label>");
}

static void age_text(struct sbuf *b, long long s)
{
    if (s < 0)
        s = 0;
    if (s < 120)
        sbuf_printf(b, "%llds", s);
    else if (s < 7200)
        sbuf_printf(b, "%lldm", s / 60);
    else if (s < 172800)
        sbuf_printf(b, "%lldh", s / 3600);
    else
        sbuf_printf(b, "%lldd", s / 86400);
}

static void buttons(struct sbuf *b, const struct queue_item *it)
{
    const char *qid = it->env.qid;
    sbuf_printf(b, "<form class=\"a\" method=\"post\" action=\"/queue\" data-qid=\"%s\">"
                "<input type=\"hidden\" name=\"qid\" value=\"%s\">", qid, qid);
    if (strcmp(it->state, "hold") == 0)
        sbuf_str(b, "<button name=\"action\" value=\"release\">Release</button>");
    else
        sbuf_str(b, "<button name=\"action\" value=\"flush\">Retry now</button>"
                    "<button name=\"action\" value=\"hold\">Hold</button>");
    sbuf_str(b, "<button name=\"action\" value=\"delete\">Delete</button></form>");
}

static void row(struct sbuf *b, const struct queue_item *it, long long now, int actions)
{
    const struct envelope *e = &it->env;
    char when[40];
    time_t t = (time_t)e->arrival_sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
    /* qid and state are ours (hex, fixed words); the rest is escaped */
    sbuf_printf(b, "<tr id=\"m-%s\"><td><code>%s</code></td><td class=\"%s\">%s</td><td>%s (",
                e->qid, e->qid, it->state, it->state, when);
    age_text(b, now - e->arrival_sec);
    sbuf_printf(b, ")</td><td>%zu</td><td>", e->content_len);
    if (e->sender && e->sender[0])
        sbuf_html(b, e->sender);
    else
        sbuf_str(b, "&lt;&gt;");
    if (e->sasl_username) {
        sbuf_str(b, "<br><span class=\"err\">login ");
        sbuf_html(b, e->sasl_username);
        sbuf_str(b, "</span>");
    }
    sbuf_str(b, "</td><td>");
    for (size_t i = 0; i < e->nrcpt; i++) {
        const struct env_rcpt *rc = &e->rcpt[i];
        if (i)
            sbuf_str(b, "<br>");
        sbuf_html(b, rc->addr ? rc->addr : "");
        sbuf_printf(b, " <span class=\"%s\">%s%s%s</span>",
                    rc->state == RCPT_DEFERRED ? "deferred" : "", envelope_state_name(rc->state),
                    rc->dsn[0] ? " " : "", rc->dsn);   /* dsn: digits and dots */
        if (rc->reason && rc->state != RCPT_SENT) {
            sbuf_str(b, "<br><span class=\"err\">");
            sbuf_html(b, rc->reason);
            sbuf_str(b, "</span>");
        }
    }
    sbuf_printf(b, "</td><td>%d</td>", e->attempts);
    if (actions) {
        sbuf_str(b, "<td>");
        buttons(b, it);
        sbuf_str(b, "</td>");
    }
    sbuf_str(b, "</tr>\n");
}

void queue_page_render(struct sbuf *b, const struct queue_page_args *a)
{
    const struct queue_filter *f = a->filter;
    sbuf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width\">"
                "<title>postern queue</title><style>%s</style></head><body>\n", STYLE);
    sbuf_str(b, "<h1>postern queue</h1>\n");
    if (a->notice) {
        sbuf_printf(b, "<p class=\"note%s\" id=\"notice\">", a->notice_error ? " bad" : "");
        sbuf_html(b, a->notice);
        sbuf_str(b, "</p>\n");
    }
    sbuf_str(b, "<form class=\"f\" method=\"get\" action=\"/queue\">"
                "<label>state <select name=\"state\">");
    static const char *const states[] = { "", "active", "deferred", "hold" };
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        sbuf_printf(b, "<option value=\"%s\"%s>%s</option>", states[i],
                    strcmp(f->state, states[i]) == 0 ? " selected" : "",
                    states[i][0] ? states[i] : "any");
    sbuf_str(b, "</select></label> ");
    field(b, "sender", "sender", f->sender);
    field(b, "recipient", "recipient", f->recipient);
    char age[32] = "";
    if (f->min_age)
        snprintf(age, sizeof age, "%lld", f->min_age);
    field(b, "older than (s)", "min_age", age);
    sbuf_str(b, "<button>Filter</button></form>\n");
    sbuf_printf(b, "<p>%zu message%s%s. Signed in as <b>", a->list->n,
                a->list->n == 1 ? "" : "s", a->list->truncated ? " (more not shown)" : "");
    sbuf_html(b, a->user);
    sbuf_printf(b, "</b>%s</p>\n",
                a->actions ? "" : "; read-only (http_queue_actions = no)");
    sbuf_printf(b, "<table><thead><tr><th>Queue ID</th><th>State</th><th>Arrival</th>"
                "<th>Size</th><th>Sender</th><th>Recipients</th><th>Attempts</th>%s</tr>"
                "</thead><tbody>\n", a->actions ? "<th>Actions</th>" : "");
    for (size_t i = 0; i < a->list->n; i++)
        row(b, &a->list->v[i], a->now, a->actions);
    sbuf_str(b, "</tbody></table>\n</body></html>\n");
}
