"""Relaying through an upstream mailbox (seed 000): apps -> postern -> the
upstream's submission service with AUTH over TLS.

The upstream is a real aiosmtpd server (upstream.py) with a CA made at test
time; postern runs with default_transport = smtp and relayhost =
[127.0.0.1]:PORT, as the README's example does with [smtp.example.com]:465.
Sender rewriting and Reply-To are the routing tests' business, not these.
"""
import base64
import os
import re
import signal
import ssl
import subprocess
import time

import pytest

from conftest import (CLIENT_HELO, LOCAL_DOMAIN, POSTERN_BIN, binary_env, require_binary, run_check,
                      wait_until)
from upstream import (PASSWORD, UPSTREAM_WARNINGS, USER, ScriptedServer, password_map, serve_transaction,  # noqa: F401
                      test_ca, upstream)

pytestmark = [pytest.mark.filterwarnings(w) for w in UPSTREAM_WARNINGS]

SENDER = "app@example.com"
RCPT = "boss@customer.test"
RCPT2 = "ops@customer.test"

FAST_RETRY = dict(minimal_backoff_time="1s", maximal_backoff_time="2s", queue_run_delay="1s")


def relay_settings(up, ca, pwfile=None, **kw):
    s = dict(default_transport="smtp", relayhost=f"[127.0.0.1]:{up.port}",
             smtp_tls_wrappermode="yes" if up.mode == "implicit" else "no",
             smtp_tls_security_level="verify", smtp_tls_CAfile=ca.ca,
             smtp_connect_timeout="5s", smtp_helo_timeout="10s", **FAST_RETRY)
    if pwfile is not None:
        s.update(smtp_sasl_auth_enable="yes", smtp_sasl_password_maps=f"texthash:{pwfile}")
    s.update(kw)
    return s


def secrets_of(password=PASSWORD, user=USER):
    """Every form of the password that must never reach a log."""
    plain = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    return [password, plain, base64.b64encode(password.encode()).decode()]


def assert_no_secret(p, password=PASSWORD, user=USER):
    log = p.log()
    for s in secrets_of(password, user):
        assert s not in log, f"secret {s!r} appears in the daemon log"


def start_relay(make_postern, up, ca, entries=None, verbose=False, **kw):
    """A daemon relaying to up; entries: the password map ({key: value}),
    default: "[127.0.0.1]:PORT user:password"."""
    p = make_postern(start=False)
    pw = None
    if entries is not False:
        if entries is None:
            entries = {f"[127.0.0.1]:{up.port}": f"{USER}:{PASSWORD}"}
        pw = password_map(p.base / "sasl_passwd", entries)
    p.settings.update(relay_settings(up, ca, pw, **kw))
    p.start(verbose=verbose)
    return p


def message(subject="relay test", body=b"Hello from the app.\r\n", sender=SENDER, rcpt=RCPT):
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.time_ns()}.{os.getpid()}@app.example.com>\r\n"
            "Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n").encode() + b"\r\n" + body


def rich_body():
    """8-bit Chinese text, 990-byte lines, a base64 block, lines that start
    with a dot (dot-stuffing both ways), a lone dot line."""
    zh = "你好，世界。这是一封通过 postern 中转的测试邮件。\r\n".encode("utf-8")
    long_line = (b"L" * 988) + b"\r\n"              # 990 bytes with CRLF
    b64 = base64.encodebytes(bytes(range(256)) * 40).replace(b"\n", b"\r\n")
    dots = b".leading dot\r\n..two dots\r\n.\r\n. space\r\nend.\r\n"
    return zh * 3 + long_line * 5 + b"--part\r\n" + b64 + dots + zh


def sent_line(qid, rcpt, up):
    return (rf"{qid}: to=<{re.escape(rcpt)}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{up.port}, "
            rf"delay=[0-9.]+, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as UP\d+\)")


def from_app(m):
    return m["mail_from"] == SENDER


def is_bounce(m):
    return m["mail_from"] in ("", "<>")


def check_content(got, sent):
    """The upstream's copy is postern's Received: line(s) + the message."""
    assert got.endswith(sent), "message bytes changed on the way"
    head = got[:len(got) - len(sent)]
    assert head.startswith(b"Received: "), head[:200]


# --------------------------------------------------------------------------
# the seed's setup: implicit TLS (port 465 style) + AUTH


def test_wrappermode_auth_delivers_bytes_intact(make_postern, upstream, test_ca):
    up = upstream(mode="implicit")
    p = start_relay(make_postern, up, test_ca, verbose=True)
    msg = message(subject="报告 report", body=rich_body())
    qid = p.send(SENDER, [RCPT, RCPT2], msg, mail_options=["BODY=8BITMIME"])
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["login"] == USER
    assert m["tls"] is True
    assert m["mail_from"] == SENDER
    assert sorted(m["rcpt_tos"]) == sorted([RCPT, RCPT2])
    assert "BODY=8BITMIME" in m["mail_options"]
    assert any(o.startswith("SIZE=") for o in m["mail_options"])
    check_content(m["content"], msg)
    p.wait_log(sent_line(qid, RCPT, up))
    p.wait_log(sent_line(qid, RCPT2, up))
    p.wait_queue_empty()
    log = p.log()
    assert re.search(r"Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]", log)
    assert "AUTH PLAIN <redacted>" in log       # -v traces the dialogue, redacted
    assert up.auths == [("PLAIN", USER, True)]
    assert_no_secret(p)


