"""Delivery attempts: routing with transport_maps, sender rewriting,
DSN bounces, expiry, delay warnings, double bounces.

Mail is read back from the capture transport's Maildirs; the deferrals come
from an smtp route to a loopback port where nothing listens."""
import email
import email.policy
import re
import socket

from conftest import free_port, split_trace, wait_until


def table(p, name, text, mode=0o644):
    path = p.base / name
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def closed_port():
    """A loopback port with nothing listening (connections are refused)."""
    return free_port()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def strip_delivery_lines(data):
    """(return-path, rest) of a capture file: the two lines capture adds."""
    lines = data.split(b"\n", 2)
    assert lines[0].startswith(b"Return-Path: <") and lines[0].endswith(b">"), lines[0]
    assert lines[1].startswith(b"Delivered-To: "), lines[1]
    return lines[0][len(b"Return-Path: <"):-1], lines[2]


def parse(path):
    rp, rest = strip_delivery_lines(read(path))
    return email.message_from_bytes(rest, policy=email.policy.default)


def dsn_fields(msg):
    """Per-recipient fields of the message/delivery-status part, as dicts."""
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert len(parts) == 3, [p.get_content_type() for p in parts]
    assert parts[1].get_content_type() == "message/delivery-status"
    blocks = parts[1].get_payload()
    return parts, [dict(b.items()) for b in blocks[1:]]


def test_transport_maps_error_route_bounces_to_sender(make_postern):
    p = make_postern(start=False)
    t = table(p, "transport", "nowhere.test error:no mail for this domain\n")
    p.settings["transport_maps"] = f"texthash:{t}"
    p.start()
    qid = p.send("app@example.com", ["x@nowhere.test"],
                 b"Subject: lost\r\nFrom: app@example.com\r\n\r\nbody\r\n")
    [dsn] = p.wait_for_maildir("app@example.com", 1)
    msg = parse(dsn)
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert strip_delivery_lines(read(dsn))[0] == b""
    parts, rcpts = dsn_fields(msg)
    assert rcpts[0]["Final-Recipient"] == "rfc822; x@nowhere.test"
    assert rcpts[0]["Action"] == "failed"
    assert rcpts[0]["Status"] == "5.0.0"
    assert "no mail for this domain" in parts[0].get_content()
    assert b"Subject: lost" in parts[2].as_bytes()
    log = p.log()
    assert f"{qid}: to=<x@nowhere.test>, relay=none" in log
    assert "status=bounced (no mail for this domain)" in log
    assert f"{qid}: sender non-delivery notification: " in log
    p.wait_queue_empty()


def test_transport_maps_parent_domain_and_capture_route(make_postern):
    port = closed_port()
    p = make_postern(start=False, default_transport="smtp",
                     relayhost=f"[127.0.0.1]:{port}", smtp_tls_security_level="none")
    t = table(p, "transport", ".inside.test capture\nkeep.test capture:\n")
    p.settings["transport_maps"] = f"texthash:{t}"
    p.start()
    qid = p.send("app@example.com", ["a@mail.inside.test", "b@keep.test", "c@outside.test"],
                 b"Subject: routes\r\n\r\nx\r\n")
    # the message stays queued (c is deferred): its first attempt is over
    # once its state file is written, with every result in it
    for rcpt in ("a@mail.inside.test", "b@keep.test"):
        p.wait_log(rf"{qid}: to=<{re.escape(rcpt)}>, relay=capture, .*status=sent")
    p.wait_log(rf"{qid}: to=<c@outside.test>, relay=.*status=deferred")
    wait_until(lambda: (p.queue_dir / "state" / qid).exists(), f"state file of {qid}")
    assert len(p.wait_for_maildir("a@mail.inside.test", 1, final=False)) == 1
    assert len(p.wait_for_maildir("b@keep.test", 1, final=False)) == 1
    # the deferred recipient keeps the message queued; the others are done
    assert p.queue_files() == [qid]


