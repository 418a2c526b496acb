"""Intake rate limits (Postfix's anvil names and replies) and the failed-AUTH
lockout: each smtpd_client_*_rate_limit hit with Postfix's exact reply and
warning, and lifted once the client's window (anvil_rate_time_unit, short
here) has gone by; smtpd_client_event_limit_exceptions exempting a client;
the users file's per-account rate=N/W stopping one app while another still
sends; fail2ban's stock postfix[mode=auth] filter (Debian's fail2ban-regex)
matching the failed-AUTH lines; behind HAProxy, the limits keyed on the
real client. Waits are polls, never fixed sleeps."""
import re
import shutil
import subprocess
import time

import pytest

from conftest import LOCAL_DOMAIN, RawSMTP, run_check, wait_until
from test_auth import base, ok  # noqa: F401 (fixtures)
from test_auth import postern as postern_cli
from test_proxy import haproxy, start_proxied  # noqa: F401 (fixture)
from test_submission_auth import (USER, PASSWORD, auth_daemon, assert_no_secret, b64,
                                  send_data)
from test_tls_server import client_ctx, tls_postern  # noqa: F401 (fixture)
from upstream import test_ca  # noqa: F401 (fixture)

OUTSIDER = "127.0.0.2"          # outside mynetworks = 127.0.0.1/32
OTHER = "127.0.0.3"             # outside too, and never limited by the tests
HOST = "mx.postern.test"
UNIT = "2s"
FAIL2BAN_REGEX = shutil.which("fail2ban-regex") or "/usr/bin/fail2ban-regex"


def limited(make_postern, **settings):
    s = {"mynetworks": "127.0.0.1/32", "anvil_rate_time_unit": UNIT}
    s.update(settings)
    return make_postern(**s)


def greeting(p, source):
    """The first reply of a new connection from source."""
    with RawSMTP("127.0.0.1", p.port, source_address=(source, 0)) as c:
        r = c.read_reply()
        if r.code == 220:
            c.cmd("QUIT")
        else:
            assert c.wait_closed(5), "not closed after the refusal"
        return r


def test_connection_rate_limit(make_postern):
    p = limited(make_postern, smtpd_client_connection_rate_limit="2")
    t0 = time.monotonic()
    assert greeting(p, OUTSIDER).code == 220
    assert greeting(p, OUTSIDER).code == 220
    r = greeting(p, OUTSIDER)
    assert r.last == f"421 4.7.0 {HOST} Error: too many connections from {OUTSIDER}", r
    p.wait_log(r"warning: Connection rate limit exceeded: 3 from unknown\[127\.0\.0\.2\] "
               r"for service smtp$", flags=re.M)
    # another address has its own count; mynetworks is exempt by default
    for _ in range(2):
        assert greeting(p, OTHER).code == 220
    for _ in range(4):
        assert greeting(p, "127.0.0.1").code == 220
    # the window (2s from the first connection) moves: greeted again
    wait_until(lambda: greeting(p, OUTSIDER).code == 220, "greeted after the window", 8)
    assert time.monotonic() - t0 >= 1.9


def test_event_limit_exceptions(make_postern):
    """A listed client is never limited; an empty list limits even
    mynetworks (Postfix's default is $mynetworks, as postern's)."""
    p = limited(make_postern, smtpd_client_connection_rate_limit="1",
                smtpd_client_event_limit_exceptions="127.0.0.2/32")
    for _ in range(4):
        assert greeting(p, OUTSIDER).code == 220
    assert greeting(p, OTHER).code == 220
    assert greeting(p, OTHER).code == 421
    p2 = limited(make_postern, smtpd_client_connection_rate_limit="1",
                 smtpd_client_event_limit_exceptions="")
    # (the test's own readiness probe was the first connection)
    assert greeting(p2, "127.0.0.1").code == 421


