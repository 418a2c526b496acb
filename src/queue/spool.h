/* spool — where the queue's messages and their delivery state are kept.
 * The only code that knows how they are stored (today one file per
 * message and one per state, in subdirectories of queue_directory:
 * spool.c, docs/queue.md); everything else goes through this interface,
 * so that the format can change (a journal) without any caller noticing.
 *
 * A message is written once (create, write, finish), then committed; from
 * then on it is immutable, and only its delivery state changes. A
 * committed message is queued (scheduled, listed by spool_list) or held
 * (kept, never delivered, listed by spool_list_held), until it is removed
 * or quarantined.
 *
 * Durability: every function that changes the spool returns success only
 * once the change survives a crash (except spool_remove_done, said there).
 * Nothing a client was told 250 about is lost: that is spool_commit's
 * contract below.
 *
 * Queue ids: a qid is QID_LEN upper-case hex characters (qid.h); every
 * function taking one refuses an invalid one (-1/NULL with errno EINVAL)
 * before it is used for anything. A new message never gets the id of a
 * message, state or quarantined message still in the spool.
 *
 * One process writes a spool at a time: the daemon (the control socket
 * refuses a second one). `postern queue` without a daemon reads it and
 * administers it (hold, release, remove). */
#ifndef POSTERN_QUEUE_SPOOL_H
#define POSTERN_QUEUE_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

#include "envelope.h"

struct spool;
struct spool_msg;

/* Open the spool at dir, making it (mode 0700) and its parts if missing.
 * NULL with err. */
struct spool *spool_open(const char *dir, char *err, size_t errlen);
/* The same without making dir: NULL with errno ENOENT (and err) when
 * there is no spool there (`postern queue` never creates one). */
struct spool *spool_open_existing(const char *dir, char *err, size_t errlen);
void spool_close(struct spool *sp);
const char *spool_path(const struct spool *sp);

/* As root, before the daemon runs as uid: the spool at dir and its parts
 * made uid:gid's, without following a symbolic link anywhere (every
 * component must be owned by root or uid), group/other write taken away.
 * Parts that do not exist yet are made later by spool_open, as uid. 0, or
 * -1 with err naming the path and the fix. */
int spool_own(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen);

/* ---------- writing a message ---------- */

/* Start a message: picks a fresh qid (stored into env->qid) and records
 * the envelope. NULL with err on error. When env->arrival_sec and
 * arrival_usec are both 0 they are set from the same clock reading as the
 * qid. The envelope must have >= 1 recipient and no CR/LF in any value,
 * and client_addr holds no space. Nothing is visible to the rest of the
 * spool (listings, loads) until spool_commit. */
struct spool_msg *spool_msg_create(struct spool *sp, struct envelope *env,
                                   char *err, size_t errlen);
const char *spool_msg_qid(const struct spool_msg *m);
/* Append content bytes (buffered). -1 on write error (errno set; the error
 * sticks: spool_msg_finish and spool_commit refuse the message). */
int spool_msg_write(struct spool_msg *m, const void *buf, size_t len);
/* Bytes of content written so far. */
size_t spool_msg_size(const struct spool_msg *m);
/* End the content (no more writes) and hand what is buffered to the
 * kernel; not durable yet. -1 on error. */
int spool_msg_finish(struct spool_msg *m);
/* Discard a message that will not be committed, and free m. */
void spool_msg_abort(struct spool_msg *m);

/* Group commit: make each finished message durable and queued, with one
 * round of disk flushes for the whole batch. ok[i] is set to 1 for each
 * message that is now durable and queued, 0 for one that is not (it is
 * discarded). Only a message with ok[i] == 1 may be acknowledged (250):
 * once this returns, it survives a crash (invariant 1). Every msgs[i] is
 * freed. Returns the number committed. */
size_t spool_commit(struct spool *sp, struct spool_msg **msgs, size_t n,
                    int *ok);

/* ---------- notices ----------
 *
 * Notices (bounces, delay warnings) about a message P go into the queue in
 * two steps around the state write of P that records them, so that a crash
 * at any point sends each one exactly once (docs/queue.md):
 *   1. spool_notice_stage(m, P): the finished notice X is made durable but
 *      not queued, tied to P. m is freed; X is stored into qid (QID_LEN + 1
 *      bytes).
 *   2. spool_state_write(P) with X among env->notice[]: the decision.
 *      Before it, a crash discards X (spool_scan: P's state does not name
 *      it) and P's recipients are tried again.
 *   3. spool_notice_publish(X, P): X is queued, durably. Only then may X be
 *      scheduled. A crash between 2 and 3 is finished by spool_scan, which
 *      queues a staged notice that P's state names.
 * Both -1 with errno on error (stage: m is freed and X discarded).
 * Publishing again after a failure is harmless. */