def test_bare_postmaster_not_sent_to_mx(make_postern):
    """default_transport = smtp without a relayhost (MX delivery): a bare
    postmaster is qualified with a mydestination domain and captured
    locally, never looked up as a domain-less MX nor deferred."""
    p = make_postern(default_transport="smtp", relayhost="", mynetworks="127.0.0.1/32")
    s = p.smtp(source_address=("127.0.0.2", 0))
    try:
        qid = p.send("app@example.com", ["Postmaster"], b"Subject: pm\r\n\r\nx\r\n", conn=s)
    finally:
        s.quit()
    p.wait_for_maildir("postmaster@postern.test", 1)
    p.wait_log(rf"{qid}: to=<postmaster@postern\.test>, relay=capture, .*status=sent")
    p.wait_queue_empty()
    assert "status=deferred" not in p.log()


def test_bad_transport_maps_entry_defers_not_bounces(make_postern):
    p = make_postern(start=False)
    t = table(p, "transport", "odd.test carrier-pigeon:\n")
    p.settings["transport_maps"] = f"texthash:{t}"
    p.start()
    p.send("app@example.com", ["x@odd.test"], b"Subject: odd\r\n\r\nx\r\n")
    p.wait_log(r"to=<x@odd.test>: transport_maps entry for odd.test: unknown transport")
    assert len(p.queue_files()) == 1
    assert not (p.mail_dir / "app@example.com").exists()


def test_sender_canonical_rewrites_envelope_and_from_adds_reply_to(make_postern):
    p = make_postern(start=False)
    m = table(p, "sender_canonical", "/.*/ relay-account@upstream.test\n")
    p.settings["sender_canonical_maps"] = f"regexp:{m}"
    p.start()
    body = "正文 body\r\n".encode()
    msg = (b"From: Sentry <noreply@sentry.local>\r\nTo: ops@example.com\r\n"
           b"Subject: alert\r\n\r\n" + body)
    p.send("noreply@sentry.local", ["ops@example.com"], msg, mail_options=["BODY=8BITMIME"])
    [path] = p.wait_for_maildir("ops@example.com", 1)
    tr = split_trace(read(path))
    assert tr.return_path == b"relay-account@upstream.test"
    rest = tr.rest
    assert b"From: Sentry <relay-account@upstream.test>\n" in rest
    assert b"Reply-To: Sentry <noreply@sentry.local>\n" in rest
    assert rest.endswith(b"\n\n" + body.replace(b"\r\n", b"\n"))
    assert "sender <noreply@sentry.local> rewritten to <relay-account@upstream.test>" in p.log()


def test_sender_canonical_existing_reply_to_and_envelope_only(make_postern):
    p = make_postern(start=False, sender_canonical_classes="envelope_sender")
    m = table(p, "sender_canonical", "noreply@app.test   acct@upstream.test\n")
    p.settings["sender_canonical_maps"] = f"texthash:{m}"
    p.start()
    p.send("noreply@app.test", ["ops@example.com"],
           b"From: noreply@app.test\r\nSubject: s\r\n\r\nx\r\n")
    [path] = p.wait_for_maildir("ops@example.com", 1)
    tr = split_trace(read(path))
    assert tr.return_path == b"acct@upstream.test"
    assert b"From: noreply@app.test\n" in tr.rest          # header class not enabled
    assert b"Reply-To:" not in tr.rest


def test_expired_message_bounces_with_dsn(make_postern):
    port = closed_port()
    p = make_postern(start=False, maximal_queue_lifetime="1s", minimal_backoff_time="1s",
                     maximal_backoff_time="1s", smtp_tls_security_level="none")
    t = table(p, "transport", f"dead.test smtp:[127.0.0.1]:{port}\n")
    p.settings["transport_maps"] = f"texthash:{t}"
    p.start()
    qid = p.send("app@example.com", ["x@dead.test"], b"Subject: slow\r\n\r\nx\r\n")
    [dsn] = p.wait_for_maildir("app@example.com", 1, timeout=20)
    parts, rcpts = dsn_fields(parse(dsn))
    assert rcpts[0]["Final-Recipient"] == "rfc822; x@dead.test"
    assert rcpts[0]["Action"] == "failed"
    assert rcpts[0]["Status"].startswith("4.")
    log = p.log()
    assert f"{qid}: from=<app@example.com>, status=expired, returned to sender" in log
    assert "status=deferred" in log
    p.wait_queue_empty()


