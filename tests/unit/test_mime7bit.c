/* Unit tests for deliver/mime7bit: 8BITMIME downgrading. Table cases
 * compare the exact output bytes; one case has Python's email package
 * decode every leaf of the original and of the converted message and
 * compare the payload bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver/mime7bit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct vec {
    const char *name;
    const char *in;
    int rc;
    const char *want;       /* rc 1 */
};

static const struct vec vecs[] = {
    { "simple 8-bit text, no MIME headers",
      "From: a@b.example\r\nSubject: caf\xc3\xa9 stays\r\n\r\ncaf\xc3\xa9\r\n", 1,
      "From: a@b.example\r\nSubject: caf\xc3\xa9 stays\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n" },
    { "Chinese UTF-8, 8bit replaced in place",
      "MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n"
      "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c\r\n", 1,
      "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n"
      "=E4=BD=A0=E5=A5=BD=EF=BC=8C=E4=B8=96=E7=95=8C\r\n" },
    { "multipart/alternative: one 8-bit part, one 7-bit part",
      "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
      "pre\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n"
      "--b1\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b1--\r\nepi\r\n", 1,
      "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
      "pre\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9F" "e\r\n"
      "--b1\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b1--\r\nepi\r\n" },
    { "nested multipart/mixed, 8-bit attachment as base64",
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\n"
      "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
      "--inner\r\nContent-Type: text/plain\r\n\r\nplain \xe2\x82\xac\r\n--inner--\r\n"
      "--outer\r\nContent-Type: application/octet-stream\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\n\x01\x02\xff\xfe\r\n--outer--\r\n", 1,
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n"
      "Content-Transfer-Encoding: 7bit\r\n\r\n"
      "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
      "--inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable"
      "\r\n\r\nplain =E2=82=AC\r\n--inner--\r\n"
      "--outer\r\nContent-Type: application/octet-stream\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nAQL//g==\r\n--outer--\r\n" },
    { "message/rfc822 inside a multipart",
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
      "--m\r\nContent-Type: message/rfc822\r\n\r\n"
      "From: x@y.example\r\nSubject: inner\r\n\r\n\xc3\xa9t\xc3\xa9\r\n--m--\r\n", 1,
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
      "--m\r\nContent-Type: message/rfc822\r\n\r\n"
      "From: x@y.example\r\nSubject: inner\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9t=C3=A9\r\n--m--\r\n" },
    { "long lines soft-broken at 76",
      "Content-Type: text/plain\r\n\r\n\xc3\xa9\r\n"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n"
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
      "\xc3\xa9\xc3\xa9\xc3\xa9xx\r\n", 1,
      "Content-Type: text/plain\r\nMIME-Version: 1.0\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n"
      /* 76 characters fit when the line ends there */
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
      /* 77 do not: 75 and "=" */
      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb=\r\n"
      "bb\r\n"
      /* an escape is never split */
      "=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=\r\n"
      "=A9xx\r\n" },
    { "'=', trailing white space, control bytes, leading '-'",
      "Subject: q\r\n\r\na=b  \r\nc\t\r\n\xc3\xa9 d\x01\r\n-- \r\nx\ry\nz \t", 1,
      "Subject: q\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "a=3Db =20\r\nc=09\r\n=C3=A9 d=01\r\n=2D-=20\r\nx=0Dy=0Az =09" },
    { "an already quoted-printable part is untouched",
      "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\nd=C3=A9j=C3=A0 \xc3\xa9\r\n"
      "--q\r\n\r\n\xc3\xa9\r\n--q--\r\n", 1,
      "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\nd=C3=A9j=C3=A0 \xc3\xa9\r\n"
      "--q\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n--q--\r\n" },
    { "quoted-printable with raw 8-bit bytes: nothing to do",
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n\xc3\xa9\r\n", 0, NULL },
    { "7-bit message", "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n", 0, NULL },
    { "8-bit header only", "Subject: caf\xc3\xa9\r\n\r\nhello\r\n", 0, NULL },
    { "headers without a body", "Subject: caf\xc3\xa9\r\nX: \xc3\xa9", 0, NULL },
    { "binary leaf with 8-bit bytes",
      "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
      "Content-Transfer-Encoding: binary\r\n\r\n\xff\r\n--z--\r\n", -2, NULL },
    { "binary leaf without 8-bit bytes is no obstacle",
      "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
      "Content-Transfer-Encoding: binary\r\n\r\nab\r\n--z\r\n\r\n\xff\r\n--z--\r\n", 1,
      "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
      "Content-Transfer-Encoding: binary\r\n\r\nab\r\n--z\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n=FF\r\n--z--\r\n" },
    { "boundary never used: the body is a text leaf",
      "Content-Type: multipart/mixed; boundary=\"nope\"\r\n\r\n--other\r\n\xc3\xa9\r\n", 1,
      "Content-Type: multipart/mixed; boundary=\"nope\"\r\nMIME-Version: 1.0\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n=2D-other\r\n=C3=A9\r\n" },
    { "multipart without boundary parameter",
      "Content-Type: multipart/mixed; boundary=\r\n\r\n\xc3\xa9\r\n", 1,
      "Content-Type: multipart/mixed; boundary=\r\nMIME-Version: 1.0\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n" },
    { "unterminated multipart: the last part runs to the end",
      "Content-Type: multipart/mixed; boundary=u\r\n\r\n--u\r\n\r\n\xc3\xa9\r\n--u \r\n"
      "Content-Type: text/plain\r\n\r\n\xc3\xa8", 1,
      "Content-Type: multipart/mixed; boundary=u\r\n\r\n--u\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n--u \r\n"
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "=C3=A8" },
    { "no empty line before the body, folded header, comment in the type",
      "Content-Type: text/plain\r\n (comment) ; charset=utf-8\r\n\xc3\xa9 body\r\n", 1,
      "Content-Type: text/plain\r\n (comment) ; charset=utf-8\r\nMIME-Version: 1.0\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9 body\r\n" },
    { "two CTE fields: first replaced, second dropped",
      "Content-Transfer-Encoding: 8bit\r\nX: 1\r\ncontent-transfer-encoding : 7bit\r\n"
      "\r\n\xc3\xa9", 1,
      "Content-Transfer-Encoding: quoted-printable\r\nX: 1\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n=C3=A9" },
    { "image at the top level: base64 in 76-character lines",
      "MIME-Version: 1.0\r\nContent-Type: image/x-test\r\n\r\n"
      "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
      "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
      "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 1,
      "MIME-Version: 1.0\r\nContent-Type: image/x-test\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n"
      "////////////////////////////////////////////////////////////////////////////\r\n"
      "/w==" },
    { "multipart/digest: a part without Content-Type is a message",
      "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
      "Subject: s\r\n\r\n\xc3\xa9\r\n--d--\r\n", 1,
      "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
      "Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n--d--\r\n" },
};

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(vecs); i++) {
        const struct vec *v = &vecs[i];
        char *out = (char *)1;
        size_t outlen = 99;
        int rc = mime_downgrade_7bit(v->in, strlen(v->in), &out, &outlen);
        if (rc != v->rc)
            fail_msg("%s: rc %d, want %d", v->name, rc, v->rc);
        if (rc != 1) {
            assert_null(out);
            assert_int_equal(outlen, 0);
            continue;
        }
        if (outlen != strlen(v->want) || memcmp(out, v->want, outlen) != 0) {
            fprintf(stderr, "%s:\n got: %.*s\nwant: %s\n", v->name, (int)outlen, out, v->want);
            fail_msg("%s: output differs", v->name);
        }
        /* converted output has nothing left to convert */
        char *again = NULL;
        size_t againlen;
        assert_int_equal(mime_downgrade_7bit(out, outlen, &again, &againlen), 0);
        free(out);
    }
}

