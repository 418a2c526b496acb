"""Authenticated submission as users run it (issue #11): TLS and AUTH
together on one daemon with smtp://, submission:// (STARTTLS) and
submissions:// (implicit TLS) listeners, a certificate from the test CA,
smtpd_sasl_auth_enable = yes with the default smtpd_tls_auth_only = yes, a
users file from `postern passwd add`, mynetworks = 127.0.0.1/32 and clients
from 127.0.0.2 (outside mynetworks) relaying to a foreign domain, which
default_transport = capture keeps on this host.

Each test drives a real client: seed 002's `openssl s_client -starttls
smtp` session, swaks, smtplib with a verifying context, msmtp, curl and
s-nail; then the refusals (no AUTH before TLS, relay denied without AUTH,
aborted STARTTLS, failed AUTH) and what the log and the Received: header
say (never the password)."""

import re
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import free_port, wait_for_maildir
from test_clients import need, run
from test_submission_auth import (FOREIGN, OUTSIDER, PASSWORD, PLAIN_IR, USER,  # noqa: F401
                                  assert_no_secret, assert_nothing_queued, b64, users)
from test_auth import base  # noqa: F401 (fixture used by users)
from test_tls_server import client_ctx, tls_files
from upstream import test_ca  # noqa: F401

SENDER = "sentry@postern.test"
TLS_LINE = (r"Anonymous TLS connection established from unknown\[127\.0\.0\.2\]: "
            r"TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)")


@pytest.fixture
def sub(make_postern, tmp_path, test_ca, users):  # noqa: F811
    """factory(verbose=False, **settings) -> (daemon, ports) with the three
    listeners and AUTH enabled, smtpd_tls_auth_only left at its default."""
    def factory(verbose=False, **settings):
        cert, key = tls_files(tmp_path, test_ca)
        ports = {"smtp": free_port(), "submission": free_port(), "submissions": free_port()}
        s = dict(listen=(f"smtp://127.0.0.1:{ports['smtp']}, "
                         f"submission://127.0.0.1:{ports['submission']}, "
                         f"submissions://127.0.0.1:{ports['submissions']}"),
                 smtpd_tls_cert_file=str(cert), smtpd_tls_key_file=str(key),
                 smtpd_tls_loglevel="1", smtpd_sasl_auth_enable="yes",
                 smtpd_sasl_users=str(users), mynetworks="127.0.0.1/32")
        s.update(settings)
        p = make_postern(start=False, **s)
        p.port = ports["smtp"]
        p.start(verbose=verbose)
        return p, ports
    return factory


def delivered(p, rcpt, n=1):
    """The n messages captured for rcpt (bytes), once each is final."""
    return [open(f, "rb").read() for f in p.wait_for_maildir(rcpt, n)]


def assert_submitted(msg):
    assert re.search(rb"\n\tby mx\.postern\.test \(postern\) with ESMTPSA id [0-9A-F]{16}", msg), \
        msg[:600]


def tls_expect(tls, line, code):
    """Send a command over an ssl socket; return the reply lines once the
    last one (code + space) has come."""
    tls.sendall(line.encode() + b"\r\n")
    data = b""
    while True:
        d = tls.recv(4096)
        assert d, f"closed after {line!r}; got {data!r}"
        data += d
        lines = data.split(b"\r\n")
        if data.endswith(b"\r\n") and re.match(rb"\d{3} ", lines[-2]):
            break
    got = lines[:-1]
    assert got[-1].startswith(b"%d " % code), (line, got)
    return [x.decode() for x in got]


# --------------------------------------------------------------------------
# 1. seed 002


