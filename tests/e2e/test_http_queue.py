"""The queue over HTTP: /api/queue (list with filters, one message, flush,
hold, release, delete) and the /queue page, behind Basic authentication
against http_users, with the same-origin rule on POSTs.

Messages are queued against a relayhost that is down (a closed loopback
port): they stay deferred with the connection error as their last error.
The page is driven by a real headless Chromium (Debian's chromium and
chromium-driver) over plain WebDriver HTTP calls: it signs in, sees the
messages, clicks Hold on one, and the API shows it held; a screenshot is
saved in the test's directory.
"""
import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse

import pytest

from conftest import free_port, simple_message, wait_until
from test_auth import base, ok  # noqa: F401 (fixture)
from test_auth import postern as postern_cli

USER, PASS = "alice", "correct horse 42"
HOSTILE = '"<script>alert(1)</script>"@evil.test'


def auth_header(user=USER, password=PASS):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(p, method, path, headers=None, body=None, auth=True):
    h = dict(headers or {})
    if auth is True:
        h["Authorization"] = auth_header()
    elif auth:
        h["Authorization"] = auth
    c = http.client.HTTPConnection("127.0.0.1", p.http_port, timeout=10)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def api(p, path, method="GET", **kw):
    headers = kw.pop("headers", {})
    if method == "POST":
        headers.setdefault("Content-Type", "application/json")
    status, h, body = request(p, method, path, headers=headers, **kw)
    assert h.get("Content-Type", "").startswith("application/json"), (status, h, body)
    return status, json.loads(body)


def listing(p, query=""):
    status, j = api(p, "/api/queue" + query)
    assert status == 200, j
    return {m["queue_id"]: m for m in j["messages"]}


def queue_daemon(make_postern, base, **kw):  # noqa: F811
    users = base / "http_users"
    ok(postern_cli(base, "passwd", "add", USER, "-f", users, input=PASS + "\n"))
    p = make_postern(start=False)
    p.http_port = free_port()
    down = free_port()     # nothing listens there: every attempt is refused
    p.settings.update(
        default_transport="smtp", relayhost=f"[127.0.0.1]:{down}",
        smtp_connect_timeout="5s", minimal_backoff_time="1h", maximal_backoff_time="2h",
        queue_run_delay="1h", http_listen=f"127.0.0.1:{p.http_port}",
        http_users=str(users), http_queue_actions="yes", readiness_check_interval="1h")
    p.settings.update(kw)
    p.settings = {k: v for k, v in p.settings.items() if v is not None}
    p.start()
    return p


def queue_messages(p):
    """Three messages, each tried once and deferred; returns their qids."""
    a = p.send("app@example.com", ["ops@customer.test"], simple_message(subject="a"))
    b = p.send("billing@example.com", ["finance@customer.test", "cfo@other.test"],
               simple_message(subject="b"))
    c = p.send(HOSTILE, ["victim@customer.test"], simple_message(subject="c"))
    qids = [a, b, c]

    def tried():
        m = listing(p)
        return all(q in m and m[q]["attempts"] >= 1 and m[q]["state"] == "deferred"
                   for q in qids)
    wait_until(tried, "each message tried once and deferred", timeout=20)
    return qids