def test_8bit_downgraded_for_upstream_without_8bitmime(make_postern, upstream, test_ca):
    """No 8BITMIME upstream (RFC 6152): the 8-bit text part leaves as
    quoted-printable, 7-bit only, without BODY=8BITMIME, with SIZE= of
    what is sent, and decodes to the original text.  (With 8BITMIME the
    bytes pass unchanged: test_wrappermode_auth_delivers_bytes_intact.)"""
    import email
    import email.policy
    up = upstream(mode="implicit", eightbitmime=False)
    p = start_relay(make_postern, up, test_ca)
    text = ("你好，世界。这是一封通过 postern 中转的测试邮件。\r\n" * 3 +
            "一" * 40 + "\r\n.以点开头的行\r\n行尾有空格 = 等号  \r\n-- \r\n签名\r\n")
    body = text.encode("utf-8")
    msg = (b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n" + message(subject="zh", body=body))
    qid = p.send(SENDER, RCPT, msg, mail_options=["BODY=8BITMIME"])
    [m] = up.wait_messages(1, where=from_app, done=lambda: p.wait_removed(qid))
    got = m["content"]
    assert all(b < 0x80 for b in got), "8-bit bytes reached a server without 8BITMIME"
    assert "BODY=8BITMIME" not in m["mail_options"]
    assert f"SIZE={len(got)}" in m["mail_options"], (m["mail_options"], len(got))
    head = got.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nContent-Transfer-Encoding: quoted-printable\r\n" in head + b"\r\n"
    assert b"8bit" not in head
    assert all(len(line) <= 76 for line in got.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))
    parsed = email.message_from_bytes(got, policy=email.policy.default)
    assert parsed.get_content() == text
    assert parsed.get_payload(decode=True) == body
    p.wait_log(sent_line(qid, RCPT, up))
    assert re.search(rf"{qid}: 8-bit content converted to 7-bit for 127\.0\.0\.1\[127\.0\.0\.1\]"
                     rf":{up.port} \(no 8BITMIME\)", p.log())


def test_binary_content_bounces_without_8bitmime(make_postern, upstream, test_ca):
    """A part labelled binary cannot be downgraded: 5.6.3, nothing sent."""
    up = upstream(mode="implicit", eightbitmime=False)
    p = start_relay(make_postern, up, test_ca)
    body = (b"--b\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n\x00\xff\xfe data\r\n--b--\r\n")
    msg = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n" +
           message(subject="binary", body=body))
    qid = p.send(SENDER, RCPT, msg, mail_options=["BODY=8BITMIME"])
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*dsn=5\.6\.3, status=bounced \(Conversion "
               rf"required and prohibited: message has binary content and host "
               rf"127\.0\.0\.1\[127\.0\.0\.1\] does not support 8BITMIME\)")
    assert [m for m in up.messages if from_app(m)] == []


def postfix_break(data, limit=998):
    """What Postfix's smtp_line_length_limit makes of CRLF content: a line
    longer than limit bytes is cut after limit bytes and continues on lines
    of a SPACE and at most limit-1 more bytes ("<CR><LF><SPACE>")."""
    out = []
    for line in data.split(b"\r\n"):
        out.append(line[:limit])
        rest = line[limit:]
        while rest:
            out.append(b" " + rest[:limit - 1])
            rest = rest[limit - 1:]
    return b"\r\n".join(out)


def test_long_lines_broken_like_postfix(make_postern, upstream, test_ca):
    """Lines over 998 bytes (RFC 5322 2.1.1) do not reach a strict server
    (aiosmtpd answers 500 to a line over 1000 bytes with its CRLF): like
    Postfix's smtp_line_length_limit = 998, they are broken with
    <CR><LF><SPACE>, header and body alike, nothing else changes."""
    up = upstream(mode="implicit")
    p = start_relay(make_postern, up, test_ca)
    digits = b"0123456789" * 500
    line5000 = digits[:998] + b"." + digits[999:5000]   # a continuation starts with '.'
    body = (line5000 + b"\r\n" + b"a" * 998 + b"\r\n" + b"b" * 999 + b"\r\n" +
            b"." + b"dot " * 400 + b"\r\n" + b"c" * 1995 + b"\r\nend\r\n")
    msg = b"X-Long: " + b"h" * 1500 + b"\r\n" + message(subject="long lines", body=body)
    assert len(line5000) == 5000
    qid = p.send(SENDER, RCPT, msg)
    [m] = up.wait_messages(1, where=from_app)
    got = m["content"]
    assert max(len(line) for line in got.split(b"\r\n")) <= 998
    check_content(got, postfix_break(msg))
    assert b"\r\n ." + digits[999:999 + 20] in got
    assert b"\r\n" + b"a" * 998 + b"\r\n" in got        # 998 bytes: left alone
    p.wait_log(sent_line(qid, RCPT, up))
    assert len(re.findall(rf"{qid}: breaking line > 998 bytes with <CR><LF>SPACE",
                          p.log())) == 1