def test_seed002_openssl_s_client_auth_plain(sub, test_ca):  # noqa: F811
    """Seed 002 as written: `openssl s_client -quiet -starttls smtp -connect
    HOST:587`, then EHLO, AUTH PLAIN <base64>, and a message to a foreign
    domain. s_client cannot bind a source address: the client is
    127.0.0.1, in mynetworks, so relaying alone would pass -- the test
    proves the AUTH by the 235 and the ESMTPSA/sasl_username it leaves."""
    p, ports = sub()
    rcpt = "seed002@gmail.example"
    dialogue = (f"EHLO seed002.example\r\nAUTH PLAIN {PLAIN_IR}\r\n"
                f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"
                "Subject: seed 002\r\n\r\nvia s_client\r\n.\r\nQUIT\r\n")
    r = subprocess.run(["openssl", "s_client", "-quiet", "-starttls", "smtp",
                        "-connect", f"127.0.0.1:{ports['submission']}"],
                       input=dialogue.encode(), capture_output=True, timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    assert "235 2.7.0 Authentication successful" in out, (out, r.stderr[-2000:])
    assert "250 2.0.0 Ok: queued as" in out, out
    assert "221 2.0.0 Bye" in out, out
    [msg] = delivered(p, rcpt)
    assert_submitted(msg)
    p.wait_log(r"client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=sentry$",
               flags=re.M)
    assert_no_secret(p)


# --------------------------------------------------------------------------
# 2. swaks


def test_swaks_plain_starttls_and_login_implicit(sub):
    swaks = need("swaks")
    p, ports = sub()
    for mech, flag, port in (("PLAIN", "--tls", ports["submission"]),
                             ("LOGIN", "--tlsc", ports["submissions"])):
        rcpt = f"swaks-{mech.lower()}@relay-target.example"
        r = subprocess.run([swaks, "--server", f"127.0.0.1:{port}", flag,
                            "--local-interface", "127.0.0.2", "--auth", mech,
                            "--auth-user", USER, "--auth-password", PASSWORD,
                            "--from", SENDER, "--to", rcpt, "--ehlo", "client.example",
                            "--timeout", "20"],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if "TLS not available" in r.stdout + r.stderr:
            pytest.fail("swaks has no TLS: make test-deps (libnet-ssleay-perl)")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "235 2.7.0 Authentication successful" in r.stdout, r.stdout
        [msg] = delivered(p, rcpt)
        assert_submitted(msg)
        p.wait_log(rf"client=unknown\[127\.0\.0\.2\], sasl_method={mech}, "
                   rf"sasl_username={USER}$", flags=re.M)
    assert_no_secret(p)


# --------------------------------------------------------------------------
# 3. smtplib, verifying


def test_smtplib_starttls_login_and_smtp_ssl_login(sub, test_ca):  # noqa: F811
    p, ports = sub()
    ctx = client_ctx(test_ca)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    rcpt = "smtplib@relay-target.example"
    with smtplib.SMTP("localhost", ports["submission"], timeout=10,
                      source_address=OUTSIDER) as s:
        s.ehlo("client.example")
        assert not s.has_extn("auth")
        s.starttls(context=ctx)
        s.ehlo("client.example")
        assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        assert s.login(USER, PASSWORD) == (235, b"2.7.0 Authentication successful")
        assert s.sendmail(SENDER, [rcpt], b"Subject: starttls\r\n\r\nx\r\n") == {}
    with smtplib.SMTP_SSL("localhost", ports["submissions"], context=ctx, timeout=10,
                          source_address=OUTSIDER) as s:
        s.ehlo("client.example")
        assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        s.login(USER, PASSWORD)
        assert s.sendmail(SENDER, [rcpt], b"Subject: implicit\r\n\r\nx\r\n") == {}
    for msg in delivered(p, rcpt, 2):
        assert_submitted(msg)
    # a client that checks the name refuses a certificate for another one
    with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=10) as s:
        s.ehlo("client.example")
        with pytest.raises(ssl.SSLCertVerificationError):
            s.starttls(context=ssl.create_default_context())   # not trusting the test CA
    assert_no_secret(p)


# --------------------------------------------------------------------------
# 4. msmtp, curl, s-nail


def test_msmtp_starttls_and_implicit(sub, test_ca, tmp_path):  # noqa: F811
    msmtp = need("msmtp")
    p, ports = sub()
    rcpt = "msmtp@relay-target.example"
    pwfile = tmp_path / "pw"
    pwfile.write_text(PASSWORD + "\n")
    for starttls, port in (("on", ports["submission"]), ("off", ports["submissions"])):
        r = run([msmtp, "--file=/dev/null", "--host=localhost", f"--port={port}",
                 "--source-ip=127.0.0.2", "--tls=on", f"--tls-starttls={starttls}",
                 f"--tls-trust-file={test_ca.ca}", "--auth=on", f"--user={USER}",
                 f"--passwordeval=cat {pwfile}", "--domain=client.example",
                 f"--from={SENDER}", rcpt], tmp_path,
                input=f"Subject: msmtp starttls={starttls}\n\nbody\n".encode())
        out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
        assert r.returncode == 0, f"msmtp (tls_starttls {starttls}) exited {r.returncode}:\n{out}"
    for msg in delivered(p, rcpt, 2):
        assert_submitted(msg)
    assert p.log_count(r"client=unknown\[127\.0\.0\.2\], sasl_method=\S+, "
                       r"sasl_username=sentry$") == 2
    assert_no_secret(p)


def test_curl_starttls_and_smtps(sub, test_ca, tmp_path):  # noqa: F811
    curl = need("curl")
    p, ports = sub()
    rcpt = "curl@relay-target.example"
    for url, extra in ((f"smtp://localhost:{ports['submission']}", ["--ssl-reqd"]),
                       (f"smtps://localhost:{ports['submissions']}", [])):
        r = run([curl, "-sS", "--url", url, *extra, "--cacert", test_ca.ca,
                 "--interface", "127.0.0.2", "--user", f"{USER}:{PASSWORD}",
                 "--mail-from", SENDER, "--mail-rcpt", rcpt, "--upload-file", "-",
                 "--max-time", "20"], tmp_path, input=b"Subject: curl\r\n\r\nhi\r\n")
        assert r.returncode == 0, (url, r.stderr.decode("utf-8", "replace"))
    for msg in delivered(p, rcpt, 2):
        assert_submitted(msg)
    assert_no_secret(p)


def test_s_nail_smtp_auth_starttls(sub, test_ca, tmp_path):  # noqa: F811
    snail = need("s-nail")
    p, ports = sub()
    rcpt = "snail@relay-target.example"
    r = run([snail, "-n", "-#", "-S", "v15-compat=yes",
             "-S", f"mta=smtp://{USER}@localhost:{ports['submission']}",
             "-S", "smtp-use-starttls", "-S", "smtp-auth=plain",
             "-S", f"password={PASSWORD}",
             "-S", f"tls-ca-file={test_ca.ca}", "-S", "tls-ca-no-defaults",
             "-S", "hostname=client.example", "-S", "nosave",
             "-S", f"DEAD={tmp_path}/dead.letter",
             "-s", "s-nail submission", "-r", SENDER, rcpt],
            tmp_path, input=b"body\n")
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, f"s-nail exited {r.returncode}:\n{out}"
    [msg] = delivered(p, rcpt)
    assert_submitted(msg)
    p.wait_log(r"sasl_method=PLAIN, sasl_username=sentry$", flags=re.M)
    assert_no_secret(p)


# --------------------------------------------------------------------------
# 5. AUTH only after TLS


def test_auth_offered_only_after_starttls(sub, test_ca):  # noqa: F811
    p, ports = sub()
    with p.raw(source_address=OUTSIDER, port=ports["submission"]) as r:
        assert r.read_reply().code == 220
        e = r.expect("EHLO client.example", 250)
        assert "250-STARTTLS" in e.lines, e.lines
        assert not any("AUTH" in x for x in e.lines), e.lines
        r.expect("AUTH PLAIN " + PLAIN_IR, 538, "5.7.11",
                 "538 5.7.11 Encryption required for requested authentication mechanism")
        r.expect("AUTH LOGIN", 538, "5.7.11")
        r.expect("STARTTLS", 220)
        tls = client_ctx(test_ca).wrap_socket(r.sock, server_hostname="localhost")
        tls.settimeout(10)
        lines = tls_expect(tls, "EHLO client.example", 250)
        assert "250-AUTH PLAIN LOGIN" in lines, lines
        assert not any("STARTTLS" in x for x in lines), lines
        tls_expect(tls, "AUTH PLAIN " + PLAIN_IR, 235)
        tls_expect(tls, "QUIT", 221)
        tls.close()
    # the smtp:// listener behaves the same (STARTTLS at level may)
    with p.raw(source_address=OUTSIDER, port=ports["smtp"]) as r:
        r.read_reply()
        e = r.expect("EHLO client.example", 250)
        assert not any("AUTH" in x for x in e.lines), e.lines
        r.expect("AUTH PLAIN " + PLAIN_IR, 538, "5.7.11")
    assert_nothing_queued(p)
    assert_no_secret(p)


# --------------------------------------------------------------------------
# 6. refusals


def test_relay_denied_without_auth_over_tls(sub, test_ca):  # noqa: F811
    p, ports = sub()
    ctx = client_ctx(test_ca)
    for kind, port in (("starttls", ports["submission"]), ("implicit", ports["submissions"])):
        if kind == "starttls":
            s = smtplib.SMTP("localhost", port, timeout=10, source_address=OUTSIDER)
            s.ehlo("client.example")
            s.starttls(context=ctx)
        else:
            s = smtplib.SMTP_SSL("localhost", port, context=ctx, timeout=10,
                                 source_address=OUTSIDER)
        s.ehlo("client.example")
        assert s.mail(SENDER)[0] == 250
        assert s.rcpt(FOREIGN) == (554, f"5.7.1 <{FOREIGN}>: Relay access denied".encode())
        s.quit()
    p.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 "
               rf"<{FOREIGN}>: Relay access denied; from=<{SENDER}> to=<{FOREIGN}> "
               r"proto=ESMTPS helo=<client\.example>")    # RFC 3848 name, as Received:
    assert_nothing_queued(p)


