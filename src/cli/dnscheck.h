/* dnscheck — `postern dns check`: look up the records dnsrec_build expects
 * for a domain and report each one ok / missing / mismatch / invalid /
 * tempfail, SPF evaluated (net/spf), DKIM keys compared, DMARC parsed and
 * its alignment explained. */
#ifndef POSTERN_CLI_DNSCHECK_H
#define POSTERN_CLI_DNSCHECK_H

struct config;
struct dnsrec_input;

/* Exit statuses: all ok, something to fix, only temporary DNS failures. */
#define DNSCHECK_EXIT_OK 0
#define DNSCHECK_EXIT_FIX 1
#define DNSCHECK_EXIT_TEMP 75       /* EX_TEMPFAIL: try again */

/* in: as for dnsrec_build, its DKIM records those of the key files
 * keypaths[0..in->ndkim) (named in messages); the addresses may both be
 * NULL (then myhostname's A/AAAA are taken). Prints the report (JSON when
 * json) and returns the exit status. */
int dnscheck_run(const struct config *cfg, struct dnsrec_input *in,
                 const char *const *keypaths, int json);

#endif