static void test_nul_and_no_terminator(void **state)
{
    (void)state;
    /* the input is not NUL-terminated and may hold NULs; nothing past len is read */
    const char in[] = "Content-Type: application/x\r\n\r\n\0\x80";
    char *buf = malloc(sizeof in - 1);
    assert_non_null(buf);
    memcpy(buf, in, sizeof in - 1);
    char *out;
    size_t outlen;
    assert_int_equal(mime_downgrade_7bit(buf, sizeof in - 1, &out, &outlen), 1);
    const char want[] = "Content-Type: application/x\r\nMIME-Version: 1.0\r\n"
                        "Content-Transfer-Encoding: base64\r\n\r\nAIA=";
    assert_int_equal(outlen, sizeof want - 1);
    assert_memory_equal(out, want, outlen);
    free(out);
    free(buf);
    assert_int_equal(mime_downgrade_7bit(NULL, 0, &out, &outlen), 0);
    assert_null(out);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* 30 nested multiparts: past MIME7BIT_DEPTH the rest is one text leaf */
    size_t cap = 8192, len = 0;
    char *in = malloc(cap);
    assert_non_null(in);
    for (int d = 0; d < 30; d++)
        len += (size_t)snprintf(in + len, cap - len,
                                "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n",
                                d, d);
    len += (size_t)snprintf(in + len, cap - len, "\r\n\xc3\xa9");
    char *out;
    size_t outlen;
    assert_int_equal(mime_downgrade_7bit(in, len, &out, &outlen), 1);
    for (size_t i = 0; i < outlen; i++)
        assert_true((unsigned char)out[i] < 0x80);
    free(out);
    free(in);
}