def test_aborted_starttls_keeps_the_daemon_serving(sub, test_ca):  # noqa: F811
    p, ports = sub()
    # STARTTLS, then the TCP connection closed with no handshake
    with p.raw(source_address=OUTSIDER, port=ports["submission"]) as r:
        r.read_reply()
        r.expect("EHLO client.example", 250)
        r.expect(f"MAIL FROM:<{SENDER}>", 250)
        r.expect("STARTTLS", 220)
    # STARTTLS, then plaintext garbage where the ClientHello should be
    with p.raw(source_address=OUTSIDER, port=ports["submission"]) as r:
        r.read_reply()
        r.expect("EHLO client.example", 250)
        r.expect("STARTTLS", 220)
        r.send(b"MAIL FROM:<x@y>\r\nRCPT TO:<" + FOREIGN.encode() + b">\r\n" + b"\x16\x03" * 200)
        assert r.wait_closed(10), "the daemon kept a failed handshake open"
        assert not r.buf.startswith(b"250"), r.buf
    # the same on the implicit-TLS port: garbage instead of a handshake
    with socket.create_connection(("127.0.0.1", ports["submissions"]), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello" + b"\0" * 100)
        while s.recv(4096):
            pass
    p.wait_log(r"SSL_accept error from unknown\[127\.0\.0\.2\]: ")
    p.wait_sessions_over()
    # still serving: a full authenticated submission goes through
    rcpt = "after-abort@relay-target.example"
    with smtplib.SMTP("localhost", ports["submission"], timeout=10,
                      source_address=OUTSIDER) as s:
        s.ehlo("client.example")
        s.starttls(context=client_ctx(test_ca))
        s.ehlo("client.example")
        s.login(USER, PASSWORD)
        assert s.sendmail(SENDER, [rcpt], b"Subject: after\r\n\r\nx\r\n") == {}
    [msg] = delivered(p, rcpt)
    assert_submitted(msg)
    # and the aborted sessions queued nothing: one message in all
    assert p.log_count(r": client=unknown\[") == 1
    assert not (p.mail_dir / FOREIGN).exists()
    assert p.running


def test_failed_auth_over_tls_then_relay_denied(sub, test_ca):  # noqa: F811
    p, ports = sub()
    with smtplib.SMTP("localhost", ports["submission"], timeout=10,
                      source_address=OUTSIDER) as s:
        s.ehlo("client.example")
        s.starttls(context=client_ctx(test_ca))
        s.ehlo("client.example")
        assert s.docmd("AUTH", "PLAIN " + b64(f"\0{USER}\0{PASSWORD}x")) == (
            535, b"5.7.8 Authentication credentials invalid")
        assert s.docmd("AUTH", "LOGIN " + b64(USER))[0] == 334
        assert s.docmd(b64("wrong"))[0] == 535
        assert s.mail(SENDER)[0] == 250
        assert s.rcpt(FOREIGN) == (554, f"5.7.1 <{FOREIGN}>: Relay access denied".encode())
        s.quit()
    p.wait_log(r"warning: unknown\[127\.0\.0\.2\]: SASL PLAIN authentication failed: "
               r"wrong password")
    assert_nothing_queued(p)
    assert_no_secret(p)


# --------------------------------------------------------------------------
# 7. log and Received:


def test_log_and_received_verbose_without_password(sub, test_ca):  # noqa: F811
    p, ports = sub(verbose=True)
    rcpt = "logged@relay-target.example"
    with smtplib.SMTP("localhost", ports["submission"], timeout=10,
                      source_address=OUTSIDER) as s:
        s.ehlo("client.example")
        s.starttls(context=client_ctx(test_ca))
        s.ehlo("client.example")
        # a wrong password first, then LOGIN (name and password as separate
        # responses), then PLAIN on the implicit port below
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login(USER, PASSWORD + "!")
        s.user, s.password = USER, PASSWORD
        assert s.auth("LOGIN", s.auth_login, initial_response_ok=False)[0] == 235
        assert s.sendmail(SENDER, [rcpt], b"Subject: login\r\n\r\nx\r\n") == {}
    with smtplib.SMTP_SSL("localhost", ports["submissions"], context=client_ctx(test_ca),
                          timeout=10, source_address=OUTSIDER) as s:
        s.ehlo("client.example")
        assert s.docmd("AUTH", "PLAIN " + PLAIN_IR)[0] == 235
        assert s.sendmail(SENDER, [rcpt], b"Subject: plain\r\n\r\nx\r\n") == {}
    msgs = delivered(p, rcpt, 2)
    for msg in msgs:
        assert_submitted(msg)
        m = re.search(rb"\n\t\(using (TLSv1\.3) with cipher \S+ \(\d+/\d+ bits\)\)\n", msg)
        assert m, msg[:600]
        assert PASSWORD.encode() not in msg
    p.wait_log(r"client=unknown\[127\.0\.0\.2\], sasl_method=LOGIN, sasl_username=sentry$",
               flags=re.M)
    p.wait_log(r"client=unknown\[127\.0\.0\.2\], sasl_method=PLAIN, sasl_username=sentry$",
               flags=re.M)
    assert len(p.wait_log_count(TLS_LINE, 2)) >= 2
    p.wait_sessions_over()
    log = p.log()
    for secret in (PASSWORD, b64(PASSWORD), PLAIN_IR, b64(PASSWORD + "!"),
                   b64(f"\0{USER}\0{PASSWORD}!"), b64(f"{USER}\0{USER}\0{PASSWORD}")):
        assert secret not in log, f"{secret!r} in the log:\n{log[-3000:]}"
    assert "<redacted>" in log