def test_delay_warning_sent_once(make_postern):
    port = closed_port()
    p = make_postern(start=False, delay_warning_time="1s", maximal_queue_lifetime="1h",
                     minimal_backoff_time="1s", maximal_backoff_time="1s",
                     smtp_tls_security_level="none")
    t = table(p, "transport", f"slow.test smtp:[127.0.0.1]:{port}\n")
    p.settings["transport_maps"] = f"texthash:{t}"
    p.start()
    p.send("app@example.com", ["x@slow.test"], b"Subject: slow\r\n\r\nx\r\n")
    [warn] = p.wait_for_maildir("app@example.com", 1, timeout=20)
    msg = parse(warn)
    assert msg["Subject"].startswith("Delayed Mail")
    parts, rcpts = dsn_fields(msg)
    assert rcpts[0]["Action"] == "delayed"
    # more attempts happen, but no second warning
    p.wait_log(r"status=deferred(.|\n)*status=deferred(.|\n)*status=deferred", timeout=15)
    assert len(p.messages("app@example.com")) == 1
    assert len(p.queue_files()) == 1


def test_bounce_of_a_bounce_is_dropped_or_goes_to_2bounce(make_postern):
    p = make_postern(start=False)
    t = table(p, "transport", "nowhere.test error:gone\n")
    p.settings["transport_maps"] = f"texthash:{t}"
    p.start()
    p.send("", ["x@nowhere.test"], b"Subject: dsn\r\n\r\nx\r\n")
    p.wait_log(r"undeliverable bounce discarded")
    p.wait_queue_empty()
    p.stop()
    p.settings["2bounce_notice_recipient"] = "postmaster@example.com"
    p.start()
    p.send("", ["y@nowhere.test"], b"Subject: dsn2\r\n\r\nx\r\n")
    [n] = p.wait_for_maildir("postmaster@example.com", 1)
    assert b"y@nowhere.test" in read(n)
    assert "double-bounce notification" in p.log()
    p.wait_queue_empty()


def test_relay_to_a_second_postern(make_postern):
    """postern -> postern: the inner one captures what the outer one relays."""
    inner = make_postern(myhostname="inner.postern.test")
    outer = make_postern(default_transport="smtp", relayhost=f"[127.0.0.1]:{inner.port}",
                         smtp_tls_security_level="none")
    qid = outer.send("app@example.com", ["x@customer.test"],
                     b"From: app@example.com\r\nSubject: hop\r\n\r\nthrough two\r\n")
    [path] = inner.wait_for_maildir("x@customer.test", 1)
    data = read(path)
    assert data.count(b"\nReceived: ") == 2       # one trace header per hop
    assert b"by mx.postern.test (postern) with ESMTP id " + qid.encode() in data
    assert b"by inner.postern.test (postern)" in data
    assert data.endswith(b"\n\nthrough two\n")
    outer.wait_log(rf"{qid}: to=<x@customer\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{inner.port}, "
                   r".*status=sent")


def test_relay_back_to_myself_is_a_loop(make_postern):
    """A relayhost that greets with our own hostname is this system."""
    twin = make_postern()                      # same myhostname as the sender
    p = make_postern(default_transport="smtp", relayhost=f"[127.0.0.1]:{twin.port}",
                     smtp_tls_security_level="none")
    qid = p.send("app@example.com", ["x@customer.test"], b"Subject: loop\r\n\r\nx\r\n")
    p.wait_log(rf"{qid}: to=<x@customer\.test>, .*dsn=4\.4\.6, status=deferred "
               r"\(mail for \[127\.0\.0\.1\]:\d+ loops back to myself")
    assert not (twin.mail_dir / "x@customer.test").exists()
