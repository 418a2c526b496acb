/* daemon — `postern serve`, the running daemon.
 *
 * Start: load and validate the configuration (every error reported, then
 * exit 1); as root, bind the listeners and make the queue and capture
 * directories mail_owner's (owner.h); fork. The parent stays root to
 * re-read the configuration and its secrets on SIGHUP (privsep.h). The
 * worker becomes mail_owner as its first act, opens the queue, listens on
 * the control and submission sockets (refused when another daemon serves
 * the queue), recovers the queue, and runs the event loop.
 *
 * Only this module knows every other one: it builds them and hands each
 * its narrow handles — the event base, the queue, the configuration
 * source (config/runtime.h), callbacks — never itself.
 *
 * Signals (worker): SIGTERM/SIGINT stop accepting, idle sessions get 421,
 * sessions in DATA get SHUTDOWN_GRACE seconds to finish; a second signal
 * exits at once. SIGHUP asks the parent for a reload; a configuration that
 * fails to load keeps the running one. */
#ifndef POSTERN_DAEMON_DAEMON_H
#define POSTERN_DAEMON_DAEMON_H

/* Run until SIGTERM. config_path NULL: the embedded default. Returns the
 * exit status of `postern serve`. */
int daemon_run(const char *config_path, int verbose);

#endif
