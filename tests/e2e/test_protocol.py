"""SMTP protocol behaviour on a raw socket: reply codes with their enhanced
status codes, relay control, limits, error and time-out handling,
slowloris, SMTP smuggling, line limits, and `postern check`."""

import os
import re
import socket
import subprocess
import time

import pytest

from conftest import (HOSTNAME, LOCAL_DOMAIN, OTHER_LOCAL_DOMAIN, POSTERN_BIN,
                      ConnectionClosed, binary_env, check_delivery,
                      free_port, have_ipv6_loopback, lf, require_binary,
                      run_check, sanitizer_report, simple_message, split_trace)

EHLO = "EHLO client.postern.test"


def session(p, **kw):
    """Raw connection with the greeting read and EHLO done."""
    c = p.raw(**kw)
    r = c.read_reply()
    assert r.code == 220, r
    c.expect(EHLO, 250)
    return c


def mailbox_exists(p, addr):
    return os.path.exists(os.path.join(p.maildir(addr), b"new"))


def sentinel(p, tag):
    """Send a good message and wait for it: the daemon has processed
    everything queued before.  Then wait for an empty queue."""
    rcpt = f"sentinel-{tag}@{LOCAL_DOMAIN}"
    p.send("sentinel@" + LOCAL_DOMAIN, [rcpt], simple_message("sentinel " + tag))
    p.wait_for_maildir(rcpt, 1)
    p.wait_queue_empty()


# --------------------------------------------------------------------------
# greeting, EHLO, simple commands


def test_greeting(shared_postern):
    with shared_postern.raw() as c:
        r = c.read_reply()
        assert r.lines == [f"220 {HOSTNAME} ESMTP"], r


def test_custom_banner_expands_myhostname(make_postern):
    p = make_postern(smtpd_banner="$myhostname ESMTP test banner")
    with p.raw() as c:
        assert c.read_reply().lines == [f"220 {HOSTNAME} ESMTP test banner"]


def test_ehlo_keywords(make_postern):
    p = make_postern(message_size_limit="123456")
    with p.raw() as c:
        c.read_reply()
        r = c.expect(EHLO, 250)
        assert r.lines[0] in (f"250-{HOSTNAME}",) or r.lines[0].startswith(f"250-{HOSTNAME} "), r
        kws = {}
        for line in r.lines[1:]:
            parts = line[4:].split()
            kws[parts[0].upper()] = parts[1:]
        for k in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"):
            assert k in kws, f"EHLO lacks {k}: {r.lines}"
        assert kws.get("SIZE") == ["123456"], f"EHLO SIZE is not message_size_limit: {r.lines}"
        c.expect("QUIT", 221)


def test_helo_and_simple_commands(shared_postern):
    with shared_postern.raw() as c:
        c.read_reply()
        r = c.expect("HELO client.postern.test", 250)
        assert HOSTNAME in r.last
        c.expect("NOOP", 250)
        c.expect("RSET", 250)
        r = c.cmd("VRFY someone@postern.test")
        assert r.code == 252, r
        r = c.cmd("EXPN staff")
        assert r.code == 502, r
        r = c.expect("QUIT", 221)
        assert c.wait_closed(3), "connection still open after 221"


def test_commands_are_case_insensitive(shared_postern):
    with session(shared_postern) as c:
        c.expect("mail from:<lower@postern.test>", 250, "2.1.0")
        c.expect("rcpt to:<lower-rcpt@postern.test>", 250, "2.1.5")
        c.expect("rset", 250)
        c.expect("Mail From:<Mixed@postern.test>", 250)
        c.expect("quit", 221)


def test_space_after_colon_tolerated(shared_postern):
    with session(shared_postern) as c:
        c.expect("MAIL FROM: <space@postern.test>", 250)
        c.expect("RCPT TO: <space-rcpt@postern.test>", 250)


def test_ehlo_resets_transaction(shared_postern):
    with session(shared_postern) as c:
        c.expect("MAIL FROM:<a@postern.test>", 250)
        c.expect(EHLO, 250)
        c.expect("RCPT TO:<b@postern.test>", 503, "5.5.1")


def test_nul_byte_in_command(shared_postern):
    with session(shared_postern) as c:
        r = c.cmd(b"NOOP\x00MAIL FROM:<nul@postern.test>")
        assert 500 <= r.code <= 599, r
        c.expect("NOOP", 250)
        c.expect("RCPT TO:<x@postern.test>", 503, "5.5.1")


def test_reply_backpressure(make_postern):
    """A client that pipelines thousands of commands before reading any
    reply gets every reply, in order, once it reads. (Its own daemon: so
    many NOOPs are past the default smtpd_junk_command_limit.)"""
    n = 6000
    p = make_postern(smtpd_junk_command_limit=str(n + 1))
    with session(p) as c:
        c.send(b"NOOP\r\n" * n + b"QUIT\r\n")
        for i in range(n):
            r = c.read_reply(timeout=10)
            assert r.code == 250, (i, r)
        assert c.read_reply().code == 221
        assert c.wait_closed(3)


def test_unknown_command(shared_postern):
    with session(shared_postern) as c:
        c.expect("FROBNICATE now", 500, "5.5.2", "500 5.5.2 Error: command not recognized")
        c.expect("NOOP", 250)


def test_rcpt_before_mail(shared_postern):
    with session(shared_postern) as c:
        c.expect("RCPT TO:<x@postern.test>", 503, "5.5.1", "503 5.5.1 Error: need MAIL command")


def test_data_before_mail_and_before_rcpt(shared_postern):
    with session(shared_postern) as c:
        c.expect("DATA", 503, "5.5.1")
        c.expect("MAIL FROM:<a@postern.test>", 250)
        c.expect("DATA", 503, "5.5.1")
        # still usable afterwards
        c.expect("RCPT TO:<b@postern.test>", 250)
        c.expect("RSET", 250)
        c.expect("DATA", 503, "5.5.1")


