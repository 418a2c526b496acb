/* spool — the queue directory on disk. The only module that touches it.
 *
 * Layout (docs/queue.md):
 *   <queue_directory>/tmp/<qid>         being received; removed at start-up
 *   <queue_directory>/queue/<qid>       committed message (envelope+content)
 *   <queue_directory>/state/<qid>       per-recipient delivery state
 *   <queue_directory>/quarantine/<qid>  unreadable files moved aside, logged
 *   <queue_directory>/hold/<qid>        held (`postern queue hold`): kept,
 *                                       not delivered; its state stays in
 *                                       state/<qid>
 *
 * Invariant: a queue/<qid> file exists only after its content was fsynced;
 * spool_commit fsyncs the queue/ directory before returning success, and only
 * then may the client be told 250. */
#ifndef POSTERN_QUEUE_SPOOL_H
#define POSTERN_QUEUE_SPOOL_H

#include <stddef.h>
#include "envelope.h"

struct spool;
struct spool_msg;

/* Open (creating if missing, mode 0700) the spool and its subdirectories. */
struct spool *spool_open(const char *dir, char *err, size_t errlen);
void spool_close(struct spool *sp);
const char *spool_path(const struct spool *sp);

/* Start a message: picks a fresh qid (stored into env->qid), creates
 * tmp/<qid> with O_EXCL and writes the envelope header. NULL on error.
 * When env->arrival_sec and arrival_usec are both 0 they are set from the
 * same clock reading as the qid. The envelope must have >= 1 recipient and
 * no CR/LF in any value, and client_addr holds no space. */
struct spool_msg *spool_msg_create(struct spool *sp, struct envelope *env,
                                   char *err, size_t errlen);
const char *spool_msg_qid(const struct spool_msg *m);
/* Append content bytes (buffered). -1 on write error (errno set). */
int spool_msg_write(struct spool_msg *m, const void *buf, size_t len);
/* Bytes of content written so far. */
size_t spool_msg_size(const struct spool_msg *m);
/* Write the trailer and flush to the kernel (no fsync yet). -1 on error. */
int spool_msg_finish(struct spool_msg *m);
/* Discard: close and unlink tmp/<qid>, free m. */
void spool_msg_abort(struct spool_msg *m);

/* Group commit: fsync each finished message, rename tmp/<qid> to
 * queue/<qid>, then fsync queue/ once. ok[i] is set to 1 for each message
 * that is now durable, 0 for one that failed (its tmp file is removed).
 * Every msgs[i] is freed. Returns the number committed. */
size_t spool_commit(struct spool *sp, struct spool_msg **msgs, size_t n,
                    int *ok);

/* Notices (bounces, delay warnings) about a message P go into the queue in
 * two steps around the state write of P that records them, so that a crash
 * at any point sends each one exactly once (docs/queue.md):
 *   1. spool_notice_stage(m, P): the finished notice X is fsynced and gets a
 *      second name tmp/<X>.notice.<P> (tmp/<X> keeps the id taken); tmp/
 *      is fsynced. m is freed; X is stored into qid (QID_LEN + 1 bytes).
 *   2. spool_state_write(P) with "x-notice X" in it (env->notice[]): the
 *      decision. Before it, a crash discards X (spool_scan deletes what
 *      P's state does not name) and P's recipients are tried again.
 *   3. spool_notice_publish(X, P): tmp/<X>.notice.<P> becomes queue/<X>,
 *      queue/ is fsynced. Only then may X be scheduled. A crash between 2
 *      and 3 is finished by spool_scan, which publishes a staged notice
 *      that P's state names.
 * Both -1 with errno on error (stage: m is freed and X removed). Publishing
 * again after a failure that came after the rename is harmless. */
int spool_notice_stage(struct spool *sp, struct spool_msg *m, const char *parent,
                       char *qid);
int spool_notice_publish(struct spool *sp, const char *qid, const char *parent);

