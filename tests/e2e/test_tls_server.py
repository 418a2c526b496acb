"""The SMTP server's TLS (issue #11): STARTTLS on smtp:// and submission://
listeners, implicit TLS on submissions://, smtpd_tls_security_level =
encrypt, the key handed over by the privileged parent, and a certificate
renewed with SIGHUP.

Certificates come from the test CA made at test time (upstream.py's test_ca:
server.pem for CN localhost, signed by ca.pem); a second pair for the
renewal is made here with the same openssl CLI.
"""

import hashlib
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import CLIENT_HELO, LOCAL_DOMAIN, free_port, have_ipv6_loopback, run_check
from upstream import test_ca  # noqa: F401

RCPT = f"alice@{LOCAL_DOMAIN}"
MSG = b"Subject: tls\r\n\r\nover TLS\r\n"


def tls_files(base, ca, name="tls"):
    """Copies of the test CA's server certificate and key under base
    (the key 0600): the daemon's own files, which a test may replace."""
    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    shutil.copyfile(ca.cert, cert)
    shutil.copyfile(ca.key, key)
    os.chmod(cert, 0o644)
    os.chmod(key, 0o600)
    return cert, key


def new_pair(ca, d, cn):
    """A fresh key and a certificate for it signed by the test CA."""
    d.mkdir(parents=True, exist_ok=True)
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, timeout=60,  # noqa: E731
                                    stdin=subprocess.DEVNULL, capture_output=True)
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "key.pem", "-out", "req.csr", "-subj", f"/CN={cn}")
    ext = d / "ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "req.csr", "-CA", ca.ca, "-CAkey", os.path.join(ca.dir, "ca.key"),
        "-CAcreateserial", "-CAserial", str(d / "ca.srl"), "-out", "cert.pem", "-days", "2",
        "-extfile", str(ext))
    os.chmod(d / "key.pem", 0o600)
    return d / "cert.pem", d / "key.pem"


def client_ctx(ca):
    """Verifies postern's certificate against the test CA (name localhost)."""
    return ssl.create_default_context(cafile=ca.ca)


def fingerprint_file(path):
    pem = open(path).read()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def fingerprint_conn(sslsock):
    return hashlib.sha256(sslsock.getpeercert(binary_form=True)).hexdigest()


@pytest.fixture
def tls_postern(make_postern, tmp_path, test_ca):  # noqa: F811
    """A daemon with smtp:// (level may), submission:// and submissions://
    listeners; returns (daemon, ports dict)."""
    def factory(level="may", **settings):
        cert, key = tls_files(tmp_path, test_ca)
        ports = {"smtp": free_port(), "submission": free_port(), "submissions": free_port()}
        listen = (f"smtp://127.0.0.1:{ports['smtp']}, "
                  f"submission://127.0.0.1:{ports['submission']}, "
                  f"submissions://127.0.0.1:{ports['submissions']}")
        merged = dict(listen=listen, smtpd_tls_cert_file=str(cert),
                      smtpd_tls_key_file=str(key), smtpd_tls_security_level=level,
                      smtpd_tls_loglevel="1")
        merged.update(settings)
        p = make_postern(**merged)
        p.port = ports["smtp"]
        return p, ports
    return factory


def received_of(p, n=1):
    p.wait_for_maildir(RCPT, n)
    return p.messages(RCPT)


# --------------------------------------------------------------------------
# clients


def test_smtplib_starttls_and_smtp_ssl(tls_postern, test_ca):  # noqa: F811
    p, ports = tls_postern()
    ctx = client_ctx(test_ca)
    with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=10) as s:
        code, resp = s.ehlo(CLIENT_HELO)
        assert code == 250 and b"STARTTLS" in resp.split(b"\n"), resp
        code, resp = s.starttls(context=ctx)
        assert (code, resp) == (220, b"2.0.0 Ready to start TLS")
        code, resp = s.ehlo(CLIENT_HELO)
        assert code == 250 and b"STARTTLS" not in resp, resp
        assert s.sendmail("bob@example.org", [RCPT], MSG) == {}
    with smtplib.SMTP_SSL("127.0.0.1", ports["submissions"], context=ctx, timeout=10) as s:
        code, resp = s.ehlo(CLIENT_HELO)
        assert code == 250 and b"STARTTLS" not in resp, resp
        assert s.sendmail("bob@example.org", [RCPT], MSG) == {}
    msgs = received_of(p, 2)
    for m in msgs:
        text = m.decode() if isinstance(m, bytes) else str(m)
        assert "with ESMTPS id" in text, text
        assert "\t(using TLSv1." in text and " with cipher " in text, text
    p.wait_log(r"Anonymous TLS connection established from unknown\[127\.0\.0\.1\]: "
               r"TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)")