def test_api_list_filters_show_and_actions(make_postern, base):  # noqa: F811
    p = queue_daemon(make_postern, base)
    a, b, c = queue_messages(p)
    m = listing(p)
    assert set(m) == {a, b, c}
    assert m[b]["sender"] == "billing@example.com"
    assert [r["address"] for r in m[b]["recipients"]] == ["finance@customer.test",
                                                          "cfo@other.test"]
    r0 = m[a]["recipients"][0]
    assert r0["state"] == "deferred" and r0["dsn"].startswith("4.")
    assert "refused" in r0["last_error"].lower() or "connect" in r0["last_error"].lower(), r0
    assert m[a]["next_attempt"] > time.time() + 600
    assert m[c]["sender"] == HOSTILE

    # filters
    assert set(listing(p, "?state=deferred")) == {a, b, c}
    assert listing(p, "?state=hold") == {}
    assert listing(p, "?state=active") == {}
    assert set(listing(p, "?sender=BILLING")) == {b}
    assert set(listing(p, "?recipient=customer.test")) == {a, b, c}
    assert set(listing(p, "?recipient=cfo%40other.test")) == {b}
    assert set(listing(p, "?sender=" + urllib.parse.quote("<script>"))) == {c}
    assert set(listing(p, "?min_age=0")) == {a, b, c}
    assert listing(p, "?min_age=3600") == {}
    for bad in ("?state=frozen", "?min_age=soon", "?min_age=-1"):
        status, j = api(p, "/api/queue" + bad)
        assert status == 400 and j["ok"] is False, (bad, j)

    # one message
    status, one = api(p, f"/api/queue/{b}")
    assert status == 200
    assert one["queue_id"] == b and one["size"] > 0 and one["client_address"] == "127.0.0.1"
    assert one["sasl_username"] is None
    assert api(p, "/api/queue/0123456789ABCDEF")[0] == 404
    assert api(p, "/api/queue/not-a-qid")[0] == 404

    # hold, then the filters see it; release; flush tries again; delete
    status, j = api(p, f"/api/queue/{a}/hold", "POST")
    assert status == 200 and j["ok"], j
    p.wait_log(rf"{a}: held by http user {USER}$", flags=re.M)
    assert set(listing(p, "?state=hold")) == {a}
    status, j = api(p, f"/api/queue/{a}/flush", "POST")
    assert status == 409 and "on hold" in j["error"], j
    status, j = api(p, f"/api/queue/{a}/release", "POST")
    assert status == 200 and j["ok"], j
    p.wait_log(rf"{a}: released from hold by http user {USER}$", flags=re.M)
    assert listing(p, "?state=hold") == {}
    before = listing(p)[b]["attempts"]
    status, j = api(p, f"/api/queue/{b}/flush", "POST")
    assert status == 200 and j["ok"], j
    p.wait_log(rf"{b}: flushed by http user {USER}$", flags=re.M)
    wait_until(lambda: listing(p)[b]["attempts"] > before, "the flushed message tried again")
    status, j = api(p, "/api/queue/flush", "POST")
    assert status == 200 and j["ok"], j
    status, j = api(p, f"/api/queue/{c}/delete", "POST")
    assert status == 200 and j["ok"], j
    p.wait_log(rf"{c}: removed \(deleted by http user {USER}\)$", flags=re.M)
    assert c not in listing(p)
    assert api(p, f"/api/queue/{c}/delete", "POST")[0] == 404
    assert api(p, f"/api/queue/{a}/explode", "POST")[0] == 404
    assert api(p, f"/api/queue/{a}/hold")[0] == 405
    # the log escapes what came from the network
    assert "<script>" not in p.log()


def test_auth_and_same_origin(make_postern, base):  # noqa: F811
    p = queue_daemon(make_postern, base)
    (a,) = [p.send("app@example.com", ["ops@customer.test"], simple_message())]
    origin = f"http://127.0.0.1:{p.http_port}"
    for path in ("/api/queue", f"/api/queue/{a}", "/queue"):
        status, h, _ = request(p, "GET", path, auth=False)
        assert status == 401 and h["WWW-Authenticate"].startswith("Basic realm="), path
    status, h, _ = request(p, "GET", "/api/queue", auth=auth_header(password="wrong"))
    assert status == 401
    p.wait_log(rf"warning: http: authentication failed for user {USER} from \[127\.0\.0\.1\]")
    assert "wrong" not in p.log().split("authentication failed")[1].split("\n")[0].replace(
        "wrong password", "")
    status, _, _ = request(p, "GET", "/api/queue", auth=auth_header(user="mallory"))
    assert status == 401
    p.wait_log(r"authentication failed for user mallory from \[127\.0\.0\.1\]: unknown user")
    status, _, _ = request(p, "POST", f"/api/queue/{a}/hold", auth=False,
                           headers={"Content-Type": "application/json"})
    assert status == 401
    # the open routes stay open
    status, _, _ = request(p, "GET", "/metrics", auth=False)
    assert status == 200

    # cross-origin: refused whatever else the request carries
    for hdr in ({"Origin": "http://evil.example", "Content-Type": "application/json"},
                {"Origin": "null", "Content-Type": "application/json"},
                {"Sec-Fetch-Site": "cross-site", "X-Requested-With": "x"},
                {"Origin": origin + ".evil.example", "Content-Type": "application/json"}):
        status, _, body = request(p, "POST", f"/api/queue/{a}/hold", headers=hdr)
        assert status == 403 and "cross-origin" in body, (hdr, body)
    # an API POST a plain form could send (no JSON type, no custom header)
    status, _, body = request(p, "POST", f"/api/queue/{a}/hold",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and "application/json" in body
    # the page's form: cross-site refused, without Origin refused
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, _ = request(p, "POST", "/queue", body=f"qid={a}&action=hold",
                           headers=dict(form, Origin="http://evil.example"))
    assert status == 403
    status, _, _ = request(p, "POST", "/queue", body=f"qid={a}&action=hold", headers=form)
    assert status == 403
    assert listing(p, "?state=hold") == {}
    # same origin: done
    status, _, body = request(p, "POST", "/queue", body=f"qid={a}&action=hold",
                              headers=dict(form, Origin=origin))
    assert status == 200 and f"{a} on hold" in body
    assert set(listing(p, "?state=hold")) == {a}
    status, j = api(p, f"/api/queue/{a}/release", "POST", headers={"Origin": origin})
    assert status == 200 and j["ok"]

    # password checks are paced (each is a yescrypt on the event loop): a burst
    # of wrong passwords gets 429 (with Retry-After); a remembered good login
    # still gets in without a check
    codes = [request(p, "GET", "/api/queue", auth=auth_header(password=f"guess{i}"))[0]
             for i in range(12)]
    assert 429 in codes and set(codes) <= {401, 429}, codes
    assert request(p, "GET", "/api/queue")[0] == 200


def test_read_only_by_default(make_postern, base):  # noqa: F811
    p = queue_daemon(make_postern, base, http_queue_actions=None)
    a = p.send("app@example.com", ["ops@customer.test"], simple_message())
    status, j = api(p, f"/api/queue/{a}/hold", "POST")
    assert status == 403 and "http_queue_actions" in j["error"]
    status, h, body = request(p, "GET", "/queue")
    assert status == 200 and "read-only" in body and "<button name=\"action\"" not in body
    assert a in body
    assert listing(p)[a]["state"] != "hold"


def test_queue_page_escapes_and_csp(make_postern, base):  # noqa: F811
    p = queue_daemon(make_postern, base)
    c = p.send(HOSTILE, ["victim@customer.test"], simple_message())
    status, h, body = request(p, "GET", "/queue")
    assert status == 200 and h["Content-Type"].startswith("text/html")
    assert "script-src" not in h["Content-Security-Policy"]
    assert "default-src 'none'" in h["Content-Security-Policy"]
    assert c in body
    assert "<script" not in body
    assert "&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;@evil.test" in body
    status, h, body = request(p, "GET", "/queue?sender=%3Cscript%3E%22%3E")
    assert status == 200 and "<script>\">" not in body and "&lt;script&gt;&quot;&gt;" in body


# ---------- headless Chromium ----------

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


class WebDriver:
    """The W3C WebDriver protocol over plain HTTP (no selenium)."""

    def __init__(self, port):
        self.port = port
        self.session = None

    def call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data,
                      headers={"Content-Type": "application/json"} if data else {})
            r = c.getresponse()
            j = json.loads(r.read().decode() or "{}")
            assert r.status == 200, (method, path, r.status, j)
            return j.get("value")
        finally:
            c.close()

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def start(self, profile):
        v = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--window-size=1200,800", f"--user-data-dir={profile}",
                "--no-first-run", "--disable-extensions"]}}}})
        self.session = v["sessionId"]

    def find(self, css):
        v = self.s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(v.values()))

    def text(self, css):
        return self.s("GET", f"/element/{self.find(css)}/text")


