"""The operators' HTTP endpoint (http_listen): /metrics scraped with the
Prometheus client library's own parser after a known workload, /healthz,
/readyz following the relayhost's state (the background login probe), and
bad HTTP input that gets a clear answer or a closed connection while mail
goes on.

The workload: messages relayed to a real aiosmtpd upstream (AUTH over
STARTTLS), RCPTs refused from a client outside mynetworks, an AUTH
failure; the counters must match it exactly.
"""
import base64
import http.client
import signal
import socket
import ssl

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port, simple_message, wait_until
from test_auth import base, ok  # noqa: F401 (fixtures)
from test_auth import postern as postern_cli
from upstream import PASSWORD, UPSTREAM_WARNINGS, USER, password_map, test_ca, upstream  # noqa: F401

pytestmark = [pytest.mark.filterwarnings(w) for w in UPSTREAM_WARNINGS]

SUSER, SPASS = "sentry", "s3cret pa55"
FOREIGN = "boss@customer.test"
OUTSIDER = ("127.0.0.2", 0)


def relay_daemon(make_postern, up, ca, tmp_base, password=PASSWORD, **kw):
    p = make_postern(start=False)
    p.http_port = free_port()
    pw = password_map(p.base / "sasl_passwd", {f"[127.0.0.1]:{up.port}": f"{USER}:{password}"})
    p.settings.update(
        default_transport="smtp", relayhost=f"[127.0.0.1]:{up.port}",
        smtp_tls_security_level="verify", smtp_tls_CAfile=ca.ca,
        smtp_connect_timeout="5s", smtp_helo_timeout="10s",
        smtp_sasl_auth_enable="yes", smtp_sasl_password_maps=f"texthash:{pw}",
        http_listen=f"127.0.0.1:{p.http_port}", readiness_check_interval="1s",
        mynetworks="127.0.0.1/32", maximal_backoff_time="2s")
    p.settings.update(kw)
    p.start()
    return p


def get(p, path, method="GET", source=None, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", p.http_port, timeout=timeout,
                                   source_address=source)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        c.close()


def scrape(p):
    status, ctype, body = get(p, "/metrics")
    assert status == 200, body
    assert ctype.startswith("text/plain; version=0.0.4")
    values = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return values, body


def value(values, name, **labels):
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_ready_status(p, want, what, contains=""):
    """/readyz answers want (and its body has contains): the probe runs in
    the background, so a first 503 may still say "not checked yet"."""
    last = {}

    def check():
        last["r"] = get(p, "/readyz")
        return last["r"][0] == want and contains in last["r"][2]
    wait_until(check, f"/readyz {want} ({what}); last answer: {last.get('r')}", timeout=15)
    return last["r"][2]