def test_message_rate_limit(make_postern):
    p = limited(make_postern, smtpd_client_message_rate_limit="2")
    with RawSMTP("127.0.0.1", p.port, source_address=(OUTSIDER, 0)) as c:
        c.read_reply()
        c.expect("EHLO client.example", 250)
        for _ in range(2):
            c.expect("MAIL FROM:<app@example.org>", 250)
            c.expect("RSET", 250)
        c.expect("MAIL FROM:<app@example.org>", 450, "4.7.1",
                 f"450 4.7.1 Error: too much mail from {OUTSIDER}")
        p.wait_log(r"warning: Message delivery request rate limit exceeded: 3 from "
                   r"unknown\[127\.0\.0\.2\] for service smtp$", flags=re.M)
        # across connections too
        with RawSMTP("127.0.0.1", p.port, source_address=(OUTSIDER, 0)) as c2:
            c2.read_reply()
            c2.expect("EHLO client.example", 250)
            c2.expect("MAIL FROM:<app@example.org>", 450, "4.7.1")
        # and a mail from the refused session goes through once the window moved
        wait_until(lambda: c.cmd("MAIL FROM:<app@example.org>").code == 250,
                   "MAIL accepted after the window", 8)
        c.expect(f"RCPT TO:<rcpt@{LOCAL_DOMAIN}>", 250)
        send_data(c)


def test_recipient_rate_limit(make_postern):
    p = limited(make_postern, smtpd_client_recipient_rate_limit="3")
    with RawSMTP("127.0.0.1", p.port, source_address=(OUTSIDER, 0)) as c:
        c.read_reply()
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<app@example.org>", 250)
        for i in range(3):
            c.expect(f"RCPT TO:<r{i}@{LOCAL_DOMAIN}>", 250)
        c.expect(f"RCPT TO:<r3@{LOCAL_DOMAIN}>", 450, "4.7.1",
                 f"450 4.7.1 Error: too many recipients from {OUTSIDER}")
        p.wait_log(r"warning: Recipient address rate limit exceeded: 4 from "
                   r"unknown\[127\.0\.0\.2\] for service smtp$", flags=re.M)
        # the three accepted ones are still delivered
        send_data(c)
        # another client is not limited
        with RawSMTP("127.0.0.1", p.port, source_address=(OTHER, 0)) as c2:
            c2.read_reply()
            c2.expect("EHLO client.example", 250)
            c2.expect("MAIL FROM:<app@example.org>", 250)
            c2.expect(f"RCPT TO:<r0@{LOCAL_DOMAIN}>", 250)
        c.expect("MAIL FROM:<app@example.org>", 250)
        wait_until(lambda: c.cmd(f"RCPT TO:<r4@{LOCAL_DOMAIN}>").code == 250,
                   "RCPT accepted after the window", 8)


# ---------------------------------------------------------------------------
# failed AUTH


def auth_attempt(p, source, password):
    with RawSMTP("127.0.0.1", p.port, source_address=(source, 0)) as c:
        c.read_reply()
        c.expect("EHLO client.example", 250)
        return c.cmd("AUTH PLAIN " + b64(f"\0{USER}\0{password}"))


def fail2ban(log_path, filter_spec):
    """fail2ban-regex's verdict: (lines matched, the IPs it would ban)."""
    r = subprocess.run([FAIL2BAN_REGEX, "--print-all-matched", str(log_path), filter_spec],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"^Lines: \d+ lines, \d+ ignored, (\d+) matched", r.stdout, re.M)
    assert m, r.stdout
    return int(m.group(1)), r.stdout


@pytest.fixture
def users(base):  # noqa: F811
    path = base / "users"
    ok(postern_cli(base, "passwd", "add", USER, "-f", path, input=PASSWORD + "\n"))
    ok(postern_cli(base, "passwd", "add", "gitlab", "-f", path, input="g1tlab pw\n"))
    return path


