"""Webhooks (notify_url): a receiver in the test (Python's http.server on
loopback, plain HTTP and HTTPS with the test CA) checks every request's
X-Postern-Signature (HMAC-SHA256 over "timestamp.body" with the key) and
records the events; each must arrive exactly once:

- a bounce (the upstream answers RCPT with 550),
- a delay warning (delay_warning_time = 1s, the upstream answers 451),
- an upstream login failure (a wrong password), however many deliveries fail,
- a quota deferral (relayhost_rate_limits 1/1h), once per full window,
- through a receiver that fails twice before it answers 200 (retried, once),
- in the Slack format over HTTPS.

A receiver that accepts connections and never answers does not delay mail.
"""
import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import threading
import time

import pytest

from conftest import wait_until
from test_relay import message, relay_settings
from upstream import PASSWORD, UPSTREAM_WARNINGS, USER, password_map, test_ca, upstream  # noqa: F401

pytestmark = [pytest.mark.filterwarnings(w) for w in UPSTREAM_WARNINGS]

KEY = "whsec-7f3a9c0d1e2b"
SENDER = "app@example.com"


class Receiver:
    """A webhook server on 127.0.0.1; fail: answer 500 to that many first requests."""

    def __init__(self, key=KEY, ca=None, fail=0):
        self.key = key.encode()
        self.fail = fail
        self.requests = []          # (headers, body) of every request
        self.events = []            # decoded bodies of the 2xx-answered requests
        self.bad = []               # signature failures
        self.lock = threading.Lock()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                ts = self.headers.get("X-Postern-Timestamp", "")
                sig = self.headers.get("X-Postern-Signature", "")
                want = "sha256=" + hmac.new(rec.key, ts.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
                with rec.lock:
                    rec.requests.append((dict(self.headers), body))
                    failing = rec.fail > 0
                    if failing:
                        rec.fail -= 1
                    if not hmac.compare_digest(sig, want) or abs(time.time() - int(ts)) > 300:
                        rec.bad.append((ts, sig, body))
                    elif not failing:
                        rec.events.append(json.loads(body))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if ca is not None:
            self.server.socket = ca.server_context().wrap_socket(self.server.socket,
                                                                 server_side=True)
            self.scheme = "https"
        self.url = f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}/hooks/T0/SECRETPATH"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of(self, kind):
        with self.lock:
            return [e for e in self.events if e.get("event") == kind]

    def wait(self, kind, n=1, timeout=20):
        wait_until(lambda: len(self.of(kind)) >= n, f"{n} {kind} webhook(s); got {self.events}",
                   timeout=timeout)
        return self.of(kind)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def factory(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r
    yield factory
    for r in made:
        r.close()


def secret_file(p, key=KEY):
    path = p.base / "notify.key"
    path.write_text(key + "\n")
    os.chmod(path, 0o600)
    return str(path)


def daemon(make_postern, up, ca, rec_urls, pw=None, **kw):
    p = make_postern(start=False)
    s = relay_settings(up, ca, pwfile=pw, notify_url=" ".join(rec_urls),
                       notify_secret=secret_file(p), **kw)
    p.settings.update(s)
    p.start()
    return p


def assert_clean(rec, p):
    assert rec.bad == [], f"bad signatures: {rec.bad}"
    log = p.log()
    assert KEY not in log and "SECRETPATH" not in log


def test_bounce_and_delay_warning_each_once(make_postern, upstream, test_ca, receiver):
    up = upstream(mode="starttls", auth=False)
    up.rcpt_replies = {"gone@customer.test": "550 5.1.1 no such user",
                       "later@customer.test": "451 4.3.0 try again later"}
    rec = receiver()
    p = daemon(make_postern, up, test_ca, [rec.url], delay_warning_time="1s")
    q1 = p.send(SENDER, ["gone@customer.test"], message(rcpt="gone@customer.test"))
    q2 = p.send(SENDER, ["later@customer.test"], message(rcpt="later@customer.test"))
    b = rec.wait("bounce")[0]
    assert b["queue_id"] == q1 and b["sender"] == SENDER
    assert b["recipient"] == "gone@customer.test" and b["dsn"] == "5.1.1"
    assert "no such user" in b["reason"] and abs(b["time"] - time.time()) < 60
    d = rec.wait("delayed")[0]
    assert d["queue_id"] == q2 and d["recipients"] == ["later@customer.test"]
    assert d["dsn"].startswith("4.") and "try again later" in d["reason"] and d["delay"] >= 1
    # more attempts of q2 after the warning: no second event
    p.wait_log_count(rf"{q2}: to=<later@customer.test>.*status=deferred", 4, timeout=20)
    wait_until(lambda: p.log_count(r"notify: delayed sent") >= 1, "the delayed POST logged")
    assert len(rec.of("delayed")) == 1
    # the bounce notice to the sender goes through the upstream: no new bounce event
    assert len(rec.of("bounce")) == 1
    assert {r[0].get("X-Postern-Event") for r in rec.requests} == {"bounce", "delayed"}
    assert_clean(rec, p)


def test_upstream_login_failure_once_without_password(make_postern, upstream, test_ca,
                                                      receiver):
    up = upstream(mode="starttls")
    rec = receiver()
    p = make_postern(start=False)
    pw = password_map(p.base / "sasl_passwd", {f"[127.0.0.1]:{up.port}": f"{USER}:wrong-{PASSWORD}"})
    p.settings.update(relay_settings(up, test_ca, pwfile=pw, notify_url=rec.url,
                                     notify_secret=KEY))
    p.start()
    for i in range(2):
        p.send(SENDER, ["boss@customer.test"], message(subject=f"m{i}"))
    p.wait_log_count(r"status=deferred \(SASL authentication failed", 3, timeout=20)
    ev = rec.wait("upstream_login_failed")
    wait_until(lambda: p.log_count(r"notify: upstream_login_failed sent") >= 1, "POST logged")
    assert len(rec.of("upstream_login_failed")) == 1
    assert ev[0]["relayhost"] == f"127.0.0.1:{up.port}"
    assert "535" in ev[0]["reason"]
    for body in (r[1] for r in rec.requests):
        assert PASSWORD.encode() not in body and USER.encode() not in body
    assert_clean(rec, p)


def test_quota_deferral_once_per_window(make_postern, upstream, test_ca, receiver):
    up = upstream(mode="starttls", auth=False)
    rec = receiver()
    p = make_postern(start=False)
    key = f"[127.0.0.1]:{up.port}"
    (p.base / "quotas").write_text(f"{key} 1/1h\n")
    p.settings.update(relay_settings(up, test_ca, notify_url=rec.url, notify_secret=KEY,
                                     relayhost_rate_limits=f"texthash:{p.base / 'quotas'}",
                                     minimal_backoff_time="300s", maximal_backoff_time="600s",
                                     queue_run_delay="300s"))
    p.start()
    for i in range(3):
        p.send(SENDER, ["boss@customer.test"], message(subject=f"q{i}"))
    up.wait_messages(1)
    p.wait_log_count(r"status=deferred \(upstream quota 1/1h reached", 2, timeout=20)
    ev = rec.wait("quota_deferred")
    wait_until(lambda: p.log_count(r"notify: quota_deferred sent") >= 1, "POST logged")
    assert len(rec.of("quota_deferred")) == 1
    assert ev[0]["key"] == key and ev[0]["window"] == "1/1h"
    assert ev[0]["next_slot"] > time.time() + 3000
    assert_clean(rec, p)


def test_retried_after_failures_delivered_once(make_postern, upstream, test_ca, receiver):
    up = upstream(mode="starttls", auth=False)
    up.rcpt_replies = {"gone@customer.test": "550 5.1.1 no such user"}
    rec = receiver(fail=2)
    p = daemon(make_postern, up, test_ca, [rec.url])
    p.send(SENDER, ["gone@customer.test"], message(rcpt="gone@customer.test"))
    rec.wait("bounce", timeout=20)
    wait_until(lambda: p.log_count(r"notify: bounce sent .*try 3\)") == 1, "sent at try 3")
    assert len(rec.requests) == 3
    # the same signed body each time
    assert len({(h["X-Postern-Signature"], b) for h, b in rec.requests}) == 1
    assert p.log_count(r"notify: bounce to http://127\.0\.0\.1:\d+ failed \(HTTP 500\); "
                       r"trying again in [12]s") == 2
    assert len(rec.of("bounce")) == 1
    assert_clean(rec, p)


def test_dead_receiver_never_delays_mail(make_postern, upstream, test_ca, receiver):
    """A receiver that accepts the connection and never answers: the POST
    hangs until its 10 s timeout, and mail goes on meanwhile."""
    up = upstream(mode="starttls", auth=False)
    up.rcpt_replies = {"gone@customer.test": "550 5.1.1 no such user"}
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)                 # never accepted
    rec = receiver()
    try:
        url = f"http://127.0.0.1:{hole.getsockname()[1]}/x"
        p = daemon(make_postern, up, test_ca, [url, rec.url])
        p.send(SENDER, ["gone@customer.test"], message(rcpt="gone@customer.test"))
        rec.wait("bounce")          # the other receiver got it: the hung POST is running
        assert p.log_count(r"notify: bounce sent to http://127\.0\.0\.1:%d " %
                           hole.getsockname()[1]) == 0
        t0 = time.monotonic()
        for i in range(3):
            p.send(SENDER, ["boss@customer.test"], message(subject=f"ok{i}"))
        wait_until(lambda: sum(1 for m in up.messages if b"Subject: ok" in m["content"]) == 3,
                   "3 messages delivered", timeout=5)
        assert time.monotonic() - t0 < 3.0
        p.wait_log(r"notify: bounce to http://127\.0\.0\.1:\d+ failed \(Timeout", timeout=15)
    finally:
        hole.close()


