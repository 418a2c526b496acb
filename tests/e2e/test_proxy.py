"""PROXY protocol (smtpd_upstream_proxy_protocol = haproxy): a real HAProxy
in front of postern with send-proxy (v1) and send-proxy-v2, and raw headers
written by the test. The client address the header names is the one
mynetworks, the restrictions and the logs use; only a proxy in
smtpd_upstream_proxy_networks may send one; a bad header or none gets no
greeting."""
import shutil
import socket
import subprocess
import time

import pytest

from conftest import (RawSMTP, free_port, wait_until, LOCAL_DOMAIN, read_messages,
                      wait_for_maildir)

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

PROXY_SETTINGS = {
    "mynetworks": "127.0.0.1/32",
    "smtpd_upstream_proxy_protocol": "haproxy",
    "smtpd_upstream_proxy_networks": "127.0.0.1/32",
    "smtpd_upstream_proxy_timeout": "1s",
}


def start_proxied(make_postern, **extra):
    settings = dict(PROXY_SETTINGS)
    settings.update(extra)
    p = make_postern(start=False, **settings)
    # no greeting without a header: wait for the daemon, not for a 220
    p.start(wait=False)
    p.wait_log(r"daemon started")
    return p


@pytest.fixture
def haproxy(tmp_path):
    """Start HAProxy in the foreground with its own config: haproxy(port)
    -> (v1 port, v2 port)."""
    procs = []

    def start(backend_port):
        v1, v2 = free_port(), free_port()
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(f"""global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fv1
    bind 127.0.0.1:{v1}
    default_backend bv1
backend bv1
    server postern 127.0.0.1:{backend_port} send-proxy
frontend fv2
    bind 127.0.0.1:{v2}
    default_backend bv2
backend bv2
    server postern 127.0.0.1:{backend_port} send-proxy-v2
""")
        errp = open(tmp_path / "haproxy.log", "wb")
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdin=subprocess.DEVNULL,
                                stdout=errp, stderr=errp, start_new_session=True)
        procs.append((proc, errp))

        def listening():
            assert proc.poll() is None, (tmp_path / "haproxy.log").read_text()
            for port in (v1, v2):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except OSError:
                    return False
            return True
        wait_until(listening, "haproxy listening")
        return v1, v2

    yield start
    for proc, errp in procs:
        proc.terminate()
        proc.wait(10)
        errp.close()


def relay_attempt(port, source):
    with RawSMTP("127.0.0.1", port, source_address=(source, 0)) as c:
        r = c.read_reply()
        assert r.code == 220, r
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<a@example.org>", 250)
        r = c.cmd("RCPT TO:<b@example.net>")
        c.cmd("QUIT")
        return r


@pytest.mark.parametrize("version", [1, 2])
def test_haproxy_client_address(make_postern, haproxy, version):
    p = start_proxied(make_postern)
    ports = haproxy(p.port)
    port = ports[version - 1]
    # from 127.0.0.2: outside mynetworks although the proxy is 127.0.0.1
    r = relay_attempt(port, "127.0.0.2")
    assert r.code == 554 and r.enh == "5.7.1", r
    p.wait_log(r"connect from unknown\[127\.0\.0\.2\]")
    p.wait_log(r"reject: RCPT from unknown\[127\.0\.0\.2\]")
    # from 127.0.0.1: in mynetworks, relaying permitted
    r = relay_attempt(port, "127.0.0.1")
    assert r.code == 250, r