def test_openssl_s_client_starttls(tls_postern, test_ca):  # noqa: F811
    """Seed 002: openssl s_client -starttls smtp sends a message."""
    p, ports = tls_postern()
    dialogue = (f"EHLO {CLIENT_HELO}\r\nMAIL FROM:<bob@example.org>\r\nRCPT TO:<{RCPT}>\r\n"
                "DATA\r\nSubject: s_client\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    r = subprocess.run(["openssl", "s_client", "-quiet", "-starttls", "smtp", "-CAfile",
                        test_ca.ca, "-verify_return_error", "-connect",
                        f"127.0.0.1:{ports['smtp']}"],
                       input=dialogue.encode(), capture_output=True, timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    assert "250 2.0.0 Ok: queued as" in out, (out, r.stderr[-2000:])
    assert "221 2.0.0 Bye" in out, out
    text = received_of(p)[0]
    text = text.decode() if isinstance(text, bytes) else str(text)
    assert "with ESMTPS id" in text, text


def test_swaks_tls_and_tlsc(tls_postern, test_ca):  # noqa: F811
    p, ports = tls_postern()
    for flag, port in (("--tls", ports["submission"]), ("--tlsc", ports["submissions"])):
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", flag, "--helo", CLIENT_HELO,
                            "--from", "bob@example.org", "--to", RCPT, "--timeout", "20"],
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        out = r.stdout.decode("utf-8", "replace")
        if "TLS not available" in out:
            pytest.fail("swaks has no TLS: apt-get install libnet-ssleay-perl "
                        "libio-socket-ssl-perl (make test-deps)")
        assert r.returncode == 0, out
        assert "250 2.0.0 Ok: queued as" in out, out
        assert "TLS started" in out, out
    received_of(p, 2)