def test_slack_format_over_https(make_postern, upstream, test_ca, receiver):
    up = upstream(mode="starttls", auth=False)
    up.rcpt_replies = {"gone@customer.test": "550 5.1.1 no such user"}
    rec = receiver(ca=test_ca)
    p = daemon(make_postern, up, test_ca, [rec.url], notify_format="slack",
               notify_tls_CAfile=test_ca.ca, notify_events="bounce")
    q = p.send(SENDER, ["gone@customer.test"], message(rcpt="gone@customer.test"))
    wait_until(lambda: len(rec.events) == 1, "a Slack message")
    text = rec.events[0]["text"]
    assert list(rec.events[0]) == ["text"]
    assert text.startswith(f"postern: bounce {q} from <{SENDER}> to <gone@customer.test>, "
                           "dsn=5.1.1: ")
    assert_clean(rec, p)


def test_https_receiver_is_verified(make_postern, upstream, test_ca, receiver):
    """A CA that did not sign the receiver's certificate: no POST gets through."""
    up = upstream(mode="starttls", auth=False)
    up.rcpt_replies = {"gone@customer.test": "550 5.1.1 no such user"}
    rec = receiver(ca=test_ca)
    p = daemon(make_postern, up, test_ca, [rec.url], notify_tls_CAfile=test_ca.other_ca)
    p.send(SENDER, ["gone@customer.test"], message(rcpt="gone@customer.test"))
    p.wait_log(r"notify: bounce to https://127\.0\.0\.1:\d+ failed \(SSL peer certificate "
               r"or SSH remote key was not OK\); trying again in 1s", timeout=15)
    assert rec.events == []