def test_nested_mail(shared_postern):
    with session(shared_postern) as c:
        c.expect("MAIL FROM:<a@postern.test>", 250)
        c.expect("MAIL FROM:<b@postern.test>", 503, "5.5.1")


def test_unknown_mail_parameter(shared_postern):
    with session(shared_postern) as c:
        r = c.cmd("MAIL FROM:<a@postern.test> FROBNICATE=yes")
        assert r.code == 555 and r.enh == "5.5.4", r


BAD_ADDRESSES = ["<foo@@bar.test>", "<foo@>", "<.foo@bar.test>", "<foo..bar@bar.test>",
                 "<foo@bar..test>", "<foo bar@bar.test>", "<foo@bar.test"]


@pytest.mark.parametrize("addr", BAD_ADDRESSES)
def test_bad_sender_address(shared_postern, addr):
    with session(shared_postern) as c:
        c.expect("MAIL FROM:" + addr, 501, "5.1.7", "501 5.1.7 Bad sender address syntax")
        c.expect("MAIL FROM:<good@postern.test>", 250)


@pytest.mark.parametrize("addr", BAD_ADDRESSES + ["<>"])
def test_bad_recipient_address(shared_postern, addr):
    with session(shared_postern) as c:
        c.expect("MAIL FROM:<good@postern.test>", 250)
        c.expect("RCPT TO:" + addr, 501, "5.1.3")
        c.expect("RCPT TO:<good-rcpt@postern.test>", 250)


def test_rset_clears_transaction(shared_postern):
    with session(shared_postern) as c:
        c.expect("MAIL FROM:<a@postern.test>", 250)
        c.expect("RCPT TO:<b@postern.test>", 250)
        c.expect("RSET", 250)
        c.expect("DATA", 503, "5.5.1")
        c.expect("RCPT TO:<b@postern.test>", 503, "5.5.1")


def test_http_verbs_are_dropped(shared_postern):
    """docs/smtp.md: HTTP requests get 221 and the connection closes."""
    with shared_postern.raw() as c:
        c.read_reply()
        r = c.cmd("GET / HTTP/1.0")
        assert r.code == 221, r
        assert c.wait_closed(3)


# --------------------------------------------------------------------------
# relay control


def test_relay_denied_outside_mynetworks(make_postern):
    p = make_postern(mynetworks="127.0.0.1/32")
    with session(p, source_address=("127.0.0.2", 0)) as c:
        c.expect("MAIL FROM:<outsider@elsewhere.example>", 250)
        for addr in ("victim@elsewhere.example", "x@sub.postern.test", "x@evilpostern.test",
                     "x@postern.test.elsewhere.example"):
            c.expect(f"RCPT TO:<{addr}>", 554, "5.7.1",
                     f"554 5.7.1 <{addr}>: Relay access denied")
        for addr in ("local@" + LOCAL_DOMAIN, "upper@POSTERN.TEST", "other@" + OTHER_LOCAL_DOMAIN):
            c.expect(f"RCPT TO:<{addr}>", 250, "2.1.5")
        c.expect("DATA", 354)
        c.send(simple_message("from outside") + b".\r\n")
        r = c.read_reply()
        assert r.code == 250, r
        c.expect("QUIT", 221)
    for addr in ("local@" + LOCAL_DOMAIN, "upper@POSTERN.TEST", "other@" + OTHER_LOCAL_DOMAIN):
        p.wait_for_maildir(addr, 1)
    p.wait_queue_empty()
    for addr in ("victim@elsewhere.example", "x@sub.postern.test", "x@evilpostern.test"):
        assert not mailbox_exists(p, addr), f"relay-denied recipient {addr} got mail"


# routing operators in the local part of a local recipient (Postfix's
# allow_untrusted_routing): accepted for "ours", a next hop honouring them
# would relay to evil.example
ROUTED = ("victim%evil.example@" + LOCAL_DOMAIN, "evil.example!victim@" + LOCAL_DOMAIN,
          '"victim@evil.example"@' + LOCAL_DOMAIN, '"victim%evil.example"@' + OTHER_LOCAL_DOMAIN,
          '"evil.example!victim"@POSTERN.TEST', "a%b!c@" + OTHER_LOCAL_DOMAIN)


def send_to_all(c, rcpts, code, enh, subject):
    c.expect("MAIL FROM:<someone@elsewhere.example>", 250)
    for addr in rcpts:
        text = f"554 5.7.1 <{addr}>: Relay access denied" if code == 554 else None
        c.expect(f"RCPT TO:<{addr}>", code, enh, text)
    good = f"plain@{LOCAL_DOMAIN}"
    c.expect(f"RCPT TO:<{good}>", 250, "2.1.5")
    c.expect("DATA", 354)
    c.send(simple_message(subject) + b".\r\n")
    assert c.read_reply().code == 250
    c.expect("QUIT", 221)


def test_untrusted_routing_refused_outside_mynetworks(make_postern):
    p = make_postern(mynetworks="127.0.0.1/32")
    with session(p, source_address=("127.0.0.2", 0)) as c:
        send_to_all(c, ROUTED, 554, "5.7.1", "from outside")
    p.wait_for_maildir(f"plain@{LOCAL_DOMAIN}", 1)
    p.wait_queue_empty()
    log = p.log()
    for addr in ROUTED:
        assert not mailbox_exists(p, addr), f"routed recipient {addr} got mail"
        assert (f"NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 <{addr}>: "
                f"Relay access denied; from=<someone@elsewhere.example> to=<{addr}>") in log
    # trusted clients are not affected: accepted and passed on unchanged
    with session(p, source_address=("127.0.0.1", 0)) as c:
        send_to_all(c, ROUTED, 250, "2.1.5", "from inside")
    for addr in ROUTED:
        p.wait_for_maildir(addr, 1)