def test_long_lines_broken_after_8bit_downgrade(make_postern, upstream, test_ca):
    """Both rewrites on the way out compose: to a server without 8BITMIME the
    8-bit part becomes quoted-printable (its long line is soft-broken and
    decodes intact), then a 7-bit part's long line is broken with
    <CR><LF><SPACE>."""
    import email
    import email.policy
    up = upstream(mode="implicit", eightbitmime=False)
    p = start_relay(make_postern, up, test_ca)
    zh = ("你好，世界。" * 300).encode("utf-8")              # one 5400-byte line
    seven = b"x" * 3000
    body = (b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + zh + b"\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\n" + seven + b"\r\n--b--\r\n")
    msg = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n" +
           message(subject="both", body=body))
    qid = p.send(SENDER, RCPT, msg, mail_options=["BODY=8BITMIME"])
    [m] = up.wait_messages(1, where=from_app)
    got = m["content"]
    assert all(b < 0x80 for b in got)
    assert max(len(line) for line in got.split(b"\r\n")) <= 998
    assert postfix_break(b"\r\n" + seven + b"\r\n") in got
    parts = list(email.message_from_bytes(got, policy=email.policy.default).iter_parts())
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert parts[0].get_payload(decode=True) == zh
    p.wait_log(sent_line(qid, RCPT, up))
    p.wait_log(rf"{qid}: breaking line > 998 bytes with <CR><LF>SPACE")


@pytest.mark.parametrize("level", ["encrypt", "verify"])
def test_starttls_auth(make_postern, upstream, test_ca, level):
    up = upstream(mode="starttls")
    # the password map key without the port: Postfix's second lookup
    p = start_relay(make_postern, up, test_ca, verbose=True,
                    entries={"[127.0.0.1]": f"{USER}:{PASSWORD}"},
                    smtp_tls_security_level=level,
                    smtp_tls_CAfile=test_ca.ca if level == "verify" else "")
    msg = message(body=rich_body())
    qid = p.send(SENDER, RCPT, msg)
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["login"] == USER and m["tls"] is True
    check_content(m["content"], msg)
    p.wait_log(sent_line(qid, RCPT, up))
    word = "Verified" if level == "verify" else "Untrusted"
    assert f"{word} TLS connection established" in p.log()
    assert_no_secret(p)


def test_pipelining_and_rcpt_results(make_postern, upstream, test_ca):
    """A server with PIPELINING gets MAIL, RCPTs and DATA in one go; the
    replies still map to the right recipients."""
    up = upstream(mode="implicit", pipelining=True)
    up.rcpt_replies["bad@customer.test"] = "550 5.1.1 <bad@customer.test>: User unknown"
    up.rcpt_replies["later@customer.test"] = "451 4.3.0 try again later"
    p = start_relay(make_postern, up, test_ca, verbose=True)
    qid = p.send(SENDER, [RCPT, "bad@customer.test", "later@customer.test", RCPT2], message())
    [m] = up.wait_messages(1, where=from_app)
    assert m["rcpt_tos"] == [RCPT, RCPT2]
    p.wait_log(sent_line(qid, RCPT, up))
    p.wait_log(sent_line(qid, RCPT2, up))
    p.wait_log(rf"{qid}: to=<bad@customer\.test>, .*dsn=5\.1\.1, status=bounced \(host "
               rf"127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 <bad@customer\.test>: User "
               rf"unknown \(in reply to RCPT TO command\)\)")
    p.wait_log(rf"{qid}: to=<later@customer\.test>, .*dsn=4\.3\.0, status=deferred .*451 4\.3\.0")
    assert len([x for x in up.messages if from_app(x)]) == 1      # the attempt is over
    # one write: MAIL, 4 RCPTs and DATA went out before the first reply
    log = p.log()
    i_mail = log.index("> 127.0.0.1[127.0.0.1]:%d: MAIL FROM:<%s>" % (up.port, SENDER))
    i_data = log.index("> 127.0.0.1[127.0.0.1]:%d: DATA" % up.port, i_mail)
    i_reply = log.index("< 127.0.0.1[127.0.0.1]:%d: 250" % up.port, i_mail)
    assert i_data < i_reply, "DATA was not pipelined with MAIL and RCPT"
    with up.lock:
        up.rcpt_replies.clear()
    [_, m2] = up.wait_messages(2, where=from_app, done=lambda: p.wait_removed(qid))
    assert m2["rcpt_tos"] == ["later@customer.test"]


# --------------------------------------------------------------------------
# failures


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
def test_verify_with_wrong_ca_defers(make_postern, upstream, test_ca, mode):
    up = upstream(mode=mode)
    p = start_relay(make_postern, up, test_ca, smtp_tls_CAfile=test_ca.other_ca)
    qid = p.send(SENDER, RCPT, message())
    # the first attempt and the retry (after the 1s back-off) fail the same way
    p.wait_log_count(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=deferred \(Server certificate "
                     rf"not verified: [^)]*certificate", 2)
    assert qid in p.queue_files()
    assert up.messages == [] and up.auths == []
    assert qid in p.queue_files()
    assert_no_secret(p)


def test_tls_required_but_not_offered_defers(make_postern, upstream, test_ca):
    up = upstream(mode="plain", auth=False)
    p = start_relay(make_postern, up, test_ca, entries=False, smtp_tls_security_level="encrypt")
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=deferred \(TLS is required, but was "
               rf"not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]\)")
    assert up.messages == []


def test_may_without_starttls_sends_in_plaintext(make_postern, upstream, test_ca):
    up = upstream(mode="plain", auth=False)
    p = start_relay(make_postern, up, test_ca, entries=False, smtp_tls_security_level="may")
    qid = p.send(SENDER, RCPT, message())
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["tls"] is False and m["login"] is None
    p.wait_log(sent_line(qid, RCPT, up))


def test_upstream_down_then_delivered_once(make_postern, upstream, test_ca):
    up = upstream(mode="implicit", start=False)
    p = start_relay(make_postern, up, test_ca)
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{up.port}, "
               rf".*dsn=4\.4\.1, status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:"
               rf"{up.port}: Connection refused\)")
    up.start()
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))    # and no later attempt
    assert m["rcpt_tos"] == [RCPT]
    p.wait_log(sent_line(qid, RCPT, up))
    p.wait_queue_empty()


