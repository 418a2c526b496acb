"""docs/scale-out.md as written: Debian's HAProxy, with the configuration
from that page (its loopback ports put in), in front of two postern
instances that share their settings and users file but not their queues,
smtpd_upstream_proxy_protocol = haproxy. Mail goes through either
instance (round robin); after one instance is killed with SIGKILL,
HAProxy keeps accepting through the other, first by redispatching the
connects that fail, then because the health checks took it out; it comes
back once restarted. The client address the instances see (log,
Received:) is the client's, not HAProxy's."""
import pathlib
import re
import shutil
import smtplib
import socket
import subprocess

import pytest

from conftest import LOCAL_DOMAIN, ConnectionClosed, RawSMTP, free_port, read_messages, wait_until
from test_auth import base, ok  # noqa: F401 (fixture)
from test_auth import postern as postern_cli
from test_tls_server import client_ctx, tls_files
from upstream import test_ca  # noqa: F401 (fixture)

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "scale-out.md"
CLIENT = "127.0.0.2"                 # the real client; HAProxy is 127.0.0.1
RCPT = f"ops@{LOCAL_DOMAIN}"


def doc_block(first_line):
    """The fenced block of docs/scale-out.md that starts with first_line."""
    for block in re.findall(r"```\n(.*?)```", DOC.read_text(), re.S):
        if block.startswith(first_line):
            return block
    pytest.fail(f"docs/scale-out.md has no block starting {first_line!r}")


def haproxy_config(front_smtp, front_sub, servers):
    """The page's haproxy.cfg with loopback addresses: servers is
    {name: (smtp port, submission port)}."""
    text = doc_block("# /etc/haproxy/haproxy.cfg")
    text = text.replace("bind :25\n", f"bind 127.0.0.1:{front_smtp}\n")
    text = text.replace("bind :587\n", f"bind 127.0.0.1:{front_sub}\n")
    for name, (smtp, sub) in servers.items():
        ip = {"a": "10.0.0.11", "b": "10.0.0.12"}[name]
        text = text.replace(f"server {name} {ip}:25\n", f"server {name} 127.0.0.1:{smtp}\n")
        text = text.replace(f"server {name} {ip}:587\n", f"server {name} 127.0.0.1:{sub}\n")
    assert "10.0.0." not in text and ":25\n" not in text, text
    return text


def postern_settings():
    """The page's postern.cf, less what each instance has of its own
    (listen, queue_directory: the test's per-instance directories) and
    with HAProxy's loopback address as the proxy network."""
    s = {}
    for line in doc_block("# /etc/postern/postern.cf").splitlines():
        if line and not line.startswith("#"):
            k, v = (x.strip() for x in line.split("=", 1))
            s[k] = v
    assert s.pop("smtpd_upstream_proxy_protocol") == "haproxy"
    for k in ("listen", "queue_directory", "myhostname", "smtpd_sasl_users",
              "smtpd_tls_cert_file", "smtpd_tls_key_file"):
        s.pop(k)
    s["smtpd_upstream_proxy_protocol"] = "haproxy"
    s["smtpd_upstream_proxy_networks"] = "127.0.0.1/32"
    return s


@pytest.fixture
def haproxy(tmp_path):
    procs = []

    def start(cfg_text):
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(cfg_text)
        ok_check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
        assert ok_check.returncode == 0, ok_check.stdout + ok_check.stderr
        log = tmp_path / "haproxy.log"
        errp = open(log, "wb")
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdin=subprocess.DEVNULL,
                                stdout=errp, stderr=errp, start_new_session=True)
        procs.append((proc, errp))
        return proc, log

    yield start
    for proc, errp in procs:
        proc.terminate()
        proc.wait(10)
        errp.close()


def send_one(port, n):
    """One message through HAProxy from CLIENT; the reply to DATA."""
    with RawSMTP("127.0.0.1", port, source_address=(CLIENT, 0), timeout=10) as c:
        r = c.read_reply()
        assert r.code == 220, r
        c.expect("EHLO app.example", 250)
        c.expect("MAIL FROM:<app@example.org>", 250)
        c.expect(f"RCPT TO:<{RCPT}>", 250)
        c.expect("DATA", 354)
        c.expect(f"Subject: scale-out {n}\r\n\r\nmessage {n}\r\n.\r\n".encode(), 250)
        c.cmd("QUIT")


def count(p):
    """Messages delivered to RCPT by p (capture, its Maildir)."""
    return len(read_messages(p.mail_dir, RCPT))


