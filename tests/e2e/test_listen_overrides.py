"""Per-listener overrides (issue #11, master.cf's -o): a `listen` URL's
query sets a few smtpd_* parameters for that listener only. One daemon
with an smtp:// listener (AUTH off, the main.cf values) and a
submission:// listener with smtpd_sasl_auth_enable=yes,
smtpd_tls_auth_only=no and smtpd_relay_restrictions =
permit_sasl_authenticated, reject; then what `postern check` says about an
override it does not allow or a value it cannot take."""

import os
import re
import signal

from conftest import free_port, run_check
from test_auth import base  # noqa: F401 (fixture used by users)
from test_submission_auth import FOREIGN, OUTSIDER, PLAIN_IR, assert_no_secret, send_data
from test_submission_auth import users  # noqa: F401 (fixture)
from test_tls_server import tls_files
from upstream import test_ca  # noqa: F401 (fixture)

OVERRIDES = ("smtpd_sasl_auth_enable=yes&smtpd_tls_auth_only=no&"
             "smtpd_relay_restrictions=permit_sasl_authenticated+reject")


def two_listeners(make_postern, tmp_path, ca, users):
    cert, key = tls_files(tmp_path, ca)
    smtp, sub = free_port(), free_port()
    p = make_postern(start=False,
                     listen=f"smtp://127.0.0.1:{smtp}, submission://127.0.0.1:{sub}?{OVERRIDES}",
                     smtpd_tls_cert_file=str(cert), smtpd_tls_key_file=str(key),
                     smtpd_sasl_users=str(users), mynetworks="127.0.0.1/32")
    p.port = smtp
    p.start()
    return p, sub


def check_listeners(p, sub):
    # smtp://: the main.cf values: no AUTH, mynetworks may relay
    with p.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        e = r.expect("EHLO client.example", 250)
        assert not any("AUTH" in line for line in e.lines), e.lines
        r.expect(f"AUTH PLAIN {PLAIN_IR}", 503, "5.5.1")
    with p.raw() as r:      # from 127.0.0.1, in mynetworks
        r.read_reply()
        r.expect("EHLO client.example", 250)
        r.expect("MAIL FROM:<app@example.com>", 250)
        r.expect(f"RCPT TO:<{FOREIGN}>", 250)
        r.expect("QUIT", 221)
    # submission://: AUTH offered (no TLS needed: smtpd_tls_auth_only=no),
    # and relaying only after it, even from mynetworks
    with p.raw(port=sub) as r:
        r.read_reply()
        e = r.expect("EHLO client.example", 250)
        assert "250-AUTH PLAIN LOGIN" in e.lines, e.lines
        r.expect("MAIL FROM:<app@example.com>", 250)
        rep = r.cmd(f"RCPT TO:<{FOREIGN}>")
        assert rep.code == 554 and rep.enh == "5.7.1", rep
        r.expect("RSET", 250)
        r.expect(f"AUTH PLAIN {PLAIN_IR}", 235, "2.7.0")
        r.expect("MAIL FROM:<app@example.com>", 250)
        r.expect(f"RCPT TO:<{FOREIGN}>", 250)
        send_data(r)
        r.expect("QUIT", 221)


def test_auth_on_the_submission_listener_only(make_postern, tmp_path, test_ca,  # noqa: F811
                                              users):  # noqa: F811
    p, sub = two_listeners(make_postern, tmp_path, test_ca, users)
    check_listeners(p, sub)
    p.wait_for_maildir(FOREIGN, 1)
    assert_no_secret(p)


def test_overrides_survive_a_reload(make_postern, tmp_path, test_ca, users):  # noqa: F811
    """After SIGHUP the worker builds them from what the parent read."""
    p, sub = two_listeners(make_postern, tmp_path, test_ca, users)
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload: configuration")
    check_listeners(p, sub)
    p.wait_for_maildir(FOREIGN, 1)


def test_reload_changes_the_overrides(make_postern, tmp_path, test_ca, users):  # noqa: F811
    """A reload that changes a listener's query applies it to new sessions
    on the socket bound at start (no restart needed)."""
    p, sub = two_listeners(make_postern, tmp_path, test_ca, users)
    p.settings["listen"] = p.settings["listen"].split("?")[0]
    p.write_config()
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload: configuration")
    assert "need a restart" not in p.log()
    with p.raw(port=sub) as r:
        r.read_reply()
        e = r.expect("EHLO client.example", 250)
        assert not any("AUTH" in line for line in e.lines), e.lines
        r.expect("MAIL FROM:<app@example.com>", 250)
        r.expect(f"RCPT TO:<{FOREIGN}>", 250)       # from mynetworks: main.cf's lists
        r.expect("QUIT", 221)


def config_line(text, name):
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(name))


def test_check_refuses_an_override_not_allowed(tmp_path):
    cf = tmp_path / "main.cf"
    cf.write_text("myhostname = mx.postern.test\n"
                  "listen = smtp://127.0.0.1:2525,\n"
                  "  smtp://127.0.0.1:2526?smtpd_sasl_auth_enable=yes&myhostname=other\n")
    r = run_check(cf)
    assert r.returncode != 0, r
    out = r.stdout + r.stderr
    assert re.search(rf"{re.escape(str(cf))}:2: listen \"smtp://127\.0\.0\.1:2526\?"
                     r"smtpd_sasl_auth_enable=yes&myhostname=other\": \"myhostname\" cannot be "
                     r"set per listener \(allowed: smtpd_tls_security_level, "
                     r"smtpd_sasl_auth_enable, smtpd_tls_auth_only, smtpd_relay_restrictions, "
                     r"smtpd_client_restrictions, smtpd_recipient_restrictions, "
                     r"smtpd_reject_unlisted_recipient, smtpd_upstream_proxy_protocol, "
                     r"smtpd_upstream_proxy_timeout\)", out), out


def test_check_refuses_a_bad_override_value(tmp_path):
    cf = tmp_path / "main.cf"
    text = ("myhostname = mx.postern.test\n"
            "listen = smtp://127.0.0.1:2525?smtpd_tls_auth_only=maybe\n")
    cf.write_text(text)
    r = run_check(cf)
    assert r.returncode != 0, r
    out = r.stdout + r.stderr
    assert re.search(rf"{re.escape(str(cf))}:{config_line(text, 'listen')}: listen "
                     r"\"smtp://127\.0\.0\.1:2525\?smtpd_tls_auth_only=maybe\": .*"
                     r"smtpd_tls_auth_only.*not a boolean", out), out


def test_check_accepts_overrides(tmp_path):
    cf = tmp_path / "main.cf"
    cf.write_text("myhostname = mx.postern.test\n"
                  "listen = smtp://127.0.0.1:2525?smtpd_client_restrictions="
                  "permit_mynetworks+reject&smtpd_reject_unlisted_recipient=no\n")
    r = run_check(cf)
    assert r.returncode == 0, r