def test_rcpt_451_deferred_then_delivered(make_postern, upstream, test_ca):
    up = upstream(mode="starttls")
    up.rcpt_replies[RCPT2] = "451 4.3.0 <ops@customer.test>: try again later"
    p = start_relay(make_postern, up, test_ca)
    qid = p.send(SENDER, [RCPT, RCPT2], message())
    [m] = up.wait_messages(1)
    assert m["rcpt_tos"] == [RCPT]
    p.wait_log(sent_line(qid, RCPT, up))
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT2)}>, .*dsn=4\.3\.0, status=deferred \(host "
               rf"127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.3\.0 <ops@customer\.test>: try again "
               rf"later \(in reply to RCPT TO command\)\)")
    assert len(up.messages) == 1        # the first attempt is over
    with up.lock:
        up.rcpt_replies.clear()
    [_, m2] = up.wait_messages(2, done=lambda: p.wait_removed(qid))
    assert m2["rcpt_tos"] == [RCPT2]          # RCPT got its copy once
    p.wait_log(sent_line(qid, RCPT2, up))
    p.wait_queue_empty()


def test_rcpt_550_bounced(make_postern, upstream, test_ca):
    up = upstream(mode="implicit")
    up.rcpt_replies[RCPT] = "550 5.1.1 <boss@customer.test>: Recipient address rejected"
    p = start_relay(make_postern, up, test_ca)
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{up.port}, "
               rf".*dsn=5\.1\.1, status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 "
               rf"5\.1\.1 <boss@customer\.test>: Recipient address rejected \(in reply to RCPT "
               rf"TO command\)\)")
    # nothing was accepted: no DATA for the original message
    assert all(m["mail_from"] != SENDER for m in up.messages)


def test_rcpt_550_bounce_dsn_reaches_sender(make_postern, upstream, test_ca):
    """DEPENDS ON THE DSN INTEGRATION (queue/bounce + scheduler): the
    non-delivery notification to the sender travels through the same
    relayhost, with the null sender."""
    up = upstream(mode="implicit")
    up.rcpt_replies[RCPT] = "550 5.1.1 <boss@customer.test>: Recipient address rejected"
    p = start_relay(make_postern, up, test_ca)
    sender = "app@apps.company.test"        # not a local domain: its mail goes upstream
    qid = p.send(sender, RCPT, message(subject="will bounce", sender=sender))
    [dsn] = up.wait_messages(1, where=is_bounce,
                                 done=lambda: p.wait_queue_empty(timeout=15))
    assert dsn["rcpt_tos"] == [sender]
    assert dsn["login"] == USER
    body = dsn["content"]
    assert b"multipart/report" in body and b"delivery-status" in body
    assert b"boss@customer.test" in body and b"5.1.1" in body
    assert b"Subject: will bounce" in body
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=bounced")
    p.wait_queue_empty(timeout=15)


def test_connection_dropped_mid_data_retried_once(make_postern, upstream, test_ca):
    up = upstream(mode="implicit")
    up.drop_data = 1
    p = start_relay(make_postern, up, test_ca)
    msg = message(body=rich_body())
    qid = p.send(SENDER, RCPT, msg)
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=deferred \(lost connection with "
               rf"127\.0\.0\.1\[127\.0\.0\.1\] while sending end of data")
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert up.dropped == 1
    check_content(m["content"], msg)
    p.wait_log(sent_line(qid, RCPT, up))
    p.wait_queue_empty()


def test_size_limit_of_the_server_bounces(make_postern, upstream, test_ca):
    up = upstream(mode="implicit", data_size_limit=2000)
    p = start_relay(make_postern, up, test_ca)
    qid = p.send(SENDER, RCPT, message(body=(b"y" * 100 + b"\r\n") * 30))
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*dsn=5\.3\.4, status=bounced \(message size "
               rf"\d+ exceeds size limit 2000 of server 127\.0\.0\.1\[127\.0\.0\.1\]\)")


def test_smtputf8_address_needs_smtputf8_upstream(make_postern, upstream, test_ca):
    up = upstream(mode="implicit", smtputf8=False)
    p = start_relay(make_postern, up, test_ca)
    qid = p.send(SENDER, ["用户@customer.test", RCPT], message(), mail_options=["SMTPUTF8"])
    [m] = up.wait_messages(1, where=from_app, done=lambda: p.wait_removed(qid))
    assert m["rcpt_tos"] == [RCPT]
    assert "SMTPUTF8" not in m["mail_options"]
    # log lines are 7-bit: the UTF-8 address is written \xNN (docs/logging.md)
    p.wait_log(rf"{qid}: to=<\\xe7\\x94\\xa8\\xe6\\x88\\xb7@customer\.test>, .*dsn=5\.6\.7, "
               rf"status=bounced \(SMTPUTF8 is "
               rf"required, but was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]\)")
    p.wait_log(sent_line(qid, RCPT, up))