def test_two_instances_behind_haproxy(make_postern, haproxy, base, test_ca):  # noqa: F811
    users = base / "users"
    ok(postern_cli(base, "passwd", "add", "sentry", "-f", users, input="pa55 word\n"))
    cert, key = tls_files(base, test_ca)
    shared = postern_settings()
    # one users file and one certificate for both
    shared.update(smtpd_sasl_users=str(users), smtpd_tls_cert_file=str(cert),
                  smtpd_tls_key_file=str(key))
    inst = {}
    for name in ("a", "b"):
        sub = free_port()
        p = make_postern(start=False, **shared)
        p.settings["listen"] = f"smtp://127.0.0.1:{p.port}, submission://127.0.0.1:{sub}"
        p.sub_port = sub
        p.start(wait=False)                          # no greeting without a header
        p.wait_log(r"daemon started")
        inst[name] = p
    front, front_sub = free_port(), free_port()
    proc, hlog = haproxy(haproxy_config(front, front_sub, {
        n: (p.port, p.sub_port) for n, p in inst.items()}))

    def listening():
        assert proc.poll() is None, hlog.read_text()
        try:
            socket.create_connection(("127.0.0.1", front), timeout=1).close()
            return True
        except OSError:
            return False
    wait_until(listening, "haproxy listening")

    # round robin: both instances take mail
    for n in range(4):
        send_one(front, n)
    wait_until(lambda: count(inst["a"]) + count(inst["b"]) == 4, "4 messages delivered")
    assert count(inst["a"]) >= 1 and count(inst["b"]) >= 1, (count(inst["a"]), count(inst["b"]))
    # the real client, in the log and in Received:, on both
    for p in inst.values():
        p.wait_log(rf"connect from unknown\[{re.escape(CLIENT)}\]")
        for msg in read_messages(p.mail_dir, RCPT):
            head = msg.split(b"Subject:", 1)[0]
            assert f"(unknown [{CLIENT}])".encode() in head, head
            assert b"[127.0.0.1]" not in head, head
    # the health checks reach postern (a PROXY v2 LOCAL header) and pass
    inst["a"].wait_log(r"connect from unknown\[127\.0\.0\.1\]", timeout=10)
    # the submission frontend: STARTTLS and AUTH through HAProxy, the one
    # users file letting the app in on both instances (round robin again)
    for n in range(2):
        with smtplib.SMTP("localhost", front_sub, timeout=10, source_address=(CLIENT, 0)) as s:
            s.ehlo("app.example")
            s.starttls(context=client_ctx(test_ca))
            s.ehlo("app.example")
            assert s.login("sentry", "pa55 word")[0] == 235
            assert s.sendmail("app@example.org", [RCPT], f"Subject: sub {n}\r\n\r\nx\r\n") == {}
    wait_until(lambda: count(inst["a"]) + count(inst["b"]) == 6, "2 submissions delivered")
    for p in inst.values():
        p.wait_log(rf"client=unknown\[{re.escape(CLIENT)}\], sasl_method=PLAIN, sasl_username=sentry")

    # one instance dies: connects to it fail until the checks notice, and
    # HAProxy redispatches them to the other; no client sees an error
    inst["b"].kill()
    before = count(inst["a"])
    closed = 0
    for n in range(4, 10):
        try:
            send_one(front, n)
        except ConnectionClosed:
            # closed before the greeting, nothing acknowledged: HAProxy had
            # the connection in hand as b died (docs/scale-out.md); the client
            # sends again, as SMTP clients do
            closed += 1
            send_one(front, n)
    assert closed <= 1, f"{closed} connections closed in the failover window"
    wait_until(lambda: count(inst["a"]) == before + 6, "6 more through a")
    wait_until(lambda: re.search(r"postern_smtp/b is DOWN", hlog.read_text()),
               "haproxy marks b down", timeout=20)
    for n in range(10, 12):
        send_one(front, n)
    wait_until(lambda: count(inst["a"]) == before + 8, "2 more through a")

    # b is back (its own queue, the same directories): it takes mail again
    inst["b"].start(wait=False)
    inst["b"].wait_log(r"daemon started")
    b_before = count(inst["b"])
    wait_until(lambda: re.search(r"postern_smtp/b is UP", hlog.read_text()),
               "haproxy marks b up", timeout=20)
    for n in range(12, 16):
        send_one(front, n)
    wait_until(lambda: count(inst["a"]) + count(inst["b"]) == before + 8 + b_before + 4,
               "4 more delivered")
    assert count(inst["b"]) > b_before
    for p in inst.values():
        p.wait_queue_empty()
        assert "warning:" not in p.log(), p.log()[-3000:]
