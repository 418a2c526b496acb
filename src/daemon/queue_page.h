/* queue_page — the HTML of /queue: a filter form, the messages in a table
 * and, with http_queue_actions = yes, a form of buttons per message (plain
 * HTML forms posting to /queue: no script at all). Everything that comes
 * from the network or the spool (addresses, errors, names) is escaped
 * (sbuf_html). No external asset: one inline style sheet, allowed by
 * QUEUE_PAGE_CSP, which allows nothing else (no script, no frame, forms
 * only to this origin). Pure: text in, text out. */
#ifndef POSTERN_DAEMON_QUEUE_PAGE_H
#define POSTERN_DAEMON_QUEUE_PAGE_H

struct sbuf;
struct queue_filter;
struct queue_list;

#define QUEUE_PAGE_CSP                                                                    \
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'self'; " \
    "frame-ancestors 'none'; base-uri 'none'"

struct queue_page_args {
    const struct queue_list *list;
    const struct queue_filter *filter;
    const char *user;
    int actions;                /* http_queue_actions */
    const char *notice;         /* the result of an action, or NULL */
    int notice_error;
    long long now;              /* unix seconds */
};

void queue_page_render(struct sbuf *b, const struct queue_page_args *a);

#endif