int spool_notice_stage(struct spool *sp, struct spool_msg *m, const char *parent,
                       char *qid);
int spool_notice_publish(struct spool *sp, const char *qid, const char *parent);

/* ---------- reading ---------- */

/* Start-up recovery, by the daemon, once, before it writes anything (it
 * discards other processes' messages in the making): what was never
 * committed is discarded (messages being written, a state being recorded,
 * notices not decided), decided notices are queued (spool_notice_stage),
 * delivery states whose message is gone are dropped, and what cannot be
 * ours (a name that is not a qid) is quarantined. Then cb runs for each
 * queued (not held) message in qid order. Returns the number of queued
 * messages, -1 with errno on error. */
long spool_scan(struct spool *sp, void (*cb)(const char *qid, void *arg),
                void *arg);
/* Read-only listings in qid order (mailq, `postern queue`): queued
 * messages, held messages. Nothing is changed. -1 with errno on error. */
long spool_list(struct spool *sp, void (*cb)(const char *qid, void *arg),
                void *arg);
long spool_list_held(struct spool *sp, void (*cb)(const char *qid, void *arg),
                     void *arg);

/* Load a queued message: its envelope, its recorded delivery state (none
 * recorded yet: all recipients pending, 0 attempts) and its content.
 * *content (if content is not NULL) points at env->content_len bytes that
 * stay valid until spool_unload, which may come after spool_close; free
 * env with envelope_free. On error returns NULL with err set and env
 * zeroed: errno EBADMSG means the message or its state is corrupt (torn,
 * unparsable, empty, the wrong id inside, not ours) and the caller
 * quarantines it; any other errno (ENOENT: not queued; EMFILE, ENOMEM,
 * EIO...) is a condition of the moment, not a reason to quarantine. */
struct spool_map;
struct spool_map *spool_load(struct spool *sp, const char *qid,
                             struct envelope *env, const char **content,
                             char *err, size_t errlen);
void spool_unload(struct spool_map *map);
/* spool_load for a held message. */
struct spool_map *spool_load_held(struct spool *sp, const char *qid,
                                  struct envelope *env, const char **content,
                                  char *err, size_t errlen);

/* Where qid is: SPOOL_QUEUED, SPOOL_HELD, SPOOL_ABSENT, or -1 with errno
 * (EINVAL for a bad id). */
enum { SPOOL_ABSENT = 0, SPOOL_QUEUED = 1, SPOOL_HELD = 2 };
int spool_where(struct spool *sp, const char *qid);

/* ---------- changing a committed message ---------- */

/* Record env's delivery state durably, replacing the one recorded before
 * (atomically: after a crash, one or the other): attempts, next attempt,
 * warned, each recipient's state, dsn and reason, and the notices this
 * state decides (env->notice, see Notices). Queued or held alike. -1 with
 * errno on error (the old state stays). */
int spool_state_write(struct spool *sp, const struct envelope *env);

/* Remove a message, queued or held, and its state. Durable when this
 * returns 0: what `postern queue delete` reports as deleted stays deleted
 * after a crash; and a crash halfway never leaves the message without its
 * state (which would deliver to every recipient again). -1 with errno
 * (ENOENT: not there). */
int spool_remove(struct spool *sp, const char *qid);
/* The same for a message whose delivery is complete, cheaper: when no
 * state was ever recorded for it, the removal need not survive a crash (a
 * message that comes back is delivered again). Only for idempotent
 * transports (or after writing a final state, which makes it durable). */
int spool_remove_done(struct spool *sp, const char *qid);

/* Take a message (and its state) out of the queue and keep it aside for a
 * human, never replacing anything kept before. Durable on return. -1 with
 * errno ENOENT when there is neither. */
int spool_quarantine(struct spool *sp, const char *qid);

/* Hold: the message stays in the spool with its delivery state but is no
 * longer queued (spool_scan and spool_list skip it, spool_list_held and
 * spool_load_held see it). Release is the reverse. Durable on return:
 * after a crash the message is held or queued, never lost. -1 with errno
 * ENOENT when the message is not queued (hold) or not held (release). */
int spool_hold(struct spool *sp, const char *qid);
int spool_release(struct spool *sp, const char *qid);

/* ---------- the queue's own small files (spool_side.c) ---------- */

/* Replace the file `name` (lower-case letters and '_') beside the messages
 * with buf, atomically and durably: after a crash, the old content or the
 * new. 0, or -1 with errno. */
int spool_side_write(struct spool *sp, const char *name, const void *buf, size_t len);
/* Read it (a regular file of at most max bytes) into a malloc'd,
 * NUL-terminated *buf. 0, or -1 with errno (ENOENT: none yet; EFBIG: too
 * large). */
int spool_side_read(struct spool *sp, const char *name, size_t max, char **buf, size_t *len);

#endif
