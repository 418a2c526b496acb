"""Upstream quotas that defer instead of bouncing (relayhost_rate_limits),
and destination pacing (smtp_destination_concurrency_limit,
default_destination_rate_delay / smtp_destination_rate_delay).

The upstreams are aiosmtpd servers (upstream.py). Quota windows are a few
seconds long; the backoff is 300s, so a message held back by a quota can
only come back through its slot (a retry after the backoff would time the
test out). Timing is measured at the upstream (the time each final dot
arrived), never slept for.
"""
import re

import pytest

from conftest import wait_until
from test_cli import listing, queue
from test_relay import message, relay_settings
from upstream import UPSTREAM_WARNINGS, password_map, test_ca, upstream  # noqa: F401

pytestmark = [pytest.mark.filterwarnings(w) for w in UPSTREAM_WARNINGS]

RCPT = "boss@customer.test"
SLOW_RETRY = dict(minimal_backoff_time="300s", maximal_backoff_time="600s",
                  queue_run_delay="300s")


def hop(up):
    return f"[127.0.0.1]:{up.port}"


def quota_file(p, lines):
    path = p.base / "quotas"
    path.write_text("".join(f"{k} {v}\n" for k, v in lines.items()), encoding="utf-8")
    return f"texthash:{path}"


def send_all(p, senders, tag):
    """One SMTP session, one message per sender in turn; the qids in arrival
    order. Each message says which one it is in its subject."""
    s = p.smtp()
    try:
        s.ehlo("app.example")
        return [p.send(snd, RCPT, message(sender=snd, subject=f"{tag} {i}"), conn=s)
                for i, snd in enumerate(senders)]
    finally:
        s.quit()


def subject_of(m):
    return re.search(rb"^Subject: (.*?)\r$", m["content"], re.M).group(1).decode()


def waiting(p, reason_re):
    """{qid: reason} of the queued messages whose reason matches."""
    r = queue(p, "list")
    assert r.returncode == 0, r.stdout + r.stderr
    out = {}
    for qid, (_held, _size, _sender, rcpts) in listing(r.stdout).items():
        for reason, _rcpt in rcpts:
            if reason and re.fullmatch(reason_re, reason):
                out[qid] = reason
    return out


def wait_waiting(p, qids, reason_re, timeout=10.0):
    got = {}

    def cond():
        got.clear()
        got.update(waiting(p, reason_re))
        return set(qids) <= set(got)
    wait_until(cond, f"{len(qids)} messages listed with /{reason_re}/", timeout=timeout)
    return got


def assert_never_bounced(p):
    log = p.log()
    assert "status=bounced" not in log
    assert "non-delivery notification" not in log
    assert "status=expired" not in log


def test_quota_defers_and_sends_in_arrival_order_as_the_window_moves(make_postern, upstream,
                                                                      test_ca):
    """5/8s and 12 messages: 5 go, 7 wait with the quota reason in `postern
    queue list`, none bounced; then they go as the window moves, in arrival
    order, never more than 5 in any 8 seconds."""
    up = upstream(mode="starttls", auth=False)
    p = make_postern(start=False)
    p.settings.update(relay_settings(up, test_ca, **SLOW_RETRY,
                                     relayhost_rate_limits=quota_file(p, {hop(up): "5/8s"}),
                                     # one at a time: the upstream sees the order
                                     smtp_destination_concurrency_limit="1"))
    p.start()
    qids = send_all(p, ["app@example.com"] * 12, "msg")
    up.wait_messages(5)
    held = wait_waiting(p, qids[5:], r"upstream quota 5/8s reached; next slot at "
                                     r"\d\d:\d\d:\d\d")
    # listed while the window was still full: the first five went, no more
    assert set(held) == set(qids[5:])
    assert len(up.messages) == 5
    assert p.log_count(r"status=deferred \(upstream quota 5/8s reached; next slot at ") >= 7
    assert re.search(rf"{qids[5]}: to=<{RCPT}>, relay=none, delay=[\d.]+, dsn=4\.7\.0, "
                     r"status=deferred \(upstream quota 5/8s reached; next slot at "
                     r"\d\d:\d\d:\d\d\)", p.log())

    msgs = up.wait_messages(12, timeout=40, done=lambda: p.wait_removed(qids, timeout=40))
    assert [subject_of(m) for m in msgs] == [f"msg {i}" for i in range(12)]
    at = [m["at"] for m in msgs]
    for i in range(len(at) - 5):
        assert at[i + 5] - at[i] >= 8.0, f"6 messages within {at[i + 5] - at[i]:.3f}s"
    # and they came when the slots opened, not much later
    assert at[11] - at[0] < 8.0 * 2 + 8, at
    assert_never_bounced(p)