def test_rcpt_timeout_defers_then_delivered(make_postern, upstream, test_ca):
    up = upstream(mode="implicit")
    up.rcpt_delay = 2
    p = start_relay(make_postern, up, test_ca, smtp_rcpt_timeout="1s")
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*dsn=4\.4\.2, status=deferred \(conversation "
               rf"with 127\.0\.0\.1\[127\.0\.0\.1\] timed out while sending RCPT TO\)")
    up.rcpt_delay = 0
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["rcpt_tos"] == [RCPT]
    p.wait_log(sent_line(qid, RCPT, up))
    p.wait_queue_empty()


def test_millisecond_timers(make_postern, upstream, test_ca):
    """Times with the ms unit drive the client's timers and the retries in
    milliseconds: a RCPT reply 0.7 s late times out at 300ms (rounded to
    whole seconds it would arrive in time), and the retry comes after a
    backoff of a few hundred ms."""
    up = upstream(mode="implicit")
    up.rcpt_delay = 0.7
    p = start_relay(make_postern, up, test_ca, smtp_rcpt_timeout="300ms",
                    minimal_backoff_time="200ms", maximal_backoff_time="400ms",
                    queue_run_delay="100ms")
    r = run_check(p.config_path)
    assert "\nsmtp_rcpt_timeout = 300ms\n" in "\n" + r.stdout, r.stdout
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*dsn=4\.4\.2, status=deferred \(conversation "
               rf"with 127\.0\.0\.1\[127\.0\.0\.1\] timed out while sending RCPT TO\)")
    up.rcpt_delay = 0
    [m] = up.wait_messages(1)
    assert m["rcpt_tos"] == [RCPT]
    p.wait_log(sent_line(qid, RCPT, up))
    p.wait_queue_empty()


def test_large_message_streams_intact(make_postern, upstream, test_ca):
    """Several MB: the body leaves in bounded chunks (write watermarks), the
    final dot with the last one."""
    up = upstream(mode="implicit", pipelining=True)
    p = start_relay(make_postern, up, test_ca)
    chunk = base64.encodebytes(os.urandom(57 * 1000)).replace(b"\n", b"\r\n")
    body = (chunk + b".dot line\r\n") * 60          # ~4.7 MB, 60 lines to stuff
    msg = message(subject="big", body=body)
    qid = p.send(SENDER, RCPT, msg)
    [m] = up.wait_messages(1, timeout=60, done=lambda: p.wait_removed(qid, timeout=60))
    check_content(m["content"], msg)
    p.wait_log(sent_line(qid, RCPT, up))


def test_may_falls_back_to_plaintext_after_tls_failure(make_postern, upstream, test_ca):
    """Level may: STARTTLS offered but the handshake fails (the server stops
    at TLS 1.1) -> the same server again without STARTTLS, like Postfix."""
    up = upstream(mode="starttls", auth=False, require_tls=False,
                  tls_max=ssl.TLSVersion.TLSv1_1)
    p = start_relay(make_postern, up, test_ca, entries=False, smtp_tls_security_level="may")
    qid = p.send(SENDER, RCPT, message())
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["tls"] is False
    p.wait_log(sent_line(qid, RCPT, up))
    assert "TLS handshake failed" in p.log()


def test_encrypt_does_not_fall_back_after_tls_failure(make_postern, upstream, test_ca):
    up = upstream(mode="starttls", auth=False, require_tls=False,
                  tls_max=ssl.TLSVersion.TLSv1_1)
    p = start_relay(make_postern, up, test_ca, entries=False, smtp_tls_security_level="encrypt")
    qid = p.send(SENDER, RCPT, message())
    # no plaintext fallback, in the first attempt nor in the retry
    p.wait_log_count(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=deferred \(TLS handshake failed",
                     2)
    assert up.messages == []


def test_destination_concurrency_limit(make_postern, upstream, test_ca):
    up = upstream(mode="implicit")
    up.rcpt_delay = 0.4
    p = start_relay(make_postern, up, test_ca, default_destination_concurrency_limit="2")
    qids = [p.send(SENDER, RCPT, message(subject=f"m{i}")) for i in range(6)]
    up.wait_messages(6, timeout=30, done=lambda: p.wait_removed(qids, timeout=30))
    for q in qids:
        p.wait_log(sent_line(q, RCPT, up))
    assert up.max_active == 2, up.max_active
    # the cache carried the later messages: fewer connections than messages
    assert up.connections <= 4, up.connections


# --------------------------------------------------------------------------
# a bare postmaster stays on this host


def test_bare_postmaster_delivered_locally_not_to_relayhost(make_postern, upstream, test_ca):
    """RCPT TO:<postmaster> without a domain, from outside and from inside
    mynetworks, with default_transport = smtp and a relayhost: qualified as
    postmaster@<first mydestination domain> (myorigin is not local here) and
    delivered by local_transport (capture); the relayhost only ever sees the
    remote recipient; nothing is deferred."""
    up = upstream(mode="implicit")
    p = start_relay(make_postern, up, test_ca, mynetworks="127.0.0.1/32")
    pm = "postmaster@" + LOCAL_DOMAIN
    s = p.smtp(source_address=("127.0.0.2", 0))
    try:
        assert s.ehlo(CLIENT_HELO)[0] == 250
        outside = p.send(SENDER, ["postmaster"], message(subject="from outside"), conn=s)
        assert s.mail(SENDER)[0] == 250
        assert s.rcpt(RCPT)[0] == 554          # still no relaying for outsiders
        s.rset()
    finally:
        s.quit()
    inside = p.send(SENDER, ["PostMaster", RCPT], message(subject="from inside"))
    p.wait_for_maildir(pm, 2)
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(inside))
    assert m["rcpt_tos"] == [RCPT]
    p.wait_log(sent_line(inside, RCPT, up))
    for qid in (outside, inside):
        p.wait_log(rf"{qid}: to=<{re.escape(pm)}>, relay=capture, .*status=sent")
    p.wait_queue_empty()
    log = p.log()
    assert "status=deferred" not in log, log
    assert not re.search(r"to=<postmaster>", log, re.I), log