@pytest.mark.parametrize("settings, expect", [
    (dict(notify_url="ftp://127.0.0.1/x", notify_secret=KEY),
     r"main\.cf:\d+: notify_url: ftp://127\.0\.0\.1/x: use an http:// or https:// URL"),
    (dict(notify_url="http://127.0.0.1:9/x"),
     r"main\.cf:\d+: notify_url is set but notify_secret is not: set notify_secret = "),
    (dict(notify_url="http://127.0.0.1:9/x", notify_secret=KEY, notify_events="bounce, boom"),
     r"main\.cf:\d+: notify_events: boom is no event; use bounce, delayed, "),
    (dict(notify_url="http://127.0.0.1:9/x", notify_secret=KEY, notify_format="teams"),
     r"main\.cf:\d+: notify_format = teams: use json .* or slack"),
    (dict(notify_url="http://127.0.0.1:9/x", notify_secret="/nonexistent/notify.key"),
     r"main\.cf:\d+: notify_secret: /nonexistent/notify\.key: "),
])
def test_config_errors_name_the_line_and_the_fix(make_postern, settings, expect):
    from conftest import run_check
    p = make_postern(start=False)
    p.settings.update(settings)
    p.write_config()
    r = run_check(p.config_path)
    assert r.returncode != 0
    assert re.search(expect.replace(r"main\.cf", re.escape(p.config_path.name)),
                     r.stdout + r.stderr), r.stdout + r.stderr
    assert KEY not in r.stdout + r.stderr


def test_secret_file_must_be_private(make_postern):
    from conftest import run_check
    p = make_postern(start=False)
    path = p.base / "notify.key"
    path.write_text(KEY + "\n")
    os.chmod(path, 0o644)
    p.settings.update(notify_url="http://127.0.0.1:9/x", notify_secret=str(path))
    p.write_config()
    r = run_check(p.config_path)
    assert r.returncode != 0 and "notify_secret" in r.stdout + r.stderr, r.stdout + r.stderr
    assert KEY not in r.stdout + r.stderr


def test_reload_takes_new_urls_and_key(make_postern, upstream, test_ca, receiver):
    """SIGHUP: the new notify_url and the new key in the secret file (read
    again by the privileged parent) apply to the next events."""
    import signal
    up = upstream(mode="starttls", auth=False)
    up.rcpt_replies = {"gone@customer.test": "550 5.1.1 no such user"}
    old, new = receiver(), receiver(key="rotated-" + KEY)
    p = daemon(make_postern, up, test_ca, [old.url])
    p.send(SENDER, ["gone@customer.test"], message(rcpt="gone@customer.test"))
    old.wait("bounce")
    secret_file(p, key="rotated-" + KEY)
    p.settings["notify_url"] = new.url
    p.write_config()
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload: configuration")
    q = p.send(SENDER, ["gone@customer.test"], message(rcpt="gone@customer.test"))
    assert new.wait("bounce")[0]["queue_id"] == q
    wait_until(lambda: p.log_count(rf"{q}: notify: bounce sent") == 1, "the POST logged")
    assert len(old.of("bounce")) == 1 and len(new.of("bounce")) == 1
    assert_clean(old, p)
    assert_clean(new, p)