def test_quota_counts_survive_a_restart(make_postern, upstream, test_ca):
    """The send times are kept in the queue directory: after a restart the
    full window is still full, the waiting messages are deferred again and
    go only when it moves."""
    up = upstream(mode="starttls", auth=False)
    p = make_postern(start=False)
    p.settings.update(relay_settings(up, test_ca, **SLOW_RETRY,
                                     relayhost_rate_limits=quota_file(p, {hop(up): "5/10s"})))
    p.start()
    qids = send_all(p, ["app@example.com"] * 8, "msg")
    up.wait_messages(5)
    reason = r"upstream quota 5/10s reached; next slot at \d\d:\d\d:\d\d"
    wait_waiting(p, qids[5:], reason)
    before = p.log_count(r"status=deferred \(upstream quota 5/10s reached")
    p.stop()
    state = (p.queue_dir / "quota").read_text()
    assert state.startswith("POSTERN-QUOTA 1\n") and state.endswith("END\n")
    assert state.count("\nt ") == 5 and f"key {hop(up)}\n" in state
    p.start()
    # recovered and tried at once: deferred again by the counts of the last run
    p.wait_log_count(r"status=deferred \(upstream quota 5/10s reached", before + 3)
    assert len(up.messages) == 5
    assert set(wait_waiting(p, qids[5:], reason)) == set(qids[5:])
    msgs = up.wait_messages(8, timeout=40, done=lambda: p.wait_removed(qids[5:], timeout=40))
    at = sorted(m["at"] for m in msgs)
    assert at[5] - at[0] >= 10.0, at
    assert_never_bounced(p)


def test_two_upstreams_have_separate_quotas(make_postern, upstream, test_ca):
    """Two apps through two relayhosts (sender_dependent_relayhost_maps),
    each with its own quota: one full window does not hold the other app."""
    up1 = upstream(mode="starttls", auth=False)
    up2 = upstream(mode="starttls", auth=False)
    p = make_postern(start=False)
    relay = password_map(p.base / "sender_relay", {"a@appa.test": hop(up1),
                                                   "@appb.test": hop(up2)})
    p.settings.update(relay_settings(
        up1, test_ca, **SLOW_RETRY, sender_dependent_relayhost_maps=f"texthash:{relay}",
        relayhost_rate_limits=quota_file(p, {hop(up1): "2/1h", hop(up2): "3/1h 100/1d"})))
    p.start()
    senders = ["a@appa.test", "b@appb.test"] * 4
    qids = send_all(p, senders, "msg")
    up1.wait_messages(2)
    up2.wait_messages(3)
    a_wait = [q for q, s in zip(qids, senders) if s == "a@appa.test"][2:]
    b_wait = [q for q, s in zip(qids, senders) if s == "b@appb.test"][3:]
    held_a = wait_waiting(p, a_wait, r"upstream quota 2/1h reached; next slot at \d\d:\d\d")
    held_b = wait_waiting(p, b_wait, r"upstream quota 3/1h reached; next slot at \d\d:\d\d")
    assert set(held_a) == set(a_wait) and set(held_b) == set(b_wait)
    assert len(up1.messages) == 2 and len(up2.messages) == 3
    # the first ones of each app took the places; several sessions run at
    # once, so the upstream may see them in any order
    assert sorted(subject_of(m) for m in up1.messages) == ["msg 0", "msg 2"]
    assert sorted(subject_of(m) for m in up2.messages) == ["msg 1", "msg 3", "msg 5"]
    assert_never_bounced(p)