def test_untrusted_routing_allowed_by_parameter(make_postern):
    p = make_postern(mynetworks="127.0.0.1/32", allow_untrusted_routing="yes")
    with session(p, source_address=("127.0.0.2", 0)) as c:
        send_to_all(c, ROUTED, 250, "2.1.5", "allowed")
        # the parameter opens no relaying to foreign domains
    with session(p, source_address=("127.0.0.2", 0)) as c:
        c.expect("MAIL FROM:<someone@elsewhere.example>", 250)
        c.expect("RCPT TO:<victim%ours@evil.example>", 554, "5.7.1")
    for addr in ROUTED:
        p.wait_for_maildir(addr, 1)


def test_domainless_recipients(make_postern):
    """A bare postmaster (any case) is accepted from outside mynetworks and
    qualified with a mydestination domain (myorigin, mx.postern.test, is not
    one: the first, postern.test); any other address without a domain stays
    a syntax error."""
    p = make_postern(mynetworks="127.0.0.1/32")
    qids = []
    with session(p, source_address=("127.0.0.2", 0)) as c:
        c.expect("MAIL FROM:<someone@elsewhere.example>", 250)
        for addr in ("alice", "root", "postmaster.", '"postmaster"', "postmaster@", "mailer-daemon"):
            c.expect(f"RCPT TO:<{addr}>", 501, "5.1.3", "501 5.1.3 Bad recipient address syntax")
        c.expect("RSET", 250)
        for addr in ("postmaster", "POSTMASTER", "PostMaster"):
            c.expect("MAIL FROM:<someone@elsewhere.example>", 250)
            c.expect(f"RCPT TO:<{addr}>", 250, "2.1.5", "250 2.1.5 Ok")
            c.expect("DATA", 354)
            c.send(simple_message("to " + addr) + b".\r\n")
            r = c.read_reply()
            assert r.code == 250, r
            qids.append(r.text.rsplit(" ", 1)[1])
    pm = "postmaster@" + LOCAL_DOMAIN
    for path in p.wait_for_maildir(pm, 3):
        assert split_trace(open(path, "rb").read()).delivered_to == pm.encode()
    p.wait_queue_empty()
    log = p.log()
    for qid in qids:
        assert f"{qid}: to=<{pm}>, relay=capture" in log, log
    assert not re.search(r"to=<postmaster>", log, re.I), log


def test_bare_postmaster_qualified_with_local_myorigin(make_postern):
    """myorigin in mydestination: postmaster@$myorigin, as Postfix's
    append_at_myorigin gives."""
    p = make_postern(myorigin=OTHER_LOCAL_DOMAIN)
    p.send("app@" + LOCAL_DOMAIN, ["postmaster"], simple_message("myorigin"))
    p.wait_for_maildir("postmaster@" + OTHER_LOCAL_DOMAIN, 1)
    p.wait_queue_empty()
    assert not mailbox_exists(p, "postmaster@" + LOCAL_DOMAIN)


def test_relay_allowed_inside_mynetworks(make_postern):
    p = make_postern(mynetworks="127.0.0.1/32")
    with session(p, source_address=("127.0.0.1", 0)) as c:
        c.expect("MAIL FROM:<insider@postern.test>", 250)
        c.expect("RCPT TO:<someone@elsewhere.example>", 250, "2.1.5")
        c.expect("DATA", 354)
        c.send(simple_message("relayed") + b".\r\n")
        assert c.read_reply().code == 250
    p.wait_for_maildir("someone@elsewhere.example", 1)


# --------------------------------------------------------------------------
# limits


def test_recipient_limit(make_postern):
    p = make_postern(smtpd_recipient_limit="3")
    msg = simple_message("recipient limit")
    with session(p) as c:
        c.expect("MAIL FROM:<many@postern.test>", 250)
        for i in range(3):
            c.expect(f"RCPT TO:<r{i}@postern.test>", 250)
        c.expect("RCPT TO:<r3@postern.test>", 452, "4.5.3", "452 4.5.3 Too many recipients")
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        r = c.read_reply()
        assert r.code == 250, r
    for i in range(3):
        [path] = p.wait_for_maildir(f"r{i}@postern.test", 1)
        assert split_trace(open(path, "rb").read()).rest == lf(msg)
    p.wait_queue_empty()
    assert not mailbox_exists(p, "r3@postern.test")


def test_size_parameter_over_limit(make_postern):
    p = make_postern(message_size_limit="20000")
    with session(p) as c:
        c.expect("MAIL FROM:<big@postern.test> SIZE=20001", 552, "5.3.4",
                 "552 5.3.4 Message size exceeds fixed limit")
        c.expect("MAIL FROM:<big@postern.test> SIZE=999999999999", 552, "5.3.4")
        c.expect("MAIL FROM:<big@postern.test> SIZE=20000", 250)
        c.expect("RSET", 250)
        c.expect("MAIL FROM:<small@postern.test> SIZE=100", 250)