def test_curl_smtps_and_starttls(tls_postern, test_ca, tmp_path):  # noqa: F811
    p, ports = tls_postern()
    body = tmp_path / "mail.txt"
    body.write_bytes(b"Subject: curl\r\n\r\nfrom curl\r\n")
    for url, extra in ((f"smtps://127.0.0.1:{ports['submissions']}", []),
                       (f"smtp://127.0.0.1:{ports['submission']}", ["--ssl-reqd"])):
        r = subprocess.run(["curl", "-sS", "--cacert", test_ca.ca, "--url", url, *extra,
                            "--mail-from", "bob@example.org", "--mail-rcpt", RCPT,
                            "--upload-file", str(body), "--max-time", "20",
                            "--resolve", "localhost:0:127.0.0.1"],
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    received_of(p, 2)


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_submission_listener(make_postern, tmp_path, test_ca):  # noqa: F811
    cert, key = tls_files(tmp_path, test_ca)
    port = free_port("::1")
    p = make_postern(listen=f"smtp://127.0.0.1:{free_port()}, submission://[::1]:{port}",
                     smtpd_tls_cert_file=str(cert), smtpd_tls_key_file=str(key))
    ctx = client_ctx(test_ca)
    ctx.check_hostname = False      # the certificate names 127.0.0.1, not ::1
    with smtplib.SMTP("::1", port, timeout=10) as s:
        s.ehlo(CLIENT_HELO)
        assert s.starttls(context=ctx)[0] == 220
        assert s.sendmail("bob@example.org", [RCPT], MSG) == {}
    received_of(p)
    p.wait_log(r"connect from unknown\[::1\]")


# --------------------------------------------------------------------------
# protocol


def test_starttls_injection_is_discarded(tls_postern, test_ca):  # noqa: F811
    """CVE-2011-0411: plaintext pipelined after STARTTLS must not be answered
    as if it had come through TLS."""
    p, ports = tls_postern()
    c = p.raw(port=ports["submission"])
    assert c.read_reply().code == 220
    c.send(f"EHLO {CLIENT_HELO}\r\n")
    assert c.read_reply().code == 250
    c.send("STARTTLS\r\nRSET\r\n")          # one write
    r = c.read_reply()
    assert r.lines == ["220 2.0.0 Ready to start TLS"], r.lines
    assert c.buf == b"", f"more than the 220 before the handshake: {c.buf!r}"
    tls = client_ctx(test_ca).wrap_socket(c.sock, server_hostname="localhost")
    tls.settimeout(10)
    tls.sendall(f"EHLO {CLIENT_HELO}\r\n".encode())
    data = b""
    while not data.endswith(b"\r\n") or b"250 " not in data:
        d = tls.recv(4096)
        assert d, f"connection closed; got {data!r}"
        data += d
    # the first reply through TLS is the EHLO's, not an "Ok" for the RSET
    assert data.startswith(b"250-mx.postern.test\r\n"), data
    assert b"2.0.0 Ok" not in data, data
    tls.sendall(b"QUIT\r\n")
    assert tls.recv(4096).startswith(b"221 ")
    tls.close()


def test_starttls_resets_the_session(tls_postern, test_ca):  # noqa: F811
    """After STARTTLS the transaction and the HELO name are gone: MAIL waits
    for a new EHLO, STARTTLS again is refused."""
    p, ports = tls_postern()
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as s:
        s.ehlo(CLIENT_HELO)
        assert s.mail("bob@example.org")[0] == 250
        assert s.starttls(context=client_ctx(test_ca))[0] == 220
        assert s.docmd("MAIL FROM:<bob@example.org>") == (
            503, b"5.5.1 Error: send HELO/EHLO first")
        assert s.docmd("STARTTLS") == (554, b"5.5.1 Error: TLS already active")
        assert s.ehlo("again.example")[0] == 250
        # the transaction begun in plaintext is gone: MAIL is not "nested"
        assert s.mail("bob@example.org")[0] == 250
        assert s.rcpt(RCPT)[0] == 250
        assert s.data(MSG)[0] == 250
    text = received_of(p)[0]
    text = text.decode() if isinstance(text, bytes) else str(text)
    assert "Received: from again.example " in text, text


def test_starttls_not_offered(make_postern):
    """Without TLS configured: no STARTTLS in EHLO, 502 as Postfix."""
    p = make_postern()
    with p.smtp() as s:
        code, resp = s.ehlo(CLIENT_HELO)
        assert b"STARTTLS" not in resp
        assert s.docmd("STARTTLS") == (502, b"5.5.1 Error: command not implemented")


def test_smtp_listener_level_none_offers_nothing(tls_postern):
    """smtp:// follows smtpd_tls_security_level (none: not offered), while
    submission:// on the same daemon offers STARTTLS."""
    p, ports = tls_postern(level="none")
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as s:
        assert b"STARTTLS" not in s.ehlo(CLIENT_HELO)[1]
    with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=10) as s:
        assert b"STARTTLS" in s.ehlo(CLIENT_HELO)[1]


def test_encrypt_requires_starttls(tls_postern, test_ca):  # noqa: F811
    p, ports = tls_postern(level="encrypt")
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as s:
        assert b"STARTTLS" in s.ehlo(CLIENT_HELO)[1]
        assert s.docmd("MAIL FROM:<bob@example.org>") == (
            530, b"5.7.0 Must issue a STARTTLS command first")
        assert s.docmd("NOOP")[0] == 250
        s.starttls(context=client_ctx(test_ca))
        s.ehlo(CLIENT_HELO)
        assert s.sendmail("bob@example.org", [RCPT], MSG) == {}
    received_of(p)


