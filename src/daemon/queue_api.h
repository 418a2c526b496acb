/* queue_api — the queue over HTTP for operators: a JSON API and a small
 * HTML page, on the ops server (http/http.h), every route behind Basic
 * authentication against http_users (daemon/http_auth.h).
 *
 *   GET  /api/queue[?state=&sender=&recipient=&min_age=]  the messages
 *   GET  /api/queue/QID                    one message's envelope and state
 *   POST /api/queue/QID/flush|hold|release|delete
 *   POST /api/queue/flush                  every message, now
 *   GET  /queue[?filters]                  the page (queue_page.c)
 *   POST /queue  (form: qid, action)       the page's buttons
 *
 * Actions go through queue/admin.h (the code of `postern queue`) and are
 * logged with the acting user ("QID: held by http user alice"); they are
 * refused (403) unless http_queue_actions = yes: by default the API and the
 * page are read-only. A POST must pass the same-origin rule
 * (http_auth_post_allowed). */
#ifndef POSTERN_DAEMON_QUEUE_API_H
#define POSTERN_DAEMON_QUEUE_API_H

#include <stddef.h>

struct cfg_source;
struct http_server;
struct queue;
struct queue_api;

/* Add the routes to h and set its auth hook. NULL with err. */
struct queue_api *queue_api_new(struct http_server *h, const struct cfg_source *cfg,
                                struct queue *q, char *err, size_t errlen);
/* A reload: forget remembered passwords (the users file may have changed). */
void queue_api_reload(struct queue_api *a);
void queue_api_free(struct queue_api *a);

#endif
