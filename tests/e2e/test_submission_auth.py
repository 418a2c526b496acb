"""AUTH in the SMTP session (RFC 4954) and the restriction lists it feeds:
seed 001's telnet transcript, real clients (swaks, smtplib, curl), the three
backends (a users file from `postern passwd`, a real saslauthd, a real
Dovecot), smtpd_tls_auth_only, an open-relay battery from a client outside
mynetworks, sender login maps, check_client_access, and passwords kept out
of the log (with -v too).

The daemon runs as root here and drops to mail_owner: the users file (mode
600, root's) is read by the privileged parent and passed on. Mail to
foreign domains goes to default_transport = capture: nothing leaves."""

import base64
import re
import shutil
import smtplib
import subprocess

import pytest

from conftest import LOCAL_DOMAIN, maildir_path, wait_for_maildir, simple_message
from test_auth import base, dovecot, ok, saslauthd  # noqa: F401 (fixtures)
from test_auth import postern as postern_cli

USER, PASSWORD = "sentry", "s3cret pa55"
FOREIGN = "victim@relay-target.example"
OUTSIDER = ("127.0.0.2", 0)     # outside mynetworks = 127.0.0.1/32


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


PLAIN_IR = b64(f"\0{USER}\0{PASSWORD}")


@pytest.fixture
def users(base):  # noqa: F811
    path = base / "users"
    ok(postern_cli(base, "passwd", "add", USER, "-f", path, input=PASSWORD + "\n"))
    return path


def auth_daemon(make_postern, users, **settings):
    s = {
        "mynetworks": "127.0.0.1/32",
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_sasl_users": str(users),
        "smtpd_tls_auth_only": "no",
    }
    s.update(settings)
    return make_postern(**s)


def assert_no_secret(p):
    log = p.log()
    for secret in (PASSWORD, b64(PASSWORD), PLAIN_IR):
        assert secret not in log, f"{secret!r} in the log:\n{log[-3000:]}"


def assert_nothing_queued(p):
    p.wait_sessions_over()
    assert "queued as" not in p.log() and "client=" not in p.log()
    assert not list(p.queue_dir.rglob("*.msg")) if p.queue_dir.exists() else True
    assert not (p.mail_dir.exists() and any(p.mail_dir.rglob("new/*")))


def send_data(r, body=b"Subject: t\r\n\r\nai ye\r\n"):
    r.expect("DATA", 354)
    r.send(body + b".\r\n")
    rep = r.read_reply()
    assert rep.code == 250, rep
    return rep.last.rsplit(" ", 1)[1]


