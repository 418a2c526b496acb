/* privsep — the privileged parent of `postern serve` and its channel to
 * the worker (OpenSMTPD's split, reduced to what postern needs today).
 *
 * The parent forks the worker before anything listens, then waits. It
 * never reads the network. It stays root for one job: on SIGHUP (or when
 * the worker asks) it reads the configuration and every table it names,
 * secret ones at mode 0600 included, validates them, and sends the bytes
 * to the worker as one bundle; a file it cannot read or that is wrong
 * keeps the running configuration. SIGTERM and SIGINT are passed on to the
 * worker; when the worker exits, the parent exits with its status. The
 * worker dies with the parent (PR_SET_PDEATHSIG), so a kill -9 of the
 * daemon's pid is a crash of both, never an orphan serving the queue.
 *
 * Channel: a stream socketpair. Parent → worker: { u32 length, bundle }.
 * Worker → parent: the byte 'R' (reload, please); the parent ignores
 * anything else. */
#ifndef POSTERN_DAEMON_PRIVSEP_H
#define POSTERN_DAEMON_PRIVSEP_H

#include <sys/types.h>

struct event_base;
struct fbundle;
struct privsep_channel;

/* Fork. Returns 0 in the worker, the worker's pid in the parent, -1 with
 * errno. *fd is the caller's end of the channel. */
pid_t privsep_fork(int *fd);

/* In the worker after a change of uid or gid, which clears the
 * parent-death signal: set it again (exits if the parent is already gone). */
void privsep_watch_parent(pid_t parent);

/* The parent's life after privsep_fork: returns the exit status for
 * `postern serve` once the worker has exited. config_path NULL is the
 * embedded default (a reload re-reads nothing but still reaches the
 * worker). */
int privsep_parent_run(const char *config_path, pid_t worker, int fd);

/* The worker's end, on its event loop: on_bundle gets every bundle the
 * parent sends (and owns it). */
typedef void privsep_bundle_fn(void *arg, struct fbundle *fb);
struct privsep_channel *privsep_channel_new(struct event_base *base, int fd,
                                            privsep_bundle_fn *on_bundle, void *arg);
/* Ask the parent to re-read the configuration (the worker got SIGHUP). */
void privsep_channel_request_reload(struct privsep_channel *ch);
void privsep_channel_free(struct privsep_channel *ch);

#endif