def test_two_accounts_on_one_upstream_have_separate_quotas(make_postern, upstream, test_ca):
    """smtp_sender_dependent_authentication: two apps log in to the same
    upstream as two accounts; the quota keyed user@[host]:port is per
    account and wins over the host's."""
    up = upstream(mode="starttls", users={"app-a": "secret-a-1", "app-b": "secret-b-2"})
    p = make_postern(start=False)
    pw = password_map(p.base / "sasl_passwd", {"a@appa.test": "app-a:secret-a-1",
                                                "@appb.test": "app-b:secret-b-2"})
    p.settings.update(relay_settings(
        up, test_ca, pw, **SLOW_RETRY, smtp_sender_dependent_authentication="yes",
        relayhost_rate_limits=quota_file(p, {f"app-a@{hop(up)}": "1/1h",
                                             f"app-b@{hop(up)}": "2/1h",
                                             hop(up): "100/1h"})))
    p.start()
    senders = ["a@appa.test", "b@appb.test"] * 3
    qids = send_all(p, senders, "msg")
    up.wait_messages(3)
    a_wait = [q for q, s in zip(qids, senders) if s == "a@appa.test"][1:]
    b_wait = [q for q, s in zip(qids, senders) if s == "b@appb.test"][2:]
    wait_waiting(p, a_wait, r"upstream quota 1/1h reached; next slot at \d\d:\d\d")
    wait_waiting(p, b_wait, r"upstream quota 2/1h reached; next slot at \d\d:\d\d")
    assert sorted(m["login"] for m in up.messages) == ["app-a", "app-b", "app-b"]
    assert_never_bounced(p)
    assert "secret-a-1" not in p.log() and "secret-b-2" not in p.log()


def test_bad_quota_table_names_file_and_line(make_postern, upstream, test_ca):
    up = upstream(mode="starttls", auth=False, start=False)
    p = make_postern(start=False)
    spec = quota_file(p, {hop(up): "500/1d", "[smtp.163.com]:465": "60/1y"})
    p.settings.update(relay_settings(up, test_ca, relayhost_rate_limits=spec))
    p.write_config()
    from conftest import run_check
    r = run_check(p.config_path)
    assert r.returncode != 0
    path = spec.split(":", 1)[1]
    assert f'{path}:2: "60/1y" is not a quota' in r.stdout + r.stderr


def test_destination_concurrency_limit(make_postern, upstream, test_ca):
    """smtp_destination_concurrency_limit = 2: never more than two sessions
    at the upstream at once, and two are used."""
    up = upstream(mode="starttls", auth=False)
    up.rcpt_delay = 0.3             # deliveries overlap
    p = make_postern(start=False)
    p.settings.update(relay_settings(up, test_ca, smtp_destination_concurrency_limit="2"))
    p.start()
    qids = send_all(p, ["app@example.com"] * 8, "msg")
    up.wait_messages(8, timeout=30, done=lambda: p.wait_removed(qids, timeout=30))
    assert up.max_active == 2, up.max_active


def test_destination_rate_delay(make_postern, upstream, test_ca):
    """default_destination_rate_delay = 1s (smtp_destination_rate_delay's
    default): one delivery at a time, at least 1s between them."""
    up = upstream(mode="starttls", auth=False)
    p = make_postern(start=False)
    p.settings.update(relay_settings(up, test_ca, default_destination_rate_delay="1s"))
    p.start()
    qids = send_all(p, ["app@example.com"] * 4, "msg")
    msgs = up.wait_messages(4, timeout=30, done=lambda: p.wait_removed(qids, timeout=30))
    at = [m["at"] for m in msgs]
    gaps = [b - a for a, b in zip(at, at[1:])]
    assert min(gaps) >= 1.0, gaps
    assert max(gaps) < 3.0, gaps
    assert up.max_active == 1