def test_metrics_after_known_workload(make_postern, upstream, test_ca, base):  # noqa: F811
    users = base / "users"
    ok(postern_cli(base, "passwd", "add", SUSER, "-f", users, input=SPASS + "\n"))
    up = upstream(mode="starttls")
    p = relay_daemon(make_postern, up, test_ca, base, smtpd_sasl_auth_enable="yes",
                     smtpd_sasl_users=str(users), smtpd_tls_auth_only="no")
    N, M = 3, 2
    # the start-up check of the fixture connected once already
    v0, _ = scrape(p)
    for i in range(N):
        p.send("app@example.com", [FOREIGN], simple_message(subject=f"m{i}"))
    up.wait_messages(N)
    with p.smtp(source_address=OUTSIDER) as c:
        c.ehlo("outsider.example")
        for i in range(M):
            c.mail("x@example.com")
            code, _ = c.rcpt(f"victim{i}@relay-target.example")
            assert code == 554
            c.rset()
        wrong = base64.b64encode(f"\0{SUSER}\0wrong".encode()).decode()
        code, _ = c.docmd("AUTH", "PLAIN " + wrong)
        assert code == 535
    p.wait_queue_empty()
    p.wait_sessions_over()
    v, body = scrape(p)
    assert value(v, "postern_smtpd_messages_accepted_total") == N
    assert value(v, "postern_smtpd_rejects_total", code="554", dsn="5.7.1") == M
    assert value(v, "postern_smtpd_rejects_total", code="535", dsn="5.7.8") == 1
    assert value(v, "postern_smtpd_auth_total", mechanism="PLAIN", result="failure") == 1
    assert (value(v, "postern_smtpd_sessions_total", listener="smtp") -
            value(v0, "postern_smtpd_sessions_total", listener="smtp")) == N + 1
    assert value(v, "postern_deliveries_total", transport="smtp", status="sent") == N
    assert value(v, "postern_deliveries_total", transport="smtp", status="deferred") == 0
    for state in ("active", "deferred", "hold"):
        assert value(v, "postern_queue_messages", state=state) == 0
    assert value(v, "postern_queue_oldest_message_age_seconds") == 0
    # every message went through a group commit and an upstream transaction
    assert value(v, "postern_queue_commit_batch_size_sum") == N
    assert value(v, "postern_queue_commit_fsync_seconds_count") >= 1
    assert value(v, "postern_upstream_delivery_seconds_count") == N
    assert value(v, "postern_upstream_login_seconds_count") >= 1
    assert value(v, "postern_upstream_connect_seconds_count") >= 1
    assert value(v, "postern_ready", check="queue") == 1
    # labels carry no address and no secret
    for secret in (PASSWORD, SPASS, "127.0.0.1", "127.0.0.2", USER):
        assert secret not in body, f"{secret!r} in /metrics"
    assert "# HELP postern_deliveries_total " in body
    assert "# TYPE postern_upstream_login_seconds histogram" in body


def test_queue_gauges_and_quota(make_postern, upstream, test_ca, base):  # noqa: F811
    """A message the upstream defers is counted as deferred with its age;
    a quota deferral is counted by its key."""
    up = upstream(mode="starttls")
    key = f"[127.0.0.1]:{up.port}"
    limits = base / "limits"
    limits.write_text(f"{key} 1/1h\n")
    limits.chmod(0o644)
    p = relay_daemon(make_postern, up, test_ca, base, relayhost_rate_limits=f"texthash:{limits}")
    p.send("app@example.com", [FOREIGN], simple_message(subject="one"))
    up.wait_messages(1)
    p.send("app@example.com", [FOREIGN], simple_message(subject="two"))
    p.wait_log(r"status=deferred")
    v, _ = scrape(p)
    assert value(v, "postern_quota_deferrals_total", upstream=key) == 1
    assert value(v, "postern_deliveries_total", transport="smtp", status="deferred") == 1
    assert value(v, "postern_queue_messages", state="deferred") == 1
    assert value(v, "postern_queue_oldest_message_age_seconds") > 0


def test_readyz_follows_upstream(make_postern, upstream, test_ca, base):  # noqa: F811
    up = upstream(mode="starttls")
    p = relay_daemon(make_postern, up, test_ca, base)
    body = wait_ready_status(p, 200, "upstream up")
    assert "upstream [127.0.0.1]" in body and "queue: ok" in body
    status, _, body = get(p, "/healthz")
    assert (status, body) == (200, "ok\n")
    # the upstream stops: not ready, saying why
    up.stop()
    body = wait_ready_status(p, 503, "upstream stopped")
    assert "upstream [127.0.0.1]" in body and "failed" in body
    up.start()
    wait_ready_status(p, 200, "upstream back")
    # the probe logged in: the upstream saw an accepted AUTH, and no mail
    assert any(a[2] for a in up.auths)
    assert not up.messages
    assert PASSWORD not in p.log()


def test_readyz_wrong_password(make_postern, upstream, test_ca, base):  # noqa: F811
    up = upstream(mode="starttls")
    p = relay_daemon(make_postern, up, test_ca, base, password="not-the-password")
    body = wait_ready_status(p, 503, "login refused", "SASL authentication failed")
    assert "not-the-password" not in body and "not-the-password" not in p.log()
    # fixed: the right password, reloaded
    password_map(p.base / "sasl_passwd", {f"[127.0.0.1]:{up.port}": f"{USER}:{PASSWORD}"})
    p.proc.send_signal(signal.SIGHUP)
    wait_ready_status(p, 200, "password fixed")