def test_failed_auth_lockout_and_fail2ban(make_postern, users, tmp_path):
    p = auth_daemon(make_postern, users, smtpd_client_auth_rate_limit="3",
                    anvil_rate_time_unit="3s")
    t0 = time.monotonic()
    with RawSMTP("127.0.0.1", p.port, source_address=(OUTSIDER, 0)) as c:
        c.read_reply()
        c.expect("EHLO client.example", 250)
        c.expect("AUTH PLAIN " + b64(f"\0{USER}\0wrong"), 535)
        c.expect("AUTH LOGIN", 334)
        c.expect(b64(USER), 334)
        c.expect(b64("wrong again"), 535)
    assert auth_attempt(p, OUTSIDER, "third").code == 535
    # three failures: refused, even with the right password
    r = auth_attempt(p, OUTSIDER, PASSWORD)
    assert r.last == f"450 4.7.1 Error: too many AUTH commands from {OUTSIDER}", r
    p.wait_log(r"warning: AUTH command rate limit exceeded: 3 from unknown\[127\.0\.0\.2\] "
               r"for service smtp$", flags=re.M)
    # another address may log in
    assert auth_attempt(p, OTHER, PASSWORD).code == 235
    # until the window (3s from the first failure) has gone by
    wait_until(lambda: auth_attempt(p, OUTSIDER, PASSWORD).code == 235,
               "AUTH accepted after the window", 10)
    assert time.monotonic() - t0 >= 2.9
    assert_no_secret(p)

    # fail2ban's stock filter, unchanged, reads postern's log file
    log = tmp_path / "postern.log"
    log.write_text(p.log())
    assert p.log_count(r"warning: unknown\[127\.0\.0\.2\]: SASL (PLAIN|LOGIN) "
                       r"authentication failed: ") == 3
    n, out = fail2ban(log, "postfix[mode=auth]")
    assert n == 3, out
    assert out.count("127.0.0.2") >= 3 and "127.0.0.3" not in out, out
    # the same messages through syslog (rsyslog: "DATE HOST TAG[PID]: MESSAGE"):
    # syslog_name = postfix/postern matches the stock filter as it is;
    # syslog_name = postern with the jail's filter = postfix[mode=auth, _daemon=postern]
    for tag, spec in (("postfix/postern", "postfix[mode=auth]"),
                      ("postern", "postfix[mode=auth, _daemon=postern]")):
        sl = tmp_path / f"mail.{tag.replace('/', '_')}.log"
        sl.write_text(re.sub(r"^(\w{3} [ \d]\d \d\d:\d\d:\d\d) postern\[", rf"\1 mx {tag}[",
                             p.log(), flags=re.M))
        n, out = fail2ban(sl, spec)
        assert n == 3, out
    # the daemon tag alone does not match the stock filter through syslog
    n, _ = fail2ban(tmp_path / "mail.postern.log", "postfix[mode=auth]")
    assert n == 0


# ---------------------------------------------------------------------------
# per-account rate= (users file)


def login(p, user, password, source="127.0.0.1"):
    c = RawSMTP("127.0.0.1", p.port, source_address=(source, 0))
    c.read_reply()
    c.expect("EHLO client.example", 250)
    c.expect("AUTH PLAIN " + b64(f"\0{user}\0{password}"), 235)
    return c


def send_one(c, sender):
    c.expect(f"MAIL FROM:<{sender}>", 250)
    c.expect(f"RCPT TO:<ops@{LOCAL_DOMAIN}>", 250)
    return send_data(c)


def test_account_rate(make_postern, users):
    text = users.read_text()
    text = re.sub(rf"^({USER}:\S+)$", r"\1:rate=2/3s", text, flags=re.M)
    users.write_text(text)
    p = auth_daemon(make_postern, users)
    t0 = time.monotonic()
    # two messages, on two connections (the count is the account's)
    for _ in range(2):
        with login(p, USER, PASSWORD) as c:
            send_one(c, "alerts@example.org")
    with login(p, USER, PASSWORD) as c:
        c.expect("MAIL FROM:<alerts@example.org>", 450, "4.7.1",
                 f"450 4.7.1 Error: too much mail from {USER}: rate=2/3s reached, "
                 "try again later")
        p.wait_log(r"warning: Message delivery request rate limit exceeded: 2 from "
                   r"unknown\[127\.0\.0\.1\] for sasl_username=sentry \(rate=2/3s; next "
                   r"message in [1-3] seconds\)")
        # the other app still sends, from the same address
        with login(p, "gitlab", "g1tlab pw") as g:
            for _ in range(3):
                send_one(g, "git@example.org")
        # sentry again once its window moved
        wait_until(lambda: c.cmd("MAIL FROM:<alerts@example.org>").code == 250,
                   "sentry's MAIL accepted after the window", 10)
        assert time.monotonic() - t0 >= 2.9
        c.expect(f"RCPT TO:<ops@{LOCAL_DOMAIN}>", 250)
        send_data(c)


def test_account_rate_bad_option(base, users):  # noqa: F811
    users.write_text(users.read_text() + "app3:$y$j9T$abcdefghijklmnopqrstu.$AVtIZv3QuzM1gaQe8"
                     "57xXRBHHLZMwtacHokC0aEyZ/0:rate=200\n")
    cf = base / "bad.cf"
    cf.write_text(f"queue_directory = {base / 'q'}\nsmtpd_sasl_auth_enable = yes\n"
                  f"smtpd_sasl_users = {users}\n")
    r = run_check(cf)
    assert r.returncode != 0
    assert (f'{users}:3: app3: "rate=200": write rate=N/W: N messages (1 to 1000000000) '
            "per W, a time such as 30s, 10m, 1h or 1d") in r.stdout + r.stderr, r