def test_data_over_size_limit(make_postern):
    p = make_postern(message_size_limit="20000")
    rcpt_big, rcpt_ok = "too-big@postern.test", "fits@postern.test"
    big = simple_message("big", b"".join(b"%05d %s\r\n" % (i, b"x" * 70) for i in range(600)))
    assert len(big) > 40000
    ok = simple_message("fits", b"".join(b"%05d %s\r\n" % (i, b"y" * 70) for i in range(100)))
    assert len(ok) < 15000
    with session(p) as c:
        c.expect("MAIL FROM:<big@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt_big}>", 250)
        c.expect("DATA", 354)
        c.send(big + b".\r\n")
        r = c.read_reply(timeout=10)
        assert (r.code, r.enh) == (552, "5.3.4"), r
        # the session goes on: the next message in it is accepted
        c.expect("MAIL FROM:<ok@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt_ok}>", 250)
        c.expect("DATA", 354)
        c.send(ok + b".\r\n")
        assert c.read_reply().code == 250
        c.expect("QUIT", 221)
    [path] = p.wait_for_maildir(rcpt_ok, 1)
    assert split_trace(open(path, "rb").read()).rest == lf(ok)
    p.wait_queue_empty()
    assert not mailbox_exists(p, rcpt_big)


def test_header_size_limit(make_postern):
    """docs/smtp.md: a header section over header_size_limit -> 552 5.3.4."""
    p = make_postern(header_size_limit="1024")
    rcpt = "hdr@postern.test"
    long_header = b"X-Long: " + b"\r\n\t".join([b"v" * 70] * 40) + b"\r\n"
    assert len(long_header) > 2500
    msg = simple_message("header size", extra=long_header)
    with session(p) as c:
        c.expect("MAIL FROM:<hdr@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        r = c.read_reply()
        assert (r.code, r.enh) == (552, "5.3.4"), r
    sentinel(p, "hdr")
    assert not mailbox_exists(p, rcpt)


# --------------------------------------------------------------------------
# errors, time-outs, slowloris


def test_hard_error_limit(make_postern):
    p = make_postern(smtpd_hard_error_limit="3", smtpd_soft_error_limit="2",
                     smtpd_error_sleep_time="0s")
    too_many = f"421 4.7.0 {HOSTNAME} Error: too many errors"
    with session(p) as c:
        got = []
        for i in range(3):
            c.send(f"BOGUS{i}\r\n")
            r = c.read_reply()
            got.append(r)
            if r.code == 421:
                break
        errors = [r for r in got if r.code != 421]
        for r in errors:
            assert (r.code, r.enh) == (500, "5.5.2"), got
        assert len(errors) >= 2, f"421 came before {3 - 1} errors: {got}"
        if got[-1].code != 421:
            # the 421 may come at once, or as the reply to the next command
            if not c.readable(1.0):
                try:
                    c.send("NOOP\r\n")
                except OSError:
                    pass
            r = c.read_reply()
            got.append(r)
        assert got[-1].last == too_many, got
        assert c.wait_closed(3), "connection not closed after 421"


def test_error_sleep_after_soft_limit(make_postern):
    p = make_postern(smtpd_soft_error_limit="2", smtpd_error_sleep_time="1s",
                     smtpd_hard_error_limit="10")
    with session(p) as c:
        times = []
        for i in range(3):
            t0 = time.monotonic()
            r = c.cmd(f"BOGUS{i}", timeout=5)
            times.append(time.monotonic() - t0)
            assert r.code == 500, r
        assert times[0] < 0.8, f"first error reply delayed: {times}"
        assert times[2] >= 0.9, f"error reply after soft limit not delayed: {times}"


def _wait_timeout_421(c, t0, limit):
    r = c.read_reply(timeout=limit + 5)
    elapsed = time.monotonic() - t0
    assert r.last == f"421 4.4.2 {HOSTNAME} Error: timeout exceeded", r
    assert c.wait_closed(2), "connection not closed after 421 timeout"
    return elapsed


def test_idle_timeout(make_postern):
    p = make_postern(smtpd_timeout="1s")
    with p.raw() as c:
        c.read_reply()
        t0 = time.monotonic()
        elapsed = _wait_timeout_421(c, t0, 1)
        assert 0.7 <= elapsed <= 3.0, elapsed
    p.wait_log(r"timeout after command from unknown\[127\.0\.0\.1\]")


def test_idle_timeout_mid_transaction(make_postern):
    p = make_postern(smtpd_timeout="1s")
    with session(p) as c:
        c.expect("MAIL FROM:<idle@postern.test>", 250)
        t0 = time.monotonic()
        elapsed = _wait_timeout_421(c, t0, 1)
        assert 0.7 <= elapsed <= 3.0, elapsed


def _trickle(c, data, interval=0.25, duration=4.0):
    """Send data one byte per interval until the server closes (or duration
    passes).  Returns the time it took the server to close, or None."""
    t0 = time.monotonic()
    for b in data:
        if time.monotonic() - t0 > duration:
            break
        try:
            c.send(bytes([b]))
        except OSError:
            return time.monotonic() - t0
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline:
            if c.readable(max(0.0, deadline - time.monotonic())):
                try:
                    c._fill(0.1)
                except (socket.timeout, OSError):
                    pass
                if c.eof:
                    return time.monotonic() - t0
    return None


def test_slowloris_command_trickle(make_postern):
    """A command trickled one byte every 0.25 s never completes: smtpd_timeout
    (1 s) is a deadline per complete line, so the server hangs up by ~1.5 s
    (an idle timer, restarted by every byte, would never fire)."""
    p = make_postern(smtpd_timeout="1s")
    with p.raw() as c:
        c.read_reply()
        closed_after = _trickle(c, b"HELO " + b"x" * 100)
        assert closed_after is not None, "server still connected after 4 s of trickling"
        assert closed_after <= 2.5, f"server closed only after {closed_after:.1f}s"
        replies = c.buf.decode("utf-8", "replace")
        assert f"421 4.4.2 {HOSTNAME} Error: timeout exceeded" in replies, replies


def test_slowloris_data_trickle(make_postern):
    p = make_postern(smtpd_timeout="1s")
    rcpt = "trickle@postern.test"
    with session(p) as c:
        c.expect("MAIL FROM:<slow@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        closed_after = _trickle(c, b"Subject: slow" + b"x" * 100)
        assert closed_after is not None, "server still connected after 4 s of trickling DATA"
        assert closed_after <= 2.5, f"server closed only after {closed_after:.1f}s"
    p.wait_log(r"timeout after DATA from unknown\[127\.0\.0\.1\]")
    sentinel(p, "trickle")
    assert not mailbox_exists(p, rcpt)


def test_slow_but_complete_lines_do_not_time_out(make_postern):
    """The deadline is per line: DATA lines every 0.4 s for ~2.4 s (more
    than twice smtpd_timeout in total) are fine."""
    p = make_postern(smtpd_timeout="1s")
    rcpt = "slow-ok@postern.test"
    msg = simple_message("slow lines", b"".join(b"line %d\r\n" % i for i in range(5)))
    lines = msg.split(b"\r\n")[:-1]
    with session(p) as c:
        c.expect("MAIL FROM:<slow@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        t0 = time.monotonic()
        for i, line in enumerate(lines):
            c.send(line + b"\r\n")
            if i >= len(lines) - 6:
                time.sleep(0.4)     # the client is slow: that is the test
        assert time.monotonic() - t0 > 2.2
        c.send(b".\r\n")
        r = c.read_reply()
        assert r.code == 250, r
    [path] = p.wait_for_maildir(rcpt, 1)
    assert split_trace(open(path, "rb").read()).rest == lf(msg)


def test_connection_count_limit(make_postern):
    p = make_postern(mynetworks="127.0.0.1/32", smtpd_client_connection_count_limit="2")
    p.wait_log(r"disconnect from unknown\[127\.0\.0\.1\]")     # the start-up probe
    outside = ("127.0.0.2", 0)
    a = p.raw(source_address=outside)
    b = p.raw(source_address=outside)
    try:
        assert a.read_reply().code == 220
        assert b.read_reply().code == 220
        with p.raw(source_address=outside) as c:
            try:
                r = c.read_reply()
            except ConnectionClosed:
                pytest.fail("third connection closed without a 421 reply")
            assert r.code == 421 and r.enh == "4.7.0", r
            assert c.wait_closed(3)
        # clients inside mynetworks are not limited
        inside = [p.raw(source_address=("127.0.0.1", 0)) for _ in range(3)]
        for c in inside:
            assert c.read_reply().code == 220
            c.close()
        a.cmd("QUIT")
        a.close()
        # the refused third one and a are over (b is still open): a new
        # outside client fits again
        p.wait_log_count(r"disconnect from unknown\[127\.0\.0\.2\]$", 2)
        with p.raw(source_address=outside) as c:
            assert c.read_reply().code == 220
    finally:
        a.close()
        b.close()


# --------------------------------------------------------------------------
# line handling, smuggling


def test_line_too_long(make_postern):
    p = make_postern(line_length_limit="512")
    with session(p) as c:
        r = c.cmd("NOOP " + "x" * 600)
        assert (r.code, r.enh) == (500, "5.5.2"), r
        # exactly one reply for the long line: the next reply answers NOOP
        c.expect("NOOP", 250)
        r = c.cmd("MAIL FROM:<" + "a" * 600 + "@postern.test>")
        assert (r.code, r.enh) == (500, "5.5.2"), r
        c.expect("NOOP", 250)
        # a huge line: one reply, the tail never becomes a command
        c.send(b"NOOP " + b"y" * 200_000 + b"QUIT\r\n")
        r = c.read_reply(timeout=10)
        assert (r.code, r.enh) == (500, "5.5.2"), r
        c.expect("NOOP", 250)
        c.expect("QUIT", 221)


def test_bare_lf_commands_and_content(postern):
    """Bare LF ends command lines, and LF line ends in content become CRLF
    (so LF again in the Maildir file)."""
    rcpt = "lf@postern.test"
    content = (b"From: <lf@postern.test>\n"
               b"To: <lf@postern.test>\n"
               b"Subject: bare LF\n"
               b"Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
               b"Message-ID: <bare-lf-1@client.postern.test>\n"
               b"\n"
               b"line one\n"
               b"line two\r\n")
    with postern.raw() as c:
        c.read_reply()
        assert c.cmd(b"EHLO client.postern.test\n").code == 250
        assert c.cmd(b"MAIL FROM:<lf@postern.test>\n").code == 250
        assert c.cmd(b"RCPT TO:<lf@postern.test>\n").code == 250
        assert c.cmd(b"DATA\n").code == 354
        c.send(content + b".\r\n")
        r = c.read_reply()
        assert r.code == 250, r
        assert c.cmd(b"QUIT\n").code == 221
    [path] = postern.wait_for_maildir(rcpt, 1)
    data = open(path, "rb").read()
    assert b"\r" not in data
    assert split_trace(data).rest == lf(content)


def test_bare_cr_in_content_is_rejected(postern):
    rcpt = "bare-cr@postern.test"
    with session(postern) as c:
        c.expect("MAIL FROM:<cr@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        c.send(simple_message("bare CR", b"one\rtwo\r\nthree\r\n") + b".\r\n")
        r = c.read_reply()
        assert 500 <= r.code <= 599, f"bare CR accepted: {r!r}"
        assert r.enh and r.enh.startswith("5."), r
        # the session continues after the rejection
        c.expect("MAIL FROM:<cr@postern.test>", 250)
        c.expect("RCPT TO:<after-cr@postern.test>", 250)
        c.expect("DATA", 354)
        c.send(simple_message("after bare CR") + b".\r\n")
        assert c.read_reply().code == 250
    postern.wait_for_maildir("after-cr@postern.test", 1)
    sentinel(postern, "cr")
    assert not mailbox_exists(postern, rcpt)


def test_long_data_line_kept_intact_or_rejected(make_postern):
    """A content line longer than line_length_limit: either the message is
    refused, or it arrives unaltered (no line silently cut or split)."""
    p = make_postern(line_length_limit="1024")
    rcpt = "longline@postern.test"
    msg = simple_message("long line", b"short\r\n" + b"L" * 5000 + b"\r\nafter\r\n")
    with session(p) as c:
        c.expect("MAIL FROM:<long@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        r = c.read_reply()
        assert r.code == 250 or 500 <= r.code <= 599, r
        c.expect("NOOP", 250)
    if r.code == 250:
        [path] = p.wait_for_maildir(rcpt, 1)
        assert split_trace(open(path, "rb").read()).rest == lf(msg)
    else:
        sentinel(p, "longline")
        assert not mailbox_exists(p, rcpt)


def test_disconnect_mid_data_queues_nothing(postern):
    rcpt = "half@postern.test"
    c = session(postern)
    c.expect("MAIL FROM:<half@postern.test>", 250)
    c.expect(f"RCPT TO:<{rcpt}>", 250)
    c.expect("DATA", 354)
    c.send(simple_message("never finished", b"no final dot\r\n"))
    c.close()
    # the daemon saw the end of the session in DATA, and dropped it
    postern.wait_log(r"lost connection after DATA from unknown\[127\.0\.0\.1\]")
    sentinel(postern, "half")
    assert not mailbox_exists(postern, rcpt)
    assert postern.queue_files() == []


SMUGGLED = (b"MAIL FROM:<evil@attacker.test>\r\n"
            b"RCPT TO:<victim@postern.test>\r\n"
            b"DATA\r\n"
            b"From: <ceo@postern.test>\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"smuggled body\r\n")

SMUGGLE_VARIANTS = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CRLF.LF": b"\r\n.\n",
    "CR.CR": b"\r.\r",
    "CRLF.CR": b"\r\n.\r",
    "CR.CRLF": b"\r.\r\n",
}


@pytest.mark.parametrize("name", list(SMUGGLE_VARIANTS))
def test_smtp_smuggling(postern, name):
    seq = SMUGGLE_VARIANTS[name]
    rcpt = "smuggle-target@postern.test"
    head = simple_message("carrier " + name, b"body before")
    with session(postern) as c:
        c.expect("MAIL FROM:<carrier@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        c.send(head + seq + SMUGGLED + b".\r\n")
        r = c.read_reply(timeout=10)
        # exactly one reply for the whole DATA, then QUIT's
        r2 = c.cmd("QUIT")
        assert r2.code == 221, f"DATA was split: after {r!r} came {r2!r}"
    if b"\r" in seq.replace(b"\r\n", b""):
        # bare CR: the whole message is rejected
        assert 500 <= r.code <= 599, r
        sentinel(postern, "smuggle")
        assert not mailbox_exists(postern, rcpt)
    else:
        assert r.code == 250, r
        [path] = postern.wait_for_maildir(rcpt, 1)
        t = split_trace(open(path, "rb").read())
        assert t.rest.startswith(lf(head)), t.rest[:400]
        assert t.rest.endswith(lf(SMUGGLED)), \
            f"text after {name} is not part of the message: {t.rest[-400:]!r}"
        sentinel(postern, "smuggle")
    assert not mailbox_exists(postern, "victim@postern.test"), "smuggled message was delivered"
    assert "from=<evil@attacker.test>" not in postern.log()


# --------------------------------------------------------------------------
# IPv6 and -v


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no ::1 on this machine")
def test_ipv6_listener(make_postern):
    port6 = free_port("::1")
    p = make_postern(start=False)
    p.settings["listen"] = f"smtp://127.0.0.1:{p.port}, smtp://[::1]:{port6}"
    p.start()
    rcpt = "v6@postern.test"
    msg = simple_message("over IPv6")
    with p.raw(host="::1", port=port6) as c:
        assert c.read_reply().code == 220
        c.expect(EHLO, 250)
        c.expect("MAIL FROM:<v6@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        assert c.read_reply().code == 250
    [path] = p.wait_for_maildir(rcpt, 1)
    assert split_trace(open(path, "rb").read()).rest == lf(msg)
    # [::1]/128 in mynetworks: ::1 may relay
    with p.raw(host="::1", port=port6) as c:
        c.read_reply()
        c.expect(EHLO, 250)
        c.expect("MAIL FROM:<v6@postern.test>", 250)
        c.expect("RCPT TO:<v6@elsewhere.example>", 250)


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no ::1 on this machine")
def test_ipv6_client_outside_mynetworks(make_postern):
    port6 = free_port("::1")
    p = make_postern(start=False, mynetworks="127.0.0.0/8")
    p.settings["listen"] = f"smtp://127.0.0.1:{p.port}, smtp://[::1]:{port6}"
    p.start()
    with p.raw(host="::1", port=port6) as c:
        c.read_reply()
        c.expect(EHLO, 250)
        c.expect("MAIL FROM:<v6@postern.test>", 250)
        c.expect("RCPT TO:<v6@elsewhere.example>", 554, "5.7.1",
                 "554 5.7.1 <v6@elsewhere.example>: Relay access denied")
        c.expect("RCPT TO:<v6@postern.test>", 250)


DEBUG_MAIL_RE = r"debug: unknown\[127\.0\.0\.1\]: < mail FROM:<v@postern\.test>$"


def test_verbose_flag(make_postern):
    """-v adds the debug trace of the SMTP dialogue (both directions);
    without it there is none, for the same session."""
    p = make_postern(start=False)
    p.start(verbose=True)
    rcpt = "verbose@postern.test"
    qid = p.send("v@postern.test", [rcpt], simple_message("verbose"))
    [path] = p.wait_for_maildir(rcpt, 1)
    check_delivery(path, qid, 0, "v@postern.test", rcpt)
    p.wait_log(DEBUG_MAIL_RE, flags=re.M)
    p.wait_log(rf"debug: unknown\[127\.0\.0\.1\]: > 250 2\.0\.0 Ok: queued as {qid}$",
               flags=re.M)

    quiet = make_postern(start=False)
    quiet.start(verbose=False)
    qid = quiet.send("v@postern.test", [rcpt], simple_message("quiet"))
    quiet.wait_for_maildir(rcpt, 1)
    quiet.wait_log(r"disconnect from unknown\[127\.0\.0\.1\]")
    assert "debug:" not in quiet.log(), quiet.log()


# --------------------------------------------------------------------------
# postern check


GOOD_CONFIG = """\
# a comment line
myhostname = mx.check.test

mydestination = check.test,
    other.check.test
message_size_limit = 12345
smtpd_timeout = 2s
listen = smtp://127.0.0.1:2599
"""


def test_check_good_file(tmp_path):
    f = tmp_path / "good.cf"
    f.write_text(GOOD_CONFIG)
    r = run_check(f)
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    for l in lines:
        assert re.fullmatch(r"[a-z0-9_]+ = .*", l), f"not a 'name = value' line: {l!r}"
    settings = dict(l.split(" = ", 1) for l in lines)
    assert settings.get("myhostname") == "mx.check.test", r.stdout
    assert settings.get("message_size_limit") == "12345", r.stdout
    assert settings.get("smtpd_timeout") == "2s", r.stdout
    assert settings.get("listen") == "smtp://127.0.0.1:2599", r.stdout
    dest = settings.get("mydestination", "")
    assert "check.test" in dest and "other.check.test" in dest, r.stdout
    # settings not in the file are defaults: not printed
    assert "smtpd_recipient_limit" not in settings, r.stdout
    assert "queue_directory" not in settings, r.stdout


def test_check_unknown_parameter(tmp_path):
    f = tmp_path / "typo.cf"
    f.write_text("myhostname = mx.check.test\n# comment\nmesage_size_limit = 100\n")
    r = run_check(f)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert f"{f}:3:" in r.stderr, r.stderr
    assert "mesage_size_limit" in r.stderr, r.stderr
    assert re.search(r"did you mean.*\bmessage_size_limit\b", r.stderr), r.stderr


def test_check_bad_value(tmp_path):
    f = tmp_path / "badvalue.cf"
    f.write_text("myhostname = mx.check.test\nmessage_size_limit = abc\n")
    r = run_check(f)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert f"{f}:2:" in r.stderr, r.stderr
    assert "message_size_limit" in r.stderr, r.stderr


def test_check_missing_equals(tmp_path):
    f = tmp_path / "noequals.cf"
    f.write_text("myhostname = mx.check.test\n\nrelay_domains\n")
    r = run_check(f)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert f"{f}:3:" in r.stderr, r.stderr


def test_check_reports_every_error(tmp_path):
    """Three different bad lines: all three reported, in line order, each
    with its line number and the fix; exit 1."""
    f = tmp_path / "three.cf"
    f.write_text("myhostname = mx.check.test\n"
                 "mesage_size_limit = 100\n"
                 "# comment\n"
                 "smtpd_timeout = soon\n"
                 "smtp_tls_security_level = maybe\n"
                 "relay_domains\n"
                 "message_size_limit = 200\n")
    r = run_check(f)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout
    lines = r.stderr.splitlines()
    assert lines == [
        f'postern: {f}:2: unknown parameter "mesage_size_limit"; did you mean '
        f'"message_size_limit"?',
        f'postern: {f}:4: smtpd_timeout = "soon": not a time (e.g. 300s; units s m h d w, '
        f'default s)',
        f'postern: {f}:5: smtp_tls_security_level = maybe: use none, may, encrypt, verify '
        f'or secure',
        f'postern: {f}:6: missing "=" in "relay_domains"; expected "name = value"',
    ], r.stderr


def test_check_caps_the_errors_of_a_wrong_file(tmp_path):
    """A file that is not a configuration at all: the first 20 errors, then
    one line saying there are more."""
    f = tmp_path / "services"
    f.write_text("".join(f"svc{i}\t{i}/tcp\n" for i in range(1, 201)))
    r = run_check(f)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 21, r.stderr
    assert lines[0].startswith(f"postern: {f}:1: missing \"=\""), lines[0]
    assert lines[19].startswith(f"postern: {f}:20: "), lines[19]
    assert lines[20] == ("postern: too many errors (200, the first 20 shown); "
                         "is it the right file?"), lines[20]


def test_check_missing_file(tmp_path):
    f = tmp_path / "does-not-exist.cf"
    r = run_check(f)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert str(f) in r.stderr, r.stderr


def test_serve_refuses_bad_config(tmp_path):
    require_binary()
    f = tmp_path / "bad.cf"
    f.write_text(f"listen = smtp://127.0.0.1:1\nqueue_directory = {tmp_path}/q\n"
                 f"capture_directory = {tmp_path}/m\nsmtpd_timout = 5s\n"
                 f"default_transport = pigeon\nmynetworks = 0.0.0.0/0\n")
    proc = subprocess.run([POSTERN_BIN, "serve", "-c", str(f)], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=20, env=binary_env())
    err = proc.stderr.decode("utf-8", "replace")
    assert sanitizer_report(err) is None, err
    assert proc.returncode == 1, (proc.returncode, err)
    # every error is logged, then why it stops
    assert re.search(rf"error: {re.escape(str(f))}:4: unknown parameter \"smtpd_timout\"; "
                     r"did you mean \"smtpd_timeout\"", err), err
    assert f"error: {f}:5: default_transport = pigeon: unknown transport" in err, err
    assert f"error: {f}:6: mynetworks entry \"0.0.0.0/0\"" in err, err
    assert f"fatal: configuration {f}: 3 errors" in err, err
    assert not (tmp_path / "q").exists()


def test_mail_loop_rejected_by_hopcount_limit(make_postern):
    """A message that already crossed hopcount_limit relays is a loop."""
    p = make_postern(hopcount_limit=3)
    hops = b"".join(b"Received: from hop%d by relay%d; Wed, 25 Nov 2026 10:00:00 +0000\r\n"
                    % (i, i) for i in range(4))
    with p.raw() as c:
        assert c.read_reply().code == 220
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<a@example.com>", 250)
        c.expect("RCPT TO:<b@example.com>", 250)
        c.expect("DATA", 354)
        c.send(hops + b"Subject: loop\r\n\r\nx\r\n.\r\n")
        r = c.read_reply()
        assert r.last == "554 5.4.6 Too many hops", r
        # three hops are fine
        c.expect("MAIL FROM:<a@example.com>", 250)
        c.expect("RCPT TO:<b@example.com>", 250)
        c.expect("DATA", 354)
        c.send(hops.split(b"\r\n", 1)[1] + b"Subject: ok\r\n\r\nx\r\n.\r\n")
        assert c.read_reply().code == 250
    assert len(p.wait_for_maildir("b@example.com", 1)) == 1


def test_open_relay_mynetworks_refused(make_postern):
    """Seed 001 trusts 0.0.0.0/0; postern refuses to become an open relay."""
    p = make_postern(start=False, mynetworks="127.0.0.0/8, 10.1.0.0/16, 0.0.0.0/0")
    p.write_config()
    r = run_check(p.config_path)
    assert r.returncode == 1
    assert "mynetworks entry \"0.0.0.0/0\"" in r.stderr and "open relay" in r.stderr
    assert f"{p.config_path}:" in r.stderr


def test_client_auth_line_never_logged_even_verbose(make_postern):
    p = make_postern(start=False)
    p.start(verbose=True)
    secret = "AHVzZXIAc2VjcmV0LXBhc3N3b3Jk"         # base64 of \0user\0secret-password
    with p.raw() as c:
        assert c.read_reply().code == 220
        c.expect("EHLO client.example", 250)
        r = c.cmd(f"AUTH PLAIN {secret}")
        assert r.code == 503, r
    p.wait_log(r"< AUTH <redacted>")
    assert secret not in p.log()


def test_client_credentials_never_logged_any_spelling(make_postern):
    """-v redacts every client line that can carry a credential: AUTH in
    lower case or with a TAB, and the base64 user name and password lines
    of AUTH LOGIN sent pipelined after it (AUTH is refused, but a client
    may send them anyway); the next real command is traced again."""
    import base64
    p = make_postern(start=False)
    p.start(verbose=True)
    user = base64.b64encode(b"user@example.com").decode()
    password = base64.b64encode(b"secret-password-1").decode()
    plain_lower = base64.b64encode(b"\0user\0secret-password-2").decode()
    plain_tab = base64.b64encode(b"\0user\0secret-password-3").decode()
    with p.raw() as c:
        assert c.read_reply().code == 220
        c.expect("EHLO client.example", 250)
        c.send(f"AUTH LOGIN\r\n{user}\r\n{password}\r\nNOOP\r\n")
        codes = [c.read_reply().code for _ in range(4)]
        assert codes[0] == 503 and codes[3] == 250, codes
        assert c.cmd(f"auth plain {plain_lower}").code == 503
        assert c.cmd(f"AUTH\tPLAIN {plain_tab}").code in (500, 501, 503)
        c.expect("NOOP trace-resumes", 250)
    p.wait_log(r"< NOOP trace-resumes")
    log = p.log()
    for secret in (user, password, plain_lower, plain_tab, "secret-password"):
        assert secret not in log, f"{secret!r} in the -v trace:\n{log[-3000:]}"
    assert log.count("< <redacted>") == 2, log[-3000:]
    assert log.count("< AUTH <redacted>") == 3, log[-3000:]
    assert "< NOOP\n" in log


def test_junk_command_limit(make_postern):
    """Past smtpd_junk_command_limit junk commands (NOOP, RSET, VRFY, HELP,
    HELO, EHLO) since the last accepted message, each one counts as an
    error, so a client cannot hold a connection slot with them for ever
    (Postfix's smtpd_junk_command_limit). An accepted message starts the
    count again."""
    p = make_postern(smtpd_junk_command_limit="5", smtpd_hard_error_limit="3",
                     smtpd_soft_error_limit="10", smtpd_error_sleep_time="0s")
    too_many = f"421 4.7.0 {HOSTNAME} Error: too many errors"
    with session(p) as c:
        for verb in ("NOOP", "RSET", "HELP", "VRFY postmaster", "NOOP"):
            c.send(f"{verb}\r\n")
            assert c.read_reply().code in (250, 214, 252)
        # a message resets the count (as Postfix does)
        c.expect("MAIL FROM:<a@example.com>", 250)
        c.expect("RCPT TO:<b@example.com>", 250)
        c.expect("DATA", 354)
        c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
        assert c.read_reply().code == 250
        for _ in range(5):
            c.expect("NOOP", 250)
        # the 6th, 7th and 8th junk commands are errors 1, 2 and 3 (the limit)
        c.expect("NOOP", 250)
        c.expect("NOOP", 250)
        c.send("NOOP\r\n")
        r = c.read_reply()
        assert r.code == 250, r
        r = c.read_reply()
        assert r.last == too_many, r
        assert c.wait_closed(3), "connection not closed after 421"
    p.wait_log(r"too many errors from .* \(smtpd_hard_error_limit\)")