# --------------------------------------------------------------------------
# AUTH


def test_auth_refused_in_cleartext(make_postern, upstream, test_ca):
    up = upstream(mode="plain")             # offers AUTH without TLS
    p = start_relay(make_postern, up, test_ca, verbose=True, smtp_tls_security_level="may",
                    smtp_sasl_allow_cleartext_loopback="no")
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=deferred \(authentication required "
               rf"but the connection to 127\.0\.0\.1\[127\.0\.0\.1\]:{up.port} is not encrypted "
               rf"\(set smtp_tls_security_level = encrypt or use smtp_tls_wrappermode\)\)")
    assert up.auths == [] and up.messages == []
    assert "AUTH" not in "".join(l for l in p.log().splitlines() if "> 127.0.0.1" in l)
    assert_no_secret(p)


def test_auth_cleartext_allowed_on_loopback(make_postern, upstream, test_ca):
    up = upstream(mode="plain")
    p = start_relay(make_postern, up, test_ca, smtp_tls_security_level="may",
                    smtp_sasl_allow_cleartext_loopback="yes")
    qid = p.send(SENDER, RCPT, message())
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["login"] == USER and m["tls"] is False
    p.wait_log(sent_line(qid, RCPT, up))
    assert_no_secret(p)


def test_login_mechanism(make_postern, upstream, test_ca):
    """A server without PLAIN: AUTH LOGIN, both answers redacted in the log."""
    up = upstream(mode="implicit", auth_exclude=["PLAIN"])
    p = start_relay(make_postern, up, test_ca, verbose=True)
    qid = p.send(SENDER, RCPT, message())
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["login"] == USER
    assert up.auths == [("LOGIN", USER, True)]
    p.wait_log(sent_line(qid, RCPT, up))
    log = p.log()
    assert "> 127.0.0.1[127.0.0.1]:%d: AUTH LOGIN" % up.port in log
    assert log.count("> 127.0.0.1[127.0.0.1]:%d: <redacted>" % up.port) == 2
    assert_no_secret(p)
    assert base64.b64encode(USER.encode()).decode() not in log


def test_wrong_password_defers_without_leaking(make_postern, upstream, test_ca):
    up = upstream(mode="implicit")
    wrong = "Wr0ng-Pa55word"
    p = start_relay(make_postern, up, test_ca, verbose=True,
                    entries={f"[127.0.0.1]:{up.port}": f"{USER}:{wrong}"})
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*dsn=4\.\d\.\d+, status=deferred \(SASL "
               rf"authentication failed; server 127\.0\.0\.1\[127\.0\.0\.1\] said: 535")
    assert up.messages == []
    assert up.auths and up.auths[0][1] == USER and up.auths[0][2] is False
    assert_no_secret(p, password=wrong)


def test_noplaintext_refuses_plain_and_login(make_postern, upstream, test_ca):
    up = upstream(mode="implicit")
    p = start_relay(make_postern, up, test_ca,
                    smtp_sasl_security_options="noanonymous, noplaintext")
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=deferred \(SASL authentication "
               rf"failed: smtp_sasl_security_options = noplaintext")
    assert up.auths == []


def test_no_credentials_no_auth_mail_rejected(make_postern, upstream, test_ca):
    """No entry for this relayhost: no AUTH; the upstream answers MAIL with
    530, a 5xx, so the message bounces (Postfix does the same)."""
    up = upstream(mode="implicit")
    p = start_relay(make_postern, up, test_ca, entries={"[other.example]:465": "u:p"})
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=bounced \(host 127\.0\.0\.1"
               rf"\[127\.0\.0\.1\] said: 530 5\.7\.0 Authentication required \(in reply to "
               rf"MAIL FROM command\)\)")
    assert up.auths == []


