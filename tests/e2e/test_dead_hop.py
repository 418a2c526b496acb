"""A next hop that refuses connections is marked dead, as Postfix's queue
manager throttles a destination: for $minimal_backoff_time its mail is
deferred without connecting ("delivery temporarily suspended: ..."), then
one delivery probes it; a connection revives it. A dead relayhost sends
mail straight to smtp_fallback_relay."""
import re

import pytest

from conftest import free_port
from test_relay import RCPT, SENDER, message, relay_settings, sent_line
from upstream import (PASSWORD, UPSTREAM_WARNINGS, USER, password_map,  # noqa: F401
                      test_ca, upstream)

pytestmark = [pytest.mark.filterwarnings(w) for w in UPSTREAM_WARNINGS]

N = 20


def refused(port):
    """The line the SMTP client logs for each connection it tried."""
    return (rf"^\S.*: [0-9A-Za-z]+: connect to 127\.0\.0\.1\[127\.0\.0\.1\]:{port}: "
            rf"Connection refused$")


def suspended(port):
    return (rf": to=<{re.escape(RCPT)}>, relay=none, delay=[0-9.]+, (?:delays=[0-9./]+, )?"
            rf"dsn=4\.4\.1, status=deferred \(delivery temporarily suspended: connect to "
            rf"127\.0\.0\.1\[127\.0\.0\.1\]:{port}: Connection refused\)")


def start(make_postern, up, test_ca, **kw):
    p = make_postern(start=False)
    pw = password_map(p.base / "sasl_passwd", {f"[127.0.0.1]:{up.port}": f"{USER}:{PASSWORD}"})
    # the dead time is minimal_backoff_time, as in Postfix's qmgr
    s = relay_settings(up, test_ca, pw, minimal_backoff_time="2s",
                       maximal_backoff_time="2s", queue_run_delay="1s")
    s.update(kw)
    p.settings.update(s)
    p.start()
    return p


def test_refusing_relayhost_is_dead_then_probed_then_delivers(make_postern, upstream, test_ca):
    up = upstream(mode="implicit", start=False)       # its port refuses connections
    p = start(make_postern, up, test_ca)
    conn = p.smtp()
    conn.ehlo("app.example.com")
    qids = [p.send(SENDER, RCPT, message(subject=f"m{i}"), conn=conn) for i in range(N)]
    conn.quit()
    # every message has been deferred once, most without a connection
    p.wait_log_count(suspended(up.port), N - 3, timeout=20)
    tried = p.log_count(refused(up.port))
    assert 1 <= tried <= 3, f"{tried} connections for {N} messages"
    assert re.search(rf": next hop \[127\.0\.0\.1\]:{up.port} is dead for 2000 ms: connect to",
                     p.log())
    # the retries after the dead time: one probe each time, the rest suspended
    before = tried
    p.wait_log_count(r": next hop \[127\.0\.0\.1\]:\d+ is dead for", 2, timeout=20)
    p.wait_log_count(suspended(up.port), 2 * N - 6, timeout=20)
    tried = p.log_count(refused(up.port))
    assert tried - before <= 3, f"{tried - before} more connections for {N} retries"
    up.start()
    got = up.wait_messages(N, timeout=30, done=lambda: p.wait_removed(qids, timeout=30))
    assert sorted(m["rcpt_tos"][0] for m in got) == [RCPT] * N
    p.wait_log(r": next hop \[127\.0\.0\.1\]:\d+ is reachable again")
    for qid in qids:
        p.wait_log(sent_line(qid, RCPT, up))
    p.wait_queue_empty()


def test_cohort_limit_zero_tries_every_message(make_postern, upstream, test_ca):
    up = upstream(mode="implicit", start=False)
    p = start(make_postern, up, test_ca, smtp_destination_concurrency_failed_cohort_limit="0",
              minimal_backoff_time="300s", maximal_backoff_time="300s",
              queue_run_delay="300s")
    qids = [p.send(SENDER, RCPT, message(subject=f"m{i}")) for i in range(5)]
    p.wait_log_count(refused(up.port), 5)
    for qid in qids:
        p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                   rf"{up.port}, .*status=deferred \(connect to")
    assert "suspended" not in p.log() and "is dead" not in p.log()


def test_dead_relayhost_goes_straight_to_fallback(make_postern, upstream, test_ca):
    down = free_port()
    up = upstream(mode="implicit")
    p = make_postern(start=False)
    pw = password_map(p.base / "sasl_passwd", {f"[127.0.0.1]:{up.port}": f"{USER}:{PASSWORD}"})
    s = relay_settings(up, test_ca, pw, smtp_fallback_relay=f"[127.0.0.1]:{up.port}",
                       minimal_backoff_time="300s", maximal_backoff_time="600s",
                       queue_run_delay="300s")
    s.update(relayhost=f"[127.0.0.1]:{down}")
    p.settings.update(s)
    p.start()
    qids = [p.send(SENDER, RCPT, message(subject=f"f{i}")) for i in range(6)]
    got = up.wait_messages(6, done=lambda: p.wait_removed(qids))
    assert len(got) == 6
    for qid in qids:
        p.wait_log(sent_line(qid, RCPT, up))
    log = p.log()
    tried = len(re.findall(refused(down), log, re.M))
    assert tried <= 2, f"{tried} connections to the dead relayhost for 6 messages"
    assert re.search(rf": \[127\.0\.0\.1\]:{down}: delivery temporarily suspended: connect to "
                     rf"127\.0\.0\.1\[127\.0\.0\.1\]:{down}: Connection refused; trying "
                     rf"smtp_fallback_relay \[127\.0\.0\.1\]:{up.port}", log)
    assert "status=deferred" not in log