@pytest.fixture
def webdriver(base):  # noqa: F811
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("chromium and chromium-driver are not installed (make deps)")
    port = free_port()
    log = open(base / "chromedriver.log", "wb")
    proc = subprocess.Popen([CHROMEDRIVER, f"--port={port}", "--allowed-ips=127.0.0.1"],
                            stdout=log, stderr=subprocess.STDOUT)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wd = WebDriver(port)
    try:
        wait_until(up, "chromedriver listening", timeout=20)
        wd.start(base / "chromium-profile")
        yield wd
    finally:
        if wd.session:
            try:
                wd.call("DELETE", f"/session/{wd.session}")
            except Exception:  # noqa: BLE001 (the browser may be gone already)
                pass
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_queue_page_in_chromium(make_postern, base, webdriver):  # noqa: F811
    p = queue_daemon(make_postern, base)
    a, b, c = queue_messages(p)
    wd = webdriver
    wd.s("POST", "/url", {"url": f"http://{USER}:{urllib.parse.quote(PASS)}@127.0.0.1:"
                                 f"{p.http_port}/queue"})
    assert wd.s("GET", "/title") == "postern queue"
    for q in (a, b, c):
        assert q in wd.text(f"#m-{q}")
    # the hostile sender is shown as text, never run
    assert HOSTILE in wd.text(f"#m-{c} td:nth-child(5)")
    assert wd.s("POST", "/execute/sync", {
        "script": "return document.querySelectorAll('script').length", "args": []}) == 0
    png = base64.b64decode(wd.s("GET", "/screenshot"))
    shot = base / "queue-page.png"
    shot.write_bytes(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("POSTERN_SCREENSHOT"):
        shutil.copy(shot, os.environ["POSTERN_SCREENSHOT"])

    # click Hold on b: a form POST from the page, same origin
    button = wd.find(f"form[data-qid='{b}'] button[value='hold']")
    wd.s("POST", f"/element/{button}/click", {})
    def notice():
        try:
            return b in wd.text("#notice")
        except AssertionError:      # not there yet (or another page: shown below)
            return False
    wait_until(notice, "a notice after the click", timeout=15, interval=0.1)
    assert "on hold" in wd.text("#notice")
    assert listing(p)[b]["state"] == "hold"
    p.wait_log(rf"{b}: held by http user {USER}$", flags=re.M)
    assert "hold" in wd.text(f"#m-{b} td:nth-child(2)")
    (base / "queue-page-after-hold.png").write_bytes(
        base64.b64decode(wd.s("GET", "/screenshot")))