static void test_many_parts_linear(void **state)
{
    (void)state;
    /* 20000 parts of 8-bit text: one pass, output all 7-bit */
    size_t parts = 20000, cap = parts * 64 + 256, len = 0;
    char *in = malloc(cap);
    assert_non_null(in);
    len += (size_t)snprintf(in, cap, "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
    for (size_t i = 0; i < parts; i++)
        len += (size_t)snprintf(in + len, cap - len, "--x\r\n\r\n\xc3\xa9 %zu\r\n", i);
    len += (size_t)snprintf(in + len, cap - len, "--x--\r\n");
    char *out;
    size_t outlen;
    assert_int_equal(mime_downgrade_7bit(in, len, &out, &outlen), 1);
    size_t hi = 0;
    for (size_t i = 0; i < outlen; i++)
        hi += (unsigned char)out[i] >= 0x80;
    assert_int_equal(hi, 0);
    free(out);
    free(in);
}

/* ------------------------------------------------- Python's email package */

static const char py_check[] =
    "import sys, email, email.policy\n"
    "def leaves(b):\n"
    "    m = email.message_from_bytes(b, policy=email.policy.compat32)\n"
    "    return [(p.get_content_type(), p.get_payload(decode=True))\n"
    "            for p in m.walk() if not p.is_multipart()]\n"
    "a = open(sys.argv[1], 'rb').read()\n"
    "b = open(sys.argv[2], 'rb').read()\n"
    "la, lb = leaves(a), leaves(b)\n"
    "assert len(la) == 6, la\n"
    "assert la == lb, (la, lb)\n"
    "assert all(c < 0x80 for c in b), 'converted message is not 7-bit'\n"
    "print('python-ok')\n";

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_python_decodes_the_same(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    static const char msg[] =
        "From: a@b.example\r\nSubject: python\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"=_outer\"\r\n\r\n"
        "preamble\r\n--=_outer\r\n"
        "Content-Type: multipart/alternative; boundary=alt\r\n\r\n"
        "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c = x  \r\n"
        "-- \r\n.dot\r\n"
        "a very long line a very long line a very long line a very long line a very "
        "long line a very long line \xe2\x82\xac\t\r\n"
        "--alt\r\nContent-Type: text/html\r\n\r\n<p>7-bit</p>\r\n--alt--\r\n"
        "--=_outer\r\nContent-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "\x01\x02\x80\x81\xfe\xff bin\r\nary\r\n"
        "--=_outer\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: c@d.example\r\nSubject: inner\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"
        "--=_outer\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"
        "caf\xe9\r\nno final line end \xe9"
        "\r\n--=_outer\r\nContent-Type: text/plain\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nalready=3D\r\n"
        "--=_outer--\r\n";
    char *out;
    size_t outlen;
    assert_int_equal(mime_downgrade_7bit(msg, sizeof msg - 1, &out, &outlen), 1);

    char dir[] = "/tmp/test_mime7bit.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[64], b[64], py[64], cmd[300];
    snprintf(a, sizeof a, "%s/a.eml", dir);
    snprintf(b, sizeof b, "%s/b.eml", dir);
    snprintf(py, sizeof py, "%s/check.py", dir);
    write_file(a, msg, sizeof msg - 1);
    write_file(b, out, outlen);
    write_file(py, py_check, sizeof py_check - 1);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s 2>&1", py, a, b);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char got[4096] = "";
    size_t n = fread(got, 1, sizeof got - 1, p);
    got[n] = '\0';
    int st = pclose(p);
    unlink(a);
    unlink(b);
    unlink(py);
    rmdir(dir);
    free(out);
    if (st != 0 || strstr(got, "python-ok") == NULL)
        fail_msg("python check failed (status %d): %s", st, got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_nul_and_no_terminator),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_many_parts_linear),
        cmocka_unit_test(test_python_decodes_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
