/* libFuzzer harness for command_parse (see fuzz/README.md).
 * Parses the input as one command line with and without an SMTPUTF8
 * transaction and aborts on any broken invariant. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void check_one(const uint8_t *data, size_t size, int tx,
                      struct smtp_command *c, enum cmd_status st)
{
    size_t i;
    int has_ctl = 0;

    for (i = 0; i < size; i++)
        if (data[i] < 0x20 || data[i] == 0x7f)
            has_ctl = 1;
    check(st >= CMD_OK && st <= CMD_ERR_NUL, "status in range");
    check(c->verb >= CMD_UNKNOWN && c->verb <= CMD_BDAT, "verb in range");
    check(command_verb_name(c->verb) != NULL, "verb name");
    check(has_ctl == (st == CMD_ERR_NUL), "control bytes <=> CMD_ERR_NUL");
    check(memchr(c->arg, '\0', sizeof c->arg) != NULL, "arg terminated");
    check(c->size >= -1, "size");
    check((c->verb == CMD_UNKNOWN) == (st == CMD_ERR_UNKNOWN || st == CMD_ERR_NUL),
          "verb reported iff recognised");
    if (st == CMD_ERR_ADDRESS)
        check(c->addr_status != ADDR_OK &&
              (c->verb == CMD_MAIL || c->verb == CMD_RCPT), "address error");
    if (st != CMD_OK)
        return;
    check(c->verb != CMD_UNKNOWN, "OK with unknown verb");
    check(c->addr_status == ADDR_OK, "addr_status on success");
    if (c->verb == CMD_MAIL || c->verb == CMD_RCPT) {
        check(memchr(c->addr.full, '\0', sizeof c->addr.full) != NULL, "full terminated");
        check(strlen(c->addr.full) + 2 <= ADDR_PATH_MAX, "path length");
        check(strlen(c->addr.local) <= ADDR_LOCAL_MAX, "local length");
    }
    if (c->verb == CMD_MAIL)
        check(!c->addr.has_utf8 || c->smtputf8, "UTF-8 MAIL without SMTPUTF8");
    if (c->verb == CMD_RCPT) {
        check(!c->addr.is_null, "null RCPT");
        check(!c->addr.has_utf8 || tx, "UTF-8 RCPT outside an SMTPUTF8 transaction");
        check(c->size == -1 && c->body == BODY_NONE && !c->smtputf8, "RCPT params");
    }
    if (c->verb == CMD_DATA || c->verb == CMD_RSET || c->verb == CMD_QUIT ||
        c->verb == CMD_STARTTLS)
        check(c->arg[0] == '\0', "argument on a no-argument verb");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_command c0, c1;
    enum cmd_status s0, s1;

    s0 = command_parse((const char *)data, size, 0, &c0);
    check_one(data, size, 0, &c0, s0);
    s1 = command_parse((const char *)data, size, 1, &c1);
    check_one(data, size, 1, &c1, s1);
    /* an SMTPUTF8 transaction only ever accepts more */
    check(s0 != CMD_OK || s1 == CMD_OK, "tx_smtputf8 is not monotone");
    check(c0.verb == c1.verb, "verb depends on tx_smtputf8");
    return 0;
}
