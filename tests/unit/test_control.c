/* Unit tests for the control socket's request parser and path
 * (daemon/control.c): the lines `postern queue` sends to a running daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "daemon/control.h"
#include "queue/admin.h"

static void test_control_parse(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int rc;
        enum admin_verb verb;
        const char *qid;              /* or the error text */
    } v[] = {
        { "flush", 0, ADMIN_FLUSH, "" },
        { "flush 6B068C587250E759", 0, ADMIN_FLUSH, "6B068C587250E759" },
        { "flush ALL", 0, ADMIN_FLUSH, "ALL" },
        { "delete ALL", 0, ADMIN_DELETE, "ALL" },
        { "hold 6B068C587250E759", 0, ADMIN_HOLD, "6B068C587250E759" },
        { "release ALL", 0, ADMIN_RELEASE, "ALL" },
        { "delete", -1, 0, "delete needs a queue id or ALL" },
        { "hold 6b068c587250e759", -1, 0, "invalid queue id" },
        { "delete ../../etc/passwd", -1, 0, "invalid queue id" },
        { "hold all", -1, 0, "invalid queue id" },
        { "bogus", -1, 0, "unknown request (use flush, delete, hold, release)" },
        { "flushALL", -1, 0, "unknown request (use flush, delete, hold, release)" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct control_request req;
        char why[128] = "";
        int rc = control_parse(v[i].line, strlen(v[i].line), &req, why, sizeof why);
        assert_int_equal(rc, v[i].rc);
        if (rc == 0) {
            assert_int_equal(req.verb, v[i].verb);
            assert_string_equal(req.qid, v[i].qid);
        } else {
            assert_string_equal(why, v[i].qid);
        }
    }
    char nul[] = "hold 6B068C587250E759";
    nul[4] = '\0';
    struct control_request req;
    char why[128];
    assert_int_equal(control_parse(nul, sizeof nul - 1, &req, why, sizeof why), -1);
    char p[64];
    assert_int_equal(control_socket_path("/var/spool/postern", p, sizeof p), 0);
    assert_string_equal(p, "/var/spool/postern/private/control");
    assert_int_equal(control_socket_path("/var/spool/postern", p, 20), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_parse),
    };
    return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