# ---------------------------------------------------------------------------
# behind HAProxy


def test_limits_key_on_the_real_client(make_postern, haproxy):  # noqa: F811
    p = start_proxied(make_postern, smtpd_client_connection_rate_limit="1",
                      anvil_rate_time_unit="60s")
    v1, _ = haproxy(p.port)

    def first_reply(source):
        with RawSMTP("127.0.0.1", v1, source_address=(source, 0)) as c:
            r = c.read_reply()
            if r.code == 220:
                c.send("QUIT\r\n")
            return r

    assert first_reply(OUTSIDER).code == 220
    r = first_reply(OUTSIDER)
    assert r.last == f"421 4.7.0 {HOST} Error: too many connections from {OUTSIDER}", r
    p.wait_log(r"Connection rate limit exceeded: 2 from unknown\[127\.0\.0\.2\] ")
    # the proxy's own address is not the key: another client still gets in
    assert first_reply(OTHER).code == 220
    # and HAProxy's address (127.0.0.1, in mynetworks) exempts nobody behind it
    assert first_reply(OTHER).code == 421


# ---------------------------------------------------------------------------
# smtpd_client_new_tls_session_rate_limit


def starttls(port, ctx, source, session=None):
    """STARTTLS from source, then EHLO through TLS: (the STARTTLS reply or
    the first line through TLS, the TLS socket or None)."""
    c = RawSMTP("127.0.0.1", port, source_address=(source, 0))
    c.read_reply()
    c.expect("EHLO client.example", 250)
    r = c.cmd("STARTTLS")
    if r.code != 220:
        c.close()
        return r.last, None
    tls = ctx.wrap_socket(c.sock, server_hostname="localhost", session=session)
    tls.settimeout(10)
    tls.sendall(b"EHLO client.example\r\n")
    data = b""
    while b"\r\n" not in data:
        d = tls.recv(4096)
        if not d:
            break
        data += d
    return data.split(b"\r\n")[0].decode(), tls


def test_new_tls_session_rate_limit(tls_postern, test_ca):  # noqa: F811
    p, ports = tls_postern(mynetworks="127.0.0.1/32", anvil_rate_time_unit="3s",
                           smtpd_client_new_tls_session_rate_limit="1")
    ctx = client_ctx(test_ca)
    t0 = time.monotonic()
    first, tls = starttls(ports["smtp"], ctx, OUTSIDER)
    assert first == "250-mx.postern.test", first
    tls.sendall(b"QUIT\r\n")
    while tls.recv(4096):       # the 221 and the close, after the session ticket
        pass
    session = tls.session
    tls.close()
    # a resumed session is not a new one
    first, tls = starttls(ports["smtp"], ctx, OUTSIDER, session=session)
    assert first == "250-mx.postern.test", first
    assert tls.session_reused
    tls.close()
    # a second new one is one too many: 421 through TLS, then closed
    first, tls = starttls(ports["smtp"], ctx, OUTSIDER)
    assert first == (f"421 4.7.0 {HOST} Error: too many new TLS sessions from "
                     f"unknown[{OUTSIDER}]"), first
    tls.close()
    p.wait_log(r"warning: New TLS session rate limit exceeded: 2 from unknown\[127\.0\.0\.2\] "
               r"for service smtp$", flags=re.M)
    # now refused before the handshake
    first, _ = starttls(ports["submission"], ctx, OUTSIDER)
    assert first == f"454 4.7.0 Error: too many new TLS sessions from unknown[{OUTSIDER}]"
    p.wait_log(r"warning: Refusing STARTTLS request from unknown\[127\.0\.0\.2\] for service "
               r"submission$", flags=re.M)
    with RawSMTP("127.0.0.1", ports["submissions"], source_address=(OUTSIDER, 0)) as c:
        assert c.wait_closed(5) and c.buf == b""
    p.wait_log(r"warning: Refusing TLS service request from unknown\[127\.0\.0\.2\] for "
               r"service submissions$", flags=re.M)
    # another client is not concerned
    first, tls = starttls(ports["smtp"], ctx, OTHER)
    assert first == "250-mx.postern.test", first
    tls.close()
    # and the window moves
    wait_until(lambda: starttls(ports["smtp"], ctx, OUTSIDER)[0] == "250-mx.postern.test",
               "STARTTLS again after the window", 10)
    assert time.monotonic() - t0 >= 2.9