/* Start-up scan: remove tmp/ leftovers (never acknowledged), then call cb for
 * each queue/<qid> in qid order. Files whose names are not valid qids are
 * moved to quarantine/. Returns the number of ids seen, -1 on error.
 * Also deletes state/<qid> files whose queue file is gone (left by a crash
 * inside spool_remove), and publishes the staged notices that their
 * parent's state names (spool_notice_stage). Only the daemon, once, before
 * it writes anything: it deletes other processes' in-progress tmp/ files. */
long spool_scan(struct spool *sp, void (*cb)(const char *qid, void *arg),
                void *arg);
/* Read-only listing of queue/ in qid order (for mailq / `postern queue`):
 * no cleanup, no quarantine, invalid names skipped. */
long spool_list(struct spool *sp, void (*cb)(const char *qid, void *arg),
                void *arg);
/* The same for hold/. */
long spool_list_held(struct spool *sp, void (*cb)(const char *qid, void *arg),
                     void *arg);

/* Load a committed message: maps queue/<qid> read-only and decodes it and
 * its state file (missing state = all recipients pending, 0 attempts).
 * *content points into the mapping (env->content_len bytes); release with
 * spool_unload, and envelope_free(env). On error returns NULL with err set
 * and env zeroed: errno == EBADMSG means the queue or state file is corrupt
 * (torn, unparsable, empty, wrong id inside, not a regular file) and the
 * caller quarantines it; any other errno (ENOENT, EMFILE, ENOMEM, EIO...) is
 * a temporary condition, not a reason to quarantine. */
struct spool_map;
struct spool_map *spool_load(struct spool *sp, const char *qid,
                             struct envelope *env, const char **content,
                             char *err, size_t errlen);
void spool_unload(struct spool_map *map);
/* spool_load for a held message (hold/<qid>), read-only. */
struct spool_map *spool_load_held(struct spool *sp, const char *qid,
                                  struct envelope *env, const char **content,
                                  char *err, size_t errlen);

/* Durably record env's delivery state (state/<qid>: tmp, fsync, rename,
 * fsync dir). -1 on error. */
int spool_state_write(struct spool *sp, const struct envelope *env);

/* Remove a message (queued, or held: hold/<qid>): queue file, fsync its
 * directory, then the state file and fsync state/. (Queue file first: a
 * crash in between leaves an orphan state file that spool_scan deletes,
 * never a queue file without its state, which would deliver to every
 * recipient again.) The removal is durable when this returns 0: what
 * `postern queue delete` reports as deleted stays deleted after a crash. */
int spool_remove(struct spool *sp, const char *qid);
/* The same for a message whose delivery is complete: when it has no state
 * file the queue directory is not fsynced, so a crash may bring it back and
 * deliver it again. Only for idempotent transports (or after writing a
 * final state, which makes the fsync happen). */
int spool_remove_done(struct spool *sp, const char *qid);

/* Move queue/<qid> (and its state, as quarantine/<qid>.state) to
 * quarantine/, keeping it for a human. Never replaces a file there (adds
 * ".1", ".2"... instead). -1 with errno ENOENT when neither file exists. */
int spool_quarantine(struct spool *sp, const char *qid);

/* Where qid is: SPOOL_QUEUED (queue/), SPOOL_HELD (hold/), SPOOL_ABSENT,
 * or -1 with errno (EINVAL for a bad id). */
enum { SPOOL_ABSENT = 0, SPOOL_QUEUED = 1, SPOOL_HELD = 2 };
int spool_where(struct spool *sp, const char *qid);

/* Hold: rename queue/<qid> to hold/<qid> (the state file stays), then fsync
 * both directories; spool_scan does not schedule held messages. Release is
 * the reverse. -1 with errno ENOENT when the message is not there, EINVAL
 * for a bad id. */
int spool_hold(struct spool *sp, const char *qid);
int spool_release(struct spool *sp, const char *qid);

#endif