def test_handshake_failure_is_logged_and_closed(tls_postern):
    """Plaintext on the implicit-TLS port: no reply, a log line, closed."""
    p, ports = tls_postern()
    with socket.create_connection(("127.0.0.1", ports["submissions"]), timeout=10) as s:
        s.sendall(b"EHLO client.example\r\n")
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        assert not data.startswith(b"220"), data
    p.wait_log(r"SSL_accept error from unknown\[127\.0\.0\.1\]: ")
    p.wait_log(r"lost connection after CONNECT from unknown\[127\.0\.0\.1\]")


# --------------------------------------------------------------------------
# the key and the certificate


def test_world_readable_key_refused_at_start(make_postern, tmp_path, test_ca):  # noqa: F811
    cert, key = tls_files(tmp_path, test_ca)
    os.chmod(key, 0o644)
    p = make_postern(start=False, listen=f"submission://127.0.0.1:{free_port()}",
                     smtpd_tls_cert_file=str(cert), smtpd_tls_key_file=str(key))
    p.start(wait=False)
    p.proc.wait(timeout=20)
    assert p.proc.returncode != 0
    assert f"{key} is readable by group or others (mode 0644): chmod 600 {key}" in p.log()
    assert "PRIVATE KEY" not in p.log()


def test_check_reports_a_mismatched_pair(tmp_path, test_ca):  # noqa: F811
    cert, _ = tls_files(tmp_path, test_ca)
    _, other_key = new_pair(test_ca, tmp_path / "other", "other")
    cf = tmp_path / "postern.cf"
    cf.write_text(f"listen = submissions://127.0.0.1:{free_port()}\n"
                  f"queue_directory = {tmp_path}/q\ncapture_directory = {tmp_path}/m\n"
                  f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {other_key}\n")
    r = run_check(cf)
    assert r.returncode != 0
    assert (f"{other_key}: the private key does not match the certificate in {cert}"
            in r.stdout + r.stderr), r.stdout + r.stderr
    # a TLS listener without a certificate names the listener and the fix
    cf.write_text(f"listen = submission://127.0.0.1:{free_port()}\n"
                  f"queue_directory = {tmp_path}/q\ncapture_directory = {tmp_path}/m\n")
    r = run_check(cf)
    assert r.returncode != 0
    assert "needs a certificate: set smtpd_tls_cert_file" in r.stdout + r.stderr


def test_sighup_renews_the_certificate(tls_postern, test_ca, tmp_path):  # noqa: F811
    """A TLS session open across the reload carries on with the old
    certificate; a new connection gets the new one; a bad pair on a later
    reload keeps the new one in force."""
    p, ports = tls_postern()
    cert = p.settings["smtpd_tls_cert_file"]
    key = p.settings["smtpd_tls_key_file"]
    old_fp = fingerprint_file(cert)
    ctx = client_ctx(test_ca)

    s = smtplib.SMTP("127.0.0.1", ports["submission"], timeout=10)
    s.ehlo(CLIENT_HELO)
    s.starttls(context=ctx)
    s.ehlo(CLIENT_HELO)
    assert fingerprint_conn(s.sock) == old_fp

    new_cert, new_key = new_pair(test_ca, tmp_path / "renewed", "localhost")
    shutil.copyfile(new_cert, cert)
    shutil.copyfile(new_key, key)
    new_fp = fingerprint_file(cert)
    assert new_fp != old_fp
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload: configuration ")

    # the open session goes on
    assert s.sendmail("bob@example.org", [RCPT], MSG) == {}
    s.quit()
    # a new one sees the new certificate, on both TLS listeners
    with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=10) as s2:
        s2.ehlo(CLIENT_HELO)
        s2.starttls(context=ctx)
        assert fingerprint_conn(s2.sock) == new_fp
    with smtplib.SMTP_SSL("127.0.0.1", ports["submissions"], context=ctx, timeout=10) as s3:
        assert fingerprint_conn(s3.sock) == new_fp
    received_of(p)

    # a key that does not match: the reload fails, the running pair stays
    _, stray_key = new_pair(test_ca, tmp_path / "stray", "localhost")
    shutil.copyfile(stray_key, key)
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload failed, keeping the running configuration: .*"
               r"the private key does not match the certificate")
    with smtplib.SMTP_SSL("127.0.0.1", ports["submissions"], context=ctx, timeout=10) as s4:
        assert fingerprint_conn(s4.sock) == new_fp