def test_header_and_command_in_one_read(make_postern):
    p = start_proxied(make_postern)
    with RawSMTP("127.0.0.1", p.port) as c:
        c.send(b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 25\r\nEHLO x\r\n")
        assert c.read_reply().code == 220
        r = c.read_reply()
        assert r.code == 250, r
        c.expect(f"MAIL FROM:<a@{LOCAL_DOMAIN}>", 250)
        r = c.cmd("RCPT TO:<b@example.net>")
        assert r.code == 554, r
        c.expect(f"RCPT TO:<b@{LOCAL_DOMAIN}>", 250)
        c.expect("DATA", 354)
        c.expect(b"Subject: proxied\r\n\r\nHello.\r\n.\r\n", 250)
        c.cmd("QUIT")
    p.wait_log(r"connect from unknown\[127\.0\.0\.9\]")
    wait_for_maildir(p.mail_dir, f"b@{LOCAL_DOMAIN}", 1)
    (msg,) = read_messages(p.mail_dir, f"b@{LOCAL_DOMAIN}")
    assert b"\nReceived: from x (unknown [127.0.0.9])" in msg, msg[:400]
    assert b"127.0.0.1" not in msg.split(b"Subject:", 1)[0], msg[:400]


def test_header_from_outside_proxy_networks_refused(make_postern):
    p = start_proxied(make_postern)
    with RawSMTP("127.0.0.1", p.port, source_address=("127.0.0.3", 0)) as c:
        c.send(b"PROXY TCP4 127.0.0.1 127.0.0.1 40000 25\r\n")
        assert c.wait_closed(5)
        assert c.buf == b"", c.buf
    p.wait_log(r"connect from unknown\[127\.0\.0\.3\]: not in smtpd_upstream_proxy_networks")
    assert "connect from unknown[127.0.0.1]" not in p.log()


@pytest.mark.parametrize("header", [
    b"PROXY TCP4 bogus\r\n",
    b"EHLO x\r\n",
    b"PROXY TCP4 127.0.0.1 127.0.0.1 1 2 3 4 5 6 7 8 9 " + b"x" * 100,
    b"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" + b"\x00" * 12,
])
def test_malformed_header_closed_without_greeting(make_postern, header):
    p = start_proxied(make_postern)
    with RawSMTP("127.0.0.1", p.port) as c:
        c.send(header)
        assert c.wait_closed(5)
        assert c.buf == b"", c.buf
    p.wait_log(r"haproxy read: .* from unknown\[127\.0\.0\.1\]; closed without greeting")
    # neither a connect nor a disconnect: no session began
    assert ": connect from" not in p.log() and ": disconnect from" not in p.log()


def test_no_header_times_out(make_postern):
    p = start_proxied(make_postern)
    with RawSMTP("127.0.0.1", p.port) as c:
        assert c.wait_closed(5)
        assert c.buf == b"", c.buf
    p.wait_log(r"haproxy read: timeout error from unknown\[127\.0\.0\.1\]")


def test_proxy_on_one_listener_only(make_postern):
    """listen query: the PROXY protocol on one listener; the other greets."""
    plain, proxied = free_port(), free_port()
    p = make_postern(start=False,
                     listen=f"smtp://127.0.0.1:{plain} "
                            f"smtp://127.0.0.1:{proxied}?smtpd_upstream_proxy_protocol=haproxy",
                     mynetworks="127.0.0.1/32", smtpd_upstream_proxy_networks="127.0.0.1/32")
    p.start(wait=False)
    p.wait_log(r"daemon started")
    with RawSMTP("127.0.0.1", plain, source_address=("127.0.0.2", 0)) as c:
        assert c.read_reply().code == 220
        c.cmd("QUIT")
    p.wait_log(r"connect from unknown\[127\.0\.0\.2\]")
    with RawSMTP("127.0.0.1", proxied) as c:
        c.send(b"PROXY TCP4 127.0.0.8 127.0.0.1 40000 25\r\n")
        assert c.read_reply().code == 220
        c.cmd("QUIT")
    p.wait_log(r"connect from unknown\[127\.0\.0\.8\]")
    with RawSMTP("127.0.0.1", proxied) as c:
        c.send(b"EHLO x\r\n")
        assert c.wait_closed(5)
        assert c.buf == b"", c.buf
    p.wait_log(r"haproxy read: no PROXY protocol header from unknown\[127\.0\.0\.1\]")


def test_stop_does_not_wait_for_a_header(make_postern):
    """SIGTERM: a connection still waiting for its header is closed at once
    (smtpd_upstream_proxy_timeout is long here)."""
    p = start_proxied(make_postern, smtpd_upstream_proxy_timeout="1h")
    with RawSMTP("127.0.0.1", p.port) as c:
        c.send(b"PROXY TCP4 127.0.0.1")
        t0 = time.monotonic()
        p.stop(timeout=10)
        assert time.monotonic() - t0 < 5
        assert c.wait_closed(5)
        assert c.buf == b"", c.buf