def test_password_map_readable_by_others_is_refused(make_postern, upstream, test_ca):
    up = upstream(mode="implicit", start=False)
    p = make_postern(start=False)
    pw = password_map(p.base / "sasl_passwd", {f"[127.0.0.1]:{up.port}": f"{USER}:{PASSWORD}"},
                      mode=0o644)
    p.settings.update(relay_settings(up, test_ca, pw))
    p.write_config()
    require_binary()
    proc = subprocess.run([POSTERN_BIN, "serve", "-c", str(p.config_path)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                          env=binary_env())
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1, (proc.returncode, err)
    assert str(pw) in err, err
    assert PASSWORD not in err


def test_password_map_bad_line_never_quoted(make_postern, upstream, test_ca):
    """A sasl_passwd line without whitespace is all key: the error names the
    file and line, and neither `postern check` nor the reload log quotes it."""
    up = upstream(mode="implicit")
    p = start_relay(make_postern, up, test_ca)
    pw = p.base / "sasl_passwd"
    bad = f"[127.0.0.1]:{up.port}{USER}:{PASSWORD}"
    with open(pw, "w", encoding="utf-8") as f:      # keeps owner and mode 0600
        f.write(f"# relay\n{bad}\n")
    r = run_check(p.config_path)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert f"{pw}:2: no whitespace between key and value" in r.stderr, r.stderr
    for out in (r.stdout, r.stderr):
        assert PASSWORD not in out and USER not in out, out
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(rf"reload failed, keeping the running configuration: "
               rf"smtp_sasl_password_maps: {re.escape(str(pw))}:2: no whitespace")
    assert_no_secret(p)
    assert USER not in p.log()


def test_helo_fallback_without_esmtp(make_postern, upstream, test_ca):
    """EHLO answered with 502: HELO, then a plain lock-step transaction
    without ESMTP parameters."""
    up = upstream(mode="plain", auth=False, ehlo=False)
    p = start_relay(make_postern, up, test_ca, entries=False, verbose=True,
                    smtp_tls_security_level="may")
    qid = p.send(SENDER, RCPT, message())
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["mail_options"] == []
    p.wait_log(sent_line(qid, RCPT, up))
    assert "> 127.0.0.1[127.0.0.1]:%d: HELO mx.postern.test" % up.port in p.log()


def scripted_settings(port, **kw):
    s = dict(default_transport="smtp", relayhost=f"[127.0.0.1]:{port}",
             smtp_tls_security_level="none", smtp_helo_timeout="5s", **FAST_RETRY)
    s.update(kw)
    return s


def test_greeting_refused_defers(make_postern):
    def script(conn, n):
        conn.send("554 5.7.1 no service for you")
        while conn.readline() not in (None, "QUIT"):
            pass
    srv = ScriptedServer(script)
    try:
        p = make_postern(**scripted_settings(srv.port))
        qid = p.send(SENDER, RCPT, message())
        p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=deferred \(host 127\.0\.0\.1"
                   rf"\[127\.0\.0\.1\] refused to talk to me: 554 5\.7\.1 no service for you\)")
        wait_until(lambda: srv.received[0][:1] == ["QUIT"], "QUIT after the 554 greeting")
        assert srv.received[0] == ["QUIT"]          # a polite goodbye, nothing else
    finally:
        srv.stop()


def test_reply_line_too_long_is_a_protocol_error(make_postern):
    def script(conn, n):
        conn.send("220 " + "x" * 2100)
        conn.readline()
    srv = ScriptedServer(script)
    try:
        p = make_postern(**scripted_settings(srv.port))
        qid = p.send(SENDER, RCPT, message())
        p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=deferred \(host 127\.0\.0\.1"
                   rf"\[127\.0\.0\.1\] sent a reply line longer than 2048 bytes \(protocol error\)\)")
    finally:
        srv.stop()


def test_starttls_reply_injection_refused(make_postern):
    """Bytes after the 220 to STARTTLS (before the handshake) could be read
    as if they came over TLS: the connection is dropped."""
    def script(conn, n):
        conn.send("220 scripted.test ESMTP")
        while True:
            line = conn.readline()
            if line is None:
                return
            if line.upper().startswith("EHLO"):
                conn.send("250-scripted.test\r\n250 STARTTLS")
            elif line.upper() == "STARTTLS":
                conn.send("220 go ahead\r\n250 injected\r\n")
            else:
                conn.send("502 5.5.2 no")
    srv = ScriptedServer(script)
    try:
        p = make_postern(**scripted_settings(srv.port, smtp_tls_security_level="may"))
        qid = p.send(SENDER, RCPT, message())
        p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=deferred \(host 127\.0\.0\.1"
                   rf"\[127\.0\.0\.1\] sent data after its STARTTLS reply \(protocol error\)\)")
        assert not any(l.startswith("MAIL") for c in srv.received for l in c)
    finally:
        srv.stop()


# --------------------------------------------------------------------------
# connection cache


@pytest.mark.parametrize("cache", ["yes", "no"])
def test_connection_cache(make_postern, upstream, test_ca, cache):
    """Two messages in a row: with smtp_connection_cache_on_demand the
    second goes over the same connection (one EHLO, one AUTH)."""
    up = upstream(mode="implicit")
    p = start_relay(make_postern, up, test_ca, smtp_connection_cache_on_demand=cache,
                    smtp_connection_cache_time_limit="10s")
    q1 = p.send(SENDER, RCPT, message(subject="one"))
    up.wait_messages(1, done=lambda: p.wait_removed(q1))
    p.wait_log(sent_line(q1, RCPT, up))
    q2 = p.send(SENDER, RCPT2, message(subject="two"))
    msgs = up.wait_messages(2, done=lambda: p.wait_removed(q2))
    p.wait_log(sent_line(q2, RCPT2, up))
    assert [m["login"] for m in msgs] == [USER, USER]
    assert len(up.auths) == (1 if cache == "yes" else 2)
    p.wait_queue_empty()


def test_cached_connection_closed_by_server_while_idle(make_postern, upstream, test_ca):
    up = upstream(mode="implicit", idle_timeout=1)
    p = start_relay(make_postern, up, test_ca, smtp_connection_cache_time_limit="20s")
    q1 = p.send(SENDER, RCPT, message(subject="one"))
    up.wait_messages(1, done=lambda: p.wait_removed(q1))
    p.wait_log(sent_line(q1, RCPT, up))
    # the server says 421 and closes the idle connection
    wait_until(lambda: up.connections == 1 and not up.active, "the upstream closed the idle "
               "connection")
    q2 = p.send(SENDER, RCPT2, message(subject="two"))
    up.wait_messages(2, done=lambda: p.wait_removed(q2))
    p.wait_log(sent_line(q2, RCPT2, up))
    assert up.connections == 2


def test_stale_cached_connection_falls_back_to_a_fresh_one(make_postern):
    """The cached connection dies on its next MAIL without a reply: the job
    goes over a new connection and is not deferred."""
    def script(conn, n):
        conn.send("220 scripted.test ESMTP")
        if n > 0:
            serve_transaction(conn)
            return
        rset = False
        while True:
            line = conn.readline()
            if line is None:
                return
            verb = line[:4].upper()
            if verb == "MAIL" and rset:
                return          # close without a word
            if verb == "RSET":
                rset = True
            if verb == "DATA":
                conn.send("354 go ahead")
                while conn.readline() not in (None, "."):
                    pass
                conn.send("250 2.0.0 Ok: queued as S1")
            elif verb == "EHLO":
                conn.send("250-scripted.test\r\n250 PIPELINING")
            else:
                conn.send("250 2.0.0 Ok")
    srv = ScriptedServer(script)
    try:
        p = make_postern(**scripted_settings(srv.port, smtp_connection_cache_time_limit="20s"))
        q1 = p.send(SENDER, RCPT, message(subject="one"))
        p.wait_log(rf"{q1}: to=<{re.escape(RCPT)}>, .*status=sent \(250 2\.0\.0 Ok: queued as S1\)")
        q2 = p.send(SENDER, RCPT2, message(subject="two"))
        p.wait_log(rf"{q2}: to=<{re.escape(RCPT2)}>, .*status=sent \(250 2\.0\.0 Ok: queued as S1\)")
        log = p.log()
        assert f"{q2}: cached connection to 127.0.0.1[127.0.0.1]:{srv.port} is gone" in log
        assert not re.search(rf"{q2}: to=.*status=deferred", log)
        assert len(srv.received) == 2
    finally:
        srv.stop()


def test_shutdown_with_cached_and_busy_connections(make_postern, upstream, test_ca):
    """SIGTERM while a connection sits in the cache: exit 0, no leak (the
    teardown checks the sanitizer report)."""
    up = upstream(mode="implicit")
    p = start_relay(make_postern, up, test_ca, smtp_connection_cache_time_limit="60s")
    q1 = p.send(SENDER, RCPT, message())
    up.wait_messages(1, done=lambda: p.wait_removed(q1))
    p.wait_log(sent_line(q1, RCPT, up))
    p.stop()


def test_shutdown_during_delivery(make_postern, test_ca):
    """SIGTERM while a delivery waits for a greeting that never comes: the
    job is handed back deferred, the daemon exits 0 without leaks, and the
    message is still queued."""
    # accepts, then never says a word (reads until postern hangs up)
    srv = ScriptedServer(lambda conn, n: conn.readline())
    try:
        p = make_postern(default_transport="smtp", relayhost=f"[127.0.0.1]:{srv.port}",
                         smtp_tls_security_level="none", **FAST_RETRY)
        qid = p.send(SENDER, RCPT, message())
        # the delivery is connected and waits for the greeting
        wait_until(lambda: len(srv.received) == 1, f"{qid} connected to the next hop")
        p.stop()
        assert qid in p.queue_files()
        assert f"{qid}: to=<{RCPT}>, relay=none" in p.log() or \
            "mail system is shutting down" in p.log()
    finally:
        srv.stop()


# --------------------------------------------------------------------------
# SIGHUP re-reads secret files that only root can read


def test_sighup_rereads_root_only_password_map(make_postern, upstream, test_ca):
    """sasl_passwd at mode 0600, owned by root: the worker runs as
    mail_owner and cannot open it, the privileged parent reads it on SIGHUP
    and hands it over. The new password is used at once, and neither
    password reaches the log."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (the daemon must drop privileges)", pytrace=False)
    up = upstream(mode="implicit", password="new-secret-2")
    p = start_relay(make_postern, up, test_ca)
    pw = p.base / "sasl_passwd"
    st = os.stat(pw)
    assert st.st_uid == 0 and (st.st_mode & 0o777) == 0o600
    qid = p.send(SENDER, RCPT, message(subject="old password"))
    p.wait_log(rf"{qid}: to=<{re.escape(RCPT)}>, .*status=(deferred|bounced) .*535")
    password_map(pw, {f"[127.0.0.1]:{up.port}": f"{USER}:new-secret-2"})
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload: configuration")
    assert "reload failed" not in p.log()
    qid = p.send(SENDER, RCPT, message(subject="new password"))
    p.wait_log(sent_line(qid, RCPT, up))
    # (the first message may be retried with the new password too)
    [m] = up.wait_messages(1, where=lambda m: b"new password" in m["content"],
                           done=lambda: p.wait_removed(qid))
    assert m["login"] == USER
    assert_no_secret(p)
    assert_no_secret(p, password="new-secret-2")


def test_sighup_with_unreadable_password_map_keeps_running(make_postern, upstream, test_ca):
    """A reload whose sasl_passwd became world-readable fails in the parent
    with the file's name, keeps the running credentials, and never quotes
    the file."""
    up = upstream(mode="implicit")
    p = start_relay(make_postern, up, test_ca)
    pw = p.base / "sasl_passwd"
    os.chmod(pw, 0o644)
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(rf"reload failed, keeping the running configuration: .*{re.escape(str(pw))} "
               r"is readable by group or others")
    qid = p.send(SENDER, RCPT, message())
    p.wait_log(sent_line(qid, RCPT, up))
    assert_no_secret(p)