def test_seed001_auth_login_transcript(make_postern, users):
    """Seed 001's telnet session: AUTH LOGIN with base64 name and password,
    then relaying to a foreign domain; refused before AUTH."""
    p = auth_daemon(make_postern, users)
    with p.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        e = r.expect("EHLO mail.xx.com", 250)
        assert "250-AUTH PLAIN LOGIN" in e.lines and "250-AUTH=PLAIN LOGIN" not in e.lines
        r.expect("MAIL FROM:<guol@xx.com>", 250)
        r.expect(f"RCPT TO:<{FOREIGN}>", 554, "5.7.1",
                 f"554 5.7.1 <{FOREIGN}>: Relay access denied")
        r.expect("RSET", 250)
        r.expect("auth login", 334, text="334 VXNlcm5hbWU6")
        r.expect(b64(USER), 334, text="334 UGFzc3dvcmQ6")
        r.expect(b64(PASSWORD), 235, "2.7.0", "235 2.7.0 Authentication successful")
        r.expect("mail from:<guol@xx.com>", 250)
        r.expect(f"rcpt to:<{FOREIGN}>", 250)
        qid = send_data(r)
        r.expect("quit", 221)
    p.wait_log(rf"{qid}: client=unknown\[127\.0\.0\.2\], sasl_method=LOGIN, "
               rf"sasl_username={USER}$", flags=re.M)
    p.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 "
               rf"<{FOREIGN}>: Relay access denied; from=<guol@xx.com> to=<{FOREIGN}> "
               r"proto=ESMTP helo=<mail\.xx\.com>")
    msg = open(wait_for_maildir(p.mail_dir, FOREIGN, 1)[0], "rb").read()
    assert b"with ESMTPA id " + qid.encode() in msg
    assert b"Authenticated sender" not in msg
    assert_no_secret(p)


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth(make_postern, users, mech):
    swaks = shutil.which("swaks")
    assert swaks, "swaks is not installed"
    p = auth_daemon(make_postern, users)
    rcpt = f"swaks-{mech.lower()}@relay-target.example"
    r = subprocess.run([swaks, "--server", "127.0.0.1", "--port", str(p.port),
                        "--local-interface", "127.0.0.2", "--auth", mech,
                        "--auth-user", USER, "--auth-password", PASSWORD,
                        "--from", "sentry@postern.test", "--to", rcpt,
                        "--ehlo", "client.example", "--timeout", "20"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout
    wait_for_maildir(p.mail_dir, rcpt, 1)
    p.wait_log(rf"client=unknown\[127\.0\.0\.2\], sasl_method={mech}, sasl_username={USER}")
    assert_no_secret(p)


def test_smtplib_login_and_authenticated_header(make_postern, users):
    p = auth_daemon(make_postern, users, smtpd_sasl_authenticated_header="yes")
    s = p.smtp(source_address=OUTSIDER)
    s.ehlo("client.example")
    assert s.has_extn("auth") and s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.login(USER, PASSWORD + "x")
    assert e.value.smtp_code == 535
    assert e.value.smtp_error == b"5.7.8 Authentication credentials invalid"
    s.login(USER, PASSWORD)
    # AUTH twice
    assert s.docmd("AUTH", "PLAIN " + PLAIN_IR) == (503, b"5.5.1 Error: already authenticated")
    s.sendmail("sentry@postern.test", [FOREIGN], simple_message(rcpt=FOREIGN))
    s.quit()
    msg = open(wait_for_maildir(p.mail_dir, FOREIGN, 1)[0], "rb").read()
    assert re.search(rb"\n\t\(Authenticated sender: sentry\)\r?\n\tby mx\.postern\.test "
                     rb"\(postern\) with ESMTPA id ", msg), msg[:400]
    p.wait_log(r"warning: unknown\[127\.0\.0\.2\]: SASL (PLAIN|LOGIN) authentication failed: "
               r"wrong password")
    assert_no_secret(p)


def test_curl_user(make_postern, users):
    curl = shutil.which("curl")
    assert curl, "curl is not installed"
    p = auth_daemon(make_postern, users)
    rcpt = "curl@relay-target.example"
    r = subprocess.run([curl, "-sS", f"smtp://127.0.0.1:{p.port}", "--interface", "127.0.0.2",
                        "--user", f"{USER}:{PASSWORD}", "--mail-from", "sentry@postern.test",
                        "--mail-rcpt", rcpt, "--upload-file", "-"],
                       input=b"Subject: curl\r\n\r\nhi\r\n", capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    wait_for_maildir(p.mail_dir, rcpt, 1)
    assert_no_secret(p)


def test_auth_exchange_replies(make_postern, users):
    p = auth_daemon(make_postern, users)
    with p.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        r.expect("EHLO client.example", 250)
        r.expect("AUTH PLAIN", 334, text="334 ")
        r.expect("*", 501, "5.7.0", "501 5.7.0 Authentication aborted")
        r.expect("AUTH LOGIN", 334)
        r.expect("!!not base64!!", 501, "5.5.2", "501 5.5.2 Cannot decode response")
        r.expect("AUTH CRAM-MD5", 504, "5.5.4")
        # a response is never a command: "QUIT" here is a (bad) response
        r.expect("AUTH LOGIN", 334)
        r.expect("QUIT", 535, "5.7.8")
        r.expect("NOOP", 250)
        r.expect("AUTH LOGIN", 334)
        r.expect(b64("nobody"), 334, text="334 UGFzc3dvcmQ6")
        r.expect(b64("x"), 535, "5.7.8")
        r.expect("MAIL FROM:<a@postern.test> AUTH=<>", 250)
        r.expect("AUTH PLAIN " + PLAIN_IR, 503, "5.5.1",
                 "503 5.5.1 Error: MAIL transaction in progress")
        r.expect("RSET", 250)
        r.expect("AUTH PLAIN " + PLAIN_IR, 235)
        r.expect("MAIL FROM:<sentry@postern.test> AUTH=sentry+40postern.test", 250)
        r.expect(f"RCPT TO:<{FOREIGN}>", 250)
        r.expect("QUIT", 221)
    p.wait_log(r"SASL LOGIN authentication failed: unknown user")
    assert_no_secret(p)


def test_auth_failures_count_and_are_rate_limited(make_postern, users):
    """A failure is an error (smtpd_hard_error_limit); after 10 failures from
    one address (smtpd_client_auth_rate_limit's default), AUTH is refused with
    Postfix's 450 4.7.1 even with the right password."""
    p = auth_daemon(make_postern, users, smtpd_hard_error_limit="3")
    with p.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        r.expect("EHLO c", 250)
        r.expect("AUTH PLAIN " + b64(f"\0{USER}\0wrong"), 535)
        r.expect("AUTH PLAIN " + b64(f"\0{USER}\0wrong"), 535)
        r.send("AUTH PLAIN " + b64(f"\0{USER}\0wrong") + "\r\n")
        assert r.read_reply().code == 535
        assert r.read_reply().last == "421 4.7.0 mx.postern.test Error: too many errors"
    p2 = auth_daemon(make_postern, users)
    with p2.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        r.expect("EHLO c", 250)
        for _ in range(10):
            r.expect("AUTH PLAIN " + b64(f"\0{USER}\0wrong"), 535)
        r.expect("AUTH PLAIN " + PLAIN_IR, 450, "4.7.1",
                 "450 4.7.1 Error: too many AUTH commands from 127.0.0.2")
    # another address is not limited
    with p2.raw() as r:
        r.read_reply()
        r.expect("EHLO c", 250)
        r.expect("AUTH PLAIN " + PLAIN_IR, 235)
    assert_no_secret(p2)


def test_auth_before_tls_refused(make_postern, users):
    p = auth_daemon(make_postern, users, smtpd_tls_auth_only=None)   # default: yes
    with p.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        e = r.expect("EHLO client.example", 250)
        assert not any("AUTH" in line for line in e.lines), e
        r.expect("AUTH PLAIN " + PLAIN_IR, 538, "5.7.11",
                 "538 5.7.11 Encryption required for requested authentication mechanism")
        r.expect("MAIL FROM:<sentry@postern.test>", 250)
        r.expect(f"RCPT TO:<{FOREIGN}>", 554)
    assert_nothing_queued(p)
    assert_no_secret(p)


def test_broken_sasl_auth_clients(make_postern, users):
    p = auth_daemon(make_postern, users, broken_sasl_auth_clients="yes")
    with p.raw() as r:
        r.read_reply()
        e = r.expect("EHLO c", 250)
        assert "250-AUTH PLAIN LOGIN" in e.lines and "250-AUTH=PLAIN LOGIN" in e.lines


RELAY_BATTERY = [
    FOREIGN,
    "VICTIM@RELAY-TARGET.EXAMPLE",
    "victim%relay-target.example@postern.test",
    "relay-target.example!victim@postern.test",
    '"victim@relay-target.example"@postern.test',
    "@postern.test:victim@relay-target.example",
    "victim@relay-target.example.",
    "victim@Relay-Target.Example",
    "victim@[192.0.2.1]",
    "victim@postern.test.relay-target.example",
    '"victim%relay-target.example"@postern.test',
]


def test_open_relay_battery(make_postern, users):
    p = auth_daemon(make_postern, users, smtpd_hard_error_limit="100")
    with p.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        r.expect("EHLO spammer.example", 250)
        r.expect("AUTH PLAIN " + b64("\0sentry\0guess"), 535)
        r.expect("MAIL FROM:<spam@spammer.example>", 250)
        for rcpt in RELAY_BATTERY:
            rep = r.cmd(f"RCPT TO:<{rcpt}>")
            assert rep.code >= 500, (rcpt, rep)
        r.expect("DATA", 503)
        r.expect("RSET", 250)
        # the same, pipelined in one group
        group = "MAIL FROM:<spam@spammer.example>\r\n" + "".join(
            f"RCPT TO:<{x}>\r\n" for x in RELAY_BATTERY) + "DATA\r\n"
        r.send(group)
        assert r.read_reply().code == 250
        for rcpt in RELAY_BATTERY:
            rep = r.read_reply()
            assert rep.code >= 500, (rcpt, rep)
        assert r.read_reply().code == 503
        r.expect("QUIT", 221)
    assert_nothing_queued(p)


def test_sender_login_mismatch_and_header_from(make_postern, users):
    p0 = make_postern(start=False)
    logins = p0.base / "logins"
    logins.parent.mkdir(parents=True, exist_ok=True)
    logins.write_text(f"sentry@{LOCAL_DOMAIN} {USER}\nboss@{LOCAL_DOMAIN} boss\n")
    p = auth_daemon(make_postern, users, smtpd_sender_login_maps=f"texthash:{logins}",
                    smtpd_sender_restrictions="reject_sender_login_mismatch",
                    smtpd_sender_header_check="yes")
    with p.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        r.expect("EHLO c", 250)
        r.expect("AUTH PLAIN " + PLAIN_IR, 235)
        r.expect(f"MAIL FROM:<boss@{LOCAL_DOMAIN}>", 250)
        r.expect(f"RCPT TO:<{FOREIGN}>", 553, "5.7.1",
                 f"553 5.7.1 <boss@{LOCAL_DOMAIN}>: Sender address rejected: "
                 f"not owned by user {USER}")
        r.expect("RSET", 250)
        r.expect(f"MAIL FROM:<sentry@{LOCAL_DOMAIN}>", 250)
        r.expect(f"RCPT TO:<{FOREIGN}>", 250)
        r.expect("DATA", 354)
        r.send(f"From: Sentry <sentry@{LOCAL_DOMAIN}>,\r\n Boss <boss@{LOCAL_DOMAIN}>\r\n"
               "Subject: t\r\n\r\nbody\r\n.\r\n")
        rep = r.read_reply()
        assert rep.code == 550 and f"<boss@{LOCAL_DOMAIN}>" in rep.last, rep
        r.expect(f"MAIL FROM:<sentry@{LOCAL_DOMAIN}>", 250)
        r.expect(f"RCPT TO:<{FOREIGN}>", 250)
        qid = send_data(r, f"From: <sentry@{LOCAL_DOMAIN}>\r\nSubject: ok\r\n\r\nx\r\n"
                        .encode())
        r.expect("QUIT", 221)
    p.wait_removed(qid)
    assert len(wait_for_maildir(p.mail_dir, FOREIGN, 1)) == 1


def test_check_client_access_cidr(make_postern, users):
    p0 = make_postern(start=False)
    cidr = p0.base / "clients.cidr"
    cidr.parent.mkdir(parents=True, exist_ok=True)
    cidr.write_text("127.0.0.2 REJECT\n")
    cidr.chmod(0o644)
    p = auth_daemon(make_postern, users, mynetworks="127.0.0.0/8",
                    smtpd_client_restrictions=f"check_client_access cidr:{cidr}")
    with p.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        r.expect("EHLO c", 250)
        r.expect(f"MAIL FROM:<a@{LOCAL_DOMAIN}>", 250)
        r.expect(f"RCPT TO:<rcpt@{LOCAL_DOMAIN}>", 554, "5.7.1",
                 "554 5.7.1 <unknown[127.0.0.2]>: Client host rejected: Access denied")
    with p.raw() as r:
        r.read_reply()
        r.expect("EHLO c", 250)
        r.expect(f"MAIL FROM:<a@{LOCAL_DOMAIN}>", 250)
        r.expect(f"RCPT TO:<rcpt@{LOCAL_DOMAIN}>", 250)


def test_strict_rfc821_envelopes(make_postern, users):
    p = auth_daemon(make_postern, users)
    with p.raw() as r:
        r.read_reply()
        r.expect("EHLO c", 250)
        r.expect(f"MAIL FROM:a@{LOCAL_DOMAIN}", 250)
        r.expect(f"RCPT TO:rcpt@{LOCAL_DOMAIN}", 250)
    p2 = auth_daemon(make_postern, users, strict_rfc821_envelopes="yes")
    with p2.raw() as r:
        r.read_reply()
        r.expect("EHLO c", 250)
        r.expect(f"MAIL FROM:a@{LOCAL_DOMAIN}", 501)


def test_passwords_never_logged_verbose(make_postern, users):
    p = make_postern(start=False, mynetworks="127.0.0.1/32", smtpd_sasl_auth_enable="yes",
                     smtpd_sasl_users=str(users), smtpd_tls_auth_only="no")
    p.start(verbose=True)
    with p.raw(source_address=OUTSIDER) as r:
        r.read_reply()
        r.expect("EHLO c", 250)
        r.expect("AUTH LOGIN", 334)
        r.expect(b64(USER), 334)
        r.expect(b64(PASSWORD + "x"), 535)
        # pipelined after a failure: still not logged
        r.send("AUTH PLAIN\r\n" + PLAIN_IR + "\r\n")
        assert r.read_reply().code == 334
        assert r.read_reply().code == 235
        r.expect("QUIT", 221)
    p.wait_sessions_over()
    assert "< <redacted>" in p.log()
    assert_no_secret(p)
    assert b64(PASSWORD + "x") not in p.log()


@pytest.mark.parametrize("backend", ["saslauthd", "dovecot"])
def test_backends_through_the_session(request, make_postern, base, backend):  # noqa: F811
    sock = request.getfixturevalue(backend)
    user, pw = ("app1@example.com", "sasl pass") if backend == "saslauthd" \
        else ("app1@example.com", "dove pass")
    p = make_postern(mynetworks="127.0.0.1/32", smtpd_sasl_auth_enable="yes",
                     smtpd_sasl_type=backend, smtpd_sasl_path=str(sock),
                     smtpd_tls_auth_only="no")
    s = p.smtp(source_address=OUTSIDER)
    s.ehlo("c")
    s.login(user, pw)
    rcpt = f"{backend}@relay-target.example"
    s.sendmail("app1@example.com", [rcpt], simple_message(rcpt=rcpt))
    s.quit()
    wait_for_maildir(p.mail_dir, rcpt, 1)
    p.wait_log(rf"sasl_method=(PLAIN|LOGIN), sasl_username={re.escape(user)}")
    s = p.smtp(source_address=OUTSIDER)
    s.ehlo("c")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        s.login(user, pw + "!")
    s.quit()
    assert pw not in p.log()