def test_readyz_queue_minfree(make_postern, upstream, test_ca, base):  # noqa: F811
    """Below queue_minfree: /readyz fails and MAIL gets 452 4.3.1."""
    p = make_postern(start=False)
    p.http_port = free_port()
    p.settings.update(http_listen=f"127.0.0.1:{p.http_port}", queue_minfree="1000000000000000")
    p.start()
    status, _, body = get(p, "/readyz")
    assert status == 503 and "queue: failed" in body and "queue_minfree" in body
    with p.smtp() as c:
        c.ehlo("client.example")
        code, msg = c.mail("a@example.com")
        assert code == 452 and msg.startswith(b"4.3.1 Insufficient system storage")


def raw_http(p, data, source=None, timeout=5):
    s = socket.create_connection(("127.0.0.1", p.http_port), timeout=timeout,
                                 source_address=source)
    try:
        try:
            s.sendall(data)
        except (ConnectionResetError, BrokenPipeError):
            return b""      # closed before it read it all: refused, as wanted
        got = b""
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            got += b
        return got
    finally:
        s.close()


def test_bad_http_input_never_disturbs_mail(make_postern):
    p = make_postern(start=False)
    p.http_port = free_port()
    p.settings.update(http_listen=f"127.0.0.1:{p.http_port}", http_allowed_networks="127.0.0.1/32")
    p.start()
    # a slow request that never finishes: open now, check later
    slow = socket.create_connection(("127.0.0.1", p.http_port), timeout=20)
    slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    # unknown path, wrong method, HEAD
    assert get(p, "/nope")[0] == 404
    c = http.client.HTTPConnection("127.0.0.1", p.http_port, timeout=5)
    c.request("POST", "/metrics", body=b"x")
    r = c.getresponse()
    assert r.status == 405 and r.getheader("Allow") == "GET, HEAD"
    r.read()
    c.close()
    assert get(p, "/healthz", method="HEAD")[0] == 200
    # huge headers: refused, the connection closed
    got = raw_http(p, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
                   b"\r\n\r\n")
    assert got == b"" or got.split(b" ")[1] in (b"400", b"413", b"431"), got[:200]
    # garbage
    got = raw_http(p, b"\x16\x03\x01 hello\r\n\r\n")
    assert got == b"" or got.split(b" ")[1] == b"400", got[:200]
    # a client outside http_allowed_networks: closed before any answer
    assert raw_http(p, b"GET /healthz HTTP/1.0\r\n\r\n", source=("127.0.0.2", 0)) == b""
    p.wait_log(r"http: connect from 127\.0\.0\.2 refused: not in http_allowed_networks")
    # mail goes on meanwhile
    p.send("app@example.com", ["u@" + p.settings["mydestination"].split(",")[0]],
           simple_message(subject="during"))
    # the slow request is cut off at the deadline, unanswered
    p.wait_log(r"http: request not complete after \d+ seconds", timeout=20)
    slow.settimeout(5)
    try:
        assert slow.recv(100) == b""
    except ConnectionResetError:
        pass
    slow.close()
    assert get(p, "/healthz")[0] == 200


def test_http_tls(make_postern, test_ca):
    p = make_postern(start=False)
    p.http_port = free_port()
    p.settings.update(http_listen=f"127.0.0.1:{p.http_port}", http_tls="yes",
                      smtpd_tls_cert_file=test_ca.cert, smtpd_tls_key_file=test_ca.key)
    p.start()
    ctx = ssl.create_default_context(cafile=test_ca.ca)
    c = http.client.HTTPSConnection("localhost", p.http_port, context=ctx, timeout=5)
    c.request("GET", "/healthz")
    r = c.getresponse()
    assert (r.status, r.read()) == (200, b"ok\n")
    c.close()
    # plain HTTP on the TLS port gets nothing useful
    got = raw_http(p, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert b"200" not in got


def test_http_listen_checked(make_postern):
    p = make_postern(start=False)
    p.settings.update(http_listen="localhost")
    p.write_config()
    from conftest import run_check
    r = run_check(p.config_path)
    assert r.returncode != 0
    assert "http_listen" in (r.stdout + r.stderr) and "HOST:PORT" in (r.stdout + r.stderr)
