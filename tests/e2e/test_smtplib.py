"""Messages submitted with Python's smtplib arrive byte-exact in the capture
Maildirs: ASCII, 8BITMIME, UTF-8 (encoded words, raw SMTPUTF8 headers and
addresses), several recipients, dot-stuffing, the null sender, and the
Message-ID:/Date: headers added only when missing."""

import base64
import email
import email.policy
import os
import re

import pytest

from conftest import (LOCAL_DOMAIN, OTHER_LOCAL_DOMAIN, check_date_header,
                      check_delivery, crlf, lf, list_tree, mailbox_name,
                      simple_message, split_headers, split_trace)


def log_from_re(qid, sender, nrcpt):
    return rf"{qid}: from=<{re.escape(sender)}>, size=\d+, nrcpt={nrcpt}\b"


def log_to_re(qid, rcpt):
    # Postfix puts delays=, dsn= between delay= and status=: allow such fields
    return (rf"{qid}: to=<{re.escape(rcpt)}>, relay=capture, delay=[0-9.]+, "
            rf"(?:[a-z]+=[^,\s]*, )*status=sent \(delivered to maildir\)")


def test_plain_ascii_message_exact_bytes(postern):
    sender, rcpt = "alice@" + LOCAL_DOMAIN, "bob@" + LOCAL_DOMAIN
    msg = crlf(b"From: Alice <alice@postern.test>\n"
               b"To: Bob <bob@postern.test>\n"
               b"Subject: plain ASCII test\n"
               b"Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
               b"Message-ID: <plain-ascii-1@client.postern.test>\n"
               b"X-Folded: first part\n"
               b"\tsecond part\n"
               b"\n"
               b"Hello Bob,\n"
               b"\n"
               b"  indented line with trailing spaces   \n"
               b"tab\there\n"
               b"Bye.\n")
    qid = postern.send(sender, [rcpt], msg)
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, sender, rcpt)
    assert t.rest == lf(msg)
    postern.wait_log(log_from_re(qid, sender, 1))
    postern.wait_log(log_to_re(qid, rcpt))
    postern.wait_queue_empty()


def test_8bitmime_message(postern):
    sender, rcpt = "latin@" + LOCAL_DOMAIN, "eight@" + LOCAL_DOMAIN
    body = ("Grüße aus Köln, café crème, smørrebrød, ½ € — naïve façade.\n"
            "Ελληνικά, русский текст, עברית\n").encode("utf-8")
    body += b"raw high bytes (not UTF-8): \xe9\xe8\xff\x80\n"
    msg = crlf(b"From: <latin@postern.test>\n"
               b"To: <eight@postern.test>\n"
               b"Subject: 8bit body\n"
               b"Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
               b"Message-ID: <eight-1@client.postern.test>\n"
               b"MIME-Version: 1.0\n"
               b"Content-Type: text/plain; charset=utf-8\n"
               b"Content-Transfer-Encoding: 8bit\n"
               b"\n" + body)
    qid = postern.send(sender, [rcpt], msg, mail_options=["BODY=8BITMIME"])
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, sender, rcpt)
    assert t.rest == lf(msg)


CHINESE_SUBJECT = "测试邮件：你好，世界"
CHINESE_BODY = ("你好！\n这是一封测试邮件，正文是八位的 UTF-8 中文。\n"
                "第三行：汉字、标点符号「」《》……\n")


def test_utf8_encoded_subject_and_chinese_8bit_body(postern):
    sender, rcpt = "zh@" + LOCAL_DOMAIN, "zh-rcpt@" + LOCAL_DOMAIN
    enc_subject = b"=?UTF-8?B?" + base64.b64encode(CHINESE_SUBJECT.encode("utf-8")) + b"?="
    msg = crlf(b"From: <zh@postern.test>\n"
               b"To: <zh-rcpt@postern.test>\n"
               b"Subject: " + enc_subject + b"\n"
               b"Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
               b"Message-ID: <zh-1@client.postern.test>\n"
               b"MIME-Version: 1.0\n"
               b"Content-Type: text/plain; charset=UTF-8\n"
               b"Content-Transfer-Encoding: 8bit\n"
               b"\n" + CHINESE_BODY.encode("utf-8"))
    qid = postern.send(sender, [rcpt], msg, mail_options=["BODY=8BITMIME"])
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, sender, rcpt)
    assert t.rest == lf(msg)
    parsed = email.message_from_bytes(t.rest, policy=email.policy.default)
    assert str(parsed["Subject"]) == CHINESE_SUBJECT
    assert parsed.get_content() == CHINESE_BODY


def test_utf8_raw_subject_with_smtputf8(postern):
    sender, rcpt = "raw@" + LOCAL_DOMAIN, "raw-rcpt@" + LOCAL_DOMAIN
    msg = crlf(b"From: =?UTF-8?B?5byg5LiJ?= <raw@postern.test>\n"
               b"To: <raw-rcpt@postern.test>\n"
               b"Subject: " + CHINESE_SUBJECT.encode("utf-8") + b"\n"
               b"Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
               b"Message-ID: <zh-raw-1@client.postern.test>\n"
               b"MIME-Version: 1.0\n"
               b"Content-Type: text/plain; charset=UTF-8\n"
               b"Content-Transfer-Encoding: 8bit\n"
               b"\n" + CHINESE_BODY.encode("utf-8"))
    qid = postern.send(sender, [rcpt], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, sender, rcpt)
    assert t.rest == lf(msg)
    parsed = email.message_from_bytes(t.rest, policy=email.policy.default)
    assert str(parsed["Subject"]) == CHINESE_SUBJECT


def test_smtputf8_addresses(postern):
    sender = "李四@例子.测试"
    rcpts = ["张三@例子.测试", "王五@" + LOCAL_DOMAIN, "Zhao.Liu@例子.TEST"]
    msg = crlf(("From: 李四 <李四@例子.测试>\n"
                "To: 张三 <张三@例子.测试>, 王五 <王五@postern.test>\n"
                "Subject: 国际化地址\n"
                "Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
                "Message-ID: <国际化-1@例子.测试>\n"
                "MIME-Version: 1.0\n"
                "Content-Type: text/plain; charset=UTF-8\n"
                "Content-Transfer-Encoding: 8bit\n"
                "\n" + CHINESE_BODY).encode("utf-8"))
    qid = postern.send(sender, rcpts, msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    for i, rcpt in enumerate(rcpts):
        # the Maildir directory name is the UTF-8 address itself (with an
        # ASCII domain lower-cased)
        if i < 2:
            assert mailbox_name(rcpt) == rcpt.encode("utf-8")
        [path] = postern.wait_for_maildir(rcpt, 1)
        assert os.path.basename(os.path.dirname(os.path.dirname(path))) == mailbox_name(rcpt)
        t = check_delivery(path, qid, i, sender, rcpt)
        assert t.rest == lf(msg)
    assert mailbox_name(rcpts[2]) == "Zhao.Liu@例子.test".encode("utf-8")
    postern.wait_log(rf"{qid}: from=<[^>]*>, size=\d+, nrcpt=3\b")


def test_utf8_address_without_smtputf8_is_rejected(postern):
    with postern.raw() as c:
        c.read_reply()
        c.expect("EHLO " + "client.postern.test", 250)
        r = c.cmd("MAIL FROM:<李四@例子.测试>")
        assert 500 <= r.code <= 599, f"UTF-8 sender without SMTPUTF8 accepted: {r!r}"
        c.expect("MAIL FROM:<ascii@postern.test>", 250)
        r = c.cmd("RCPT TO:<张三@例子.测试>")
        assert 500 <= r.code <= 599, f"UTF-8 recipient without SMTPUTF8 accepted: {r!r}"
        c.expect("QUIT", 221)


def test_multiple_recipients_one_copy_each(postern):
    sender = "multi@" + LOCAL_DOMAIN
    rcpts = ["one@" + LOCAL_DOMAIN, "two@" + LOCAL_DOMAIN, "three@" + OTHER_LOCAL_DOMAIN]
    msg = simple_message("three recipients", b"Same text for everyone.\r\n",
                         sender=sender, rcpt=rcpts[0])
    qid = postern.send(sender, rcpts, msg)
    for i, rcpt in enumerate(rcpts):
        [path] = postern.wait_for_maildir(rcpt, 1)
        t = check_delivery(path, qid, i, sender, rcpt)
        assert t.rest == lf(msg)
        postern.wait_log(log_to_re(qid, rcpt))
    postern.wait_log(log_from_re(qid, sender, 3))
    # nothing else was created in the capture directory
    mailboxes = sorted(os.listdir(os.fsencode(str(postern.mail_dir))))
    assert mailboxes == sorted(mailbox_name(r) for r in rcpts)


def test_duplicate_recipient_is_not_lost(postern):
    """The same RCPT twice: Postfix keeps one copy; postern may keep one or
    two, but each must be the complete message."""
    sender, rcpt = "dup@" + LOCAL_DOMAIN, "dup-rcpt@" + LOCAL_DOMAIN
    msg = simple_message("duplicate rcpt")
    qid = postern.send(sender, [rcpt, rcpt], msg)
    postern.wait_removed(qid)       # every copy is written by then
    postern.wait_queue_empty()
    copies = postern.messages(rcpt)
    assert 1 <= len(copies) <= 2, len(copies)
    for data in copies:
        assert split_trace(data).rest == lf(msg)


def test_dot_stuffing_round_trip(postern):
    sender, rcpt = "dots@" + LOCAL_DOMAIN, "dots-rcpt@" + LOCAL_DOMAIN
    body = crlf(b".\n"
                b"..\n"
                b"...\n"
                b".hidden line\n"
                b"..double\n"
                b" . space then dot\n"
                b"middle.dot\n"
                b"\n"
                b".\n")
    msg = simple_message("dots", body, sender=sender, rcpt=rcpt)
    qid = postern.send(sender, [rcpt], msg)   # smtplib doubles leading dots
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, sender, rcpt)
    assert t.rest == lf(msg)


def test_message_id_and_date_added_when_missing(postern):
    sender, rcpt = "bare@" + LOCAL_DOMAIN, "bare-rcpt@" + LOCAL_DOMAIN
    msg = crlf(b"From: <bare@postern.test>\n"
               b"To: <bare-rcpt@postern.test>\n"
               b"Subject: no id, no date\n"
               b"X-Last: last client header\n"
               b"\n"
               b"Body line 1\n"
               b"Message-ID: <not-a-header@body>\n"
               b"Date: not a header either\n")
    qid = postern.send(sender, [rcpt], msg)
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, sender, rcpt)
    sent_headers, sent_body = split_headers(lf(msg))
    got_headers, got_body = split_headers(t.rest)
    assert got_body == sent_body
    # the client's headers come first, unchanged and in order ...
    assert got_headers[:len(sent_headers)] == sent_headers
    # ... followed by exactly one Message-ID: and one Date: (any order)
    added = got_headers[len(sent_headers):]
    names = sorted(h.split(b":", 1)[0].lower() for h in added if h[:1] not in (b" ", b"\t"))
    assert names == [b"date", b"message-id"], added
    for h in added:
        if h.lower().startswith(b"message-id:"):
            assert re.fullmatch(rb"Message-I[Dd]: <[^<>@\s]+@[^<>@\s]+>", h), h
        elif h.lower().startswith(b"date:"):
            check_date_header(h.split(b":", 1)[1])


def test_only_date_added_when_message_id_present(postern):
    sender, rcpt = "half@" + LOCAL_DOMAIN, "half-rcpt@" + LOCAL_DOMAIN
    msg = simple_message("has id, no date", sender=sender, rcpt=rcpt, date=False)
    postern.send(sender, [rcpt], msg)
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = split_trace(open(path, "rb").read())
    sent_headers, sent_body = split_headers(lf(msg))
    got_headers, got_body = split_headers(t.rest)
    assert got_body == sent_body
    assert got_headers[:len(sent_headers)] == sent_headers
    added = got_headers[len(sent_headers):]
    assert len(added) == 1 and added[0].lower().startswith(b"date:"), added
    check_date_header(added[0].split(b":", 1)[1])


def test_headers_not_added_when_present_any_case(postern):
    sender = "present@" + LOCAL_DOMAIN
    variants = [(b"Message-ID", b"Date"), (b"message-id", b"date"), (b"Message-Id", b"DATE")]
    for n, (mid, date) in enumerate(variants):
        rcpt = f"present{n}@{LOCAL_DOMAIN}"
        msg = crlf(b"From: <present@postern.test>\n"
                   b"Subject: headers present (" + mid + b")\n" +
                   mid + b": <present-%d@client.postern.test>\n" % n +
                   date + b": Tue, 24 Nov 2026 10:00:00 +0000\n"
                   b"\n"
                   b"body\n")
        qid = postern.send(sender, [rcpt], msg)
        [path] = postern.wait_for_maildir(rcpt, 1)
        t = check_delivery(path, qid, 0, sender, rcpt)
        assert t.rest == lf(msg), f"headers {mid!r}/{date!r} present, yet the message changed"


def test_null_sender(postern):
    rcpt = "bounce-target@" + LOCAL_DOMAIN
    msg = crlf(b"From: MAILER-DAEMON <mailer-daemon@client.postern.test>\n"
               b"To: <bounce-target@postern.test>\n"
               b"Subject: Undelivered Mail Returned to Sender\n"
               b"Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
               b"Message-ID: <bounce-1@client.postern.test>\n"
               b"\n"
               b"A bounce.\n")
    qid = postern.send("", [rcpt], msg)     # smtplib sends MAIL FROM:<>
    [path] = postern.wait_for_maildir(rcpt, 1)
    with open(path, "rb") as f:
        assert f.read().startswith(b"Return-Path: <>\n")
    t = check_delivery(path, qid, 0, "", rcpt)
    assert t.rest == lf(msg)
    postern.wait_log(log_from_re(qid, "", 1))


def test_mailbox_domain_is_lower_cased(postern):
    sender = "case@" + LOCAL_DOMAIN
    rcpt = "Mixed.Case@PosTern.TEST"
    msg = simple_message("case", sender=sender, rcpt=rcpt)
    postern.send(sender, [rcpt], msg)
    [path] = postern.wait_for_maildir(rcpt, 1)
    mbox = os.path.basename(os.path.dirname(os.path.dirname(path)))
    assert mbox == b"Mixed.Case@postern.test"
    assert split_trace(open(path, "rb").read()).rest == lf(msg)


def test_mailbox_name_cannot_escape_capture_directory(postern):
    """'/' and '%' are legal in a local part (RFC 5321 atext); the mailbox
    directory encodes them as %2F / %25 and nothing lands outside
    capture_directory."""
    sender = "paths@" + LOCAL_DOMAIN
    rcpts = ["a/b@" + LOCAL_DOMAIN, "100%off@" + LOCAL_DOMAIN]
    msg = simple_message("path chars", sender=sender, rcpt=rcpts[0])
    qid = postern.send(sender, rcpts, msg)
    expected = {"a/b@" + LOCAL_DOMAIN: b"a%2Fb@postern.test",
                "100%off@" + LOCAL_DOMAIN: b"100%25off@postern.test"}
    for i, rcpt in enumerate(rcpts):
        assert mailbox_name(rcpt) == expected[rcpt]
        [path] = postern.wait_for_maildir(rcpt, 1)
        check_delivery(path, qid, i, sender, rcpt)
    top = sorted(os.listdir(os.fsencode(str(postern.mail_dir))))
    assert top == sorted(expected.values())
    # no stray files anywhere in the test directory besides ours
    for rel in list_tree(postern.base):
        assert rel.split(b"/")[0] in (b"queue", b"mail") or re.fullmatch(
            rb"(postern\.cf|std(err|out)\.\d+\.log)", rel), rel


def test_longest_address_is_delivered(postern):
    """The longest address smtpd takes (254 bytes: a 256-octet path with its
    brackets) whose mailbox name grows past NAME_MAX once '%' and '/' are
    encoded: delivered into <prefix>%~<sha256>, never deferred."""
    sender = "long@" + LOCAL_DOMAIN
    local = "%/" * 32                                   # 64 bytes, 192 encoded
    domain = ".".join(["A" * 63, "b" * 63, "c" * 56, "test"])
    rcpt = f"{local}@{domain}"
    assert len(rcpt) == 254
    name = mailbox_name(rcpt)
    assert len(name) == 255 and b"%~" in name, name
    msg = simple_message("long address", sender=sender, rcpt="x@" + LOCAL_DOMAIN)
    qid = postern.send(sender, [rcpt], msg)
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, sender, rcpt)
    assert t.rest == lf(msg)
    assert os.listdir(os.fsencode(str(postern.mail_dir))) == [name]
    postern.wait_log(rf"{qid}: to=<{re.escape(rcpt)}>, relay=capture, .*status=sent")


def test_large_message_exact_bytes(postern):
    sender, rcpt = "big@" + LOCAL_DOMAIN, "big-rcpt@" + LOCAL_DOMAIN
    lines = []
    for i in range(16000):
        lines.append(b"%06d " % i + (b"0123456789abcdefghijklmnopqrstuvwxyz" * 2)[: 40 + i % 30])
    lines.append(b"L" * 990)                  # close to the RFC 5321 line limit
    body = b"\r\n".join(lines) + b"\r\n"
    msg = simple_message("about 1 MB", body, sender=sender, rcpt=rcpt)
    assert len(msg) > 900_000
    qid = postern.send(sender, [rcpt], msg)
    [path] = postern.wait_for_maildir(rcpt, 1, timeout=20)
    t = check_delivery(path, qid, 0, sender, rcpt)
    assert t.rest == lf(msg)


def test_several_messages_in_one_session(postern):
    sender = "session@" + LOCAL_DOMAIN
    rcpt = "session-rcpt@" + LOCAL_DOMAIN
    s = postern.smtp()
    s.ehlo("client.postern.test")
    msgs, qids = [], []
    for i in range(3):
        msgs.append(simple_message(f"message {i} of 3", b"number %d\r\n" % i,
                                   sender=sender, rcpt=rcpt))
        qids.append(postern.send(sender, [rcpt], msgs[-1], conn=s))
        if i == 1:
            assert s.rset()[0] == 250
    assert s.quit()[0] == 221
    assert len(set(qids)) == 3, qids
    paths = postern.wait_for_maildir(rcpt, 3)
    by_qid = {}
    for p in paths:
        name = os.path.basename(p)
        by_qid[name.split(b".")[1].split(b"_")[0].decode()] = p
    assert sorted(by_qid) == sorted(qids)
    for qid, msg in zip(qids, msgs):
        t = check_delivery(by_qid[qid], qid, 0, sender, rcpt)
        assert t.rest == lf(msg)


def test_quoted_local_part_with_dot_dot_slash(postern):
    """A quoted local part may hold '/' and '..': the mailbox name encodes
    every '/', so nothing is written outside capture_directory."""
    rcpt = '"../../escape"@' + LOCAL_DOMAIN
    msg = simple_message("quoted", sender="q@postern.test", rcpt="x@postern.test")
    with postern.raw() as c:
        c.read_reply()
        c.expect("EHLO client.postern.test", 250)
        c.expect("MAIL FROM:<q@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
        r = c.read_reply()
        assert r.code == 250, r
        qid = r.text.split()[-1]
    assert mailbox_name(rcpt) == b'"..%2F..%2Fescape"@postern.test'
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, "q@postern.test", rcpt)
    assert t.rest == lf(msg)
    assert os.listdir(os.fsencode(str(postern.mail_dir))) == [mailbox_name(rcpt)]
    for rel in list_tree(postern.base):
        assert rel.split(b"/")[0] in (b"queue", b"mail") or re.fullmatch(
            rb"(postern\.cf|std(err|out)\.\d+\.log)", rel), rel


HEADER_EDGE_CASES = {
    "folded-last-header": (b"From: <e@postern.test>\r\nTo: <e@postern.test>\r\n"
                           b"X-Folded: start\r\n\tcontinued\r\n \tand more\r\n\r\nbody\r\n"),
    "headers-only": b"From: <e@postern.test>\r\nTo: <e@postern.test>\r\nSubject: no body\r\n",
    "blank-line-in-body": (b"From: <e@postern.test>\r\nTo: <e@postern.test>\r\n\r\n"
                           b"para 1\r\n\r\nMessage-ID: <in-body@x>\r\nDate: in body\r\n"),
}


@pytest.mark.parametrize("case", list(HEADER_EDGE_CASES))
def test_missing_headers_go_at_end_of_header_section(postern, case):
    msg = HEADER_EDGE_CASES[case]
    rcpt = f"edge-{case}@{LOCAL_DOMAIN}"
    postern.send("edge@postern.test", [rcpt], msg)
    [path] = postern.wait_for_maildir(rcpt, 1)
    rest = split_trace(open(path, "rb").read()).rest
    sent = lf(msg)
    end = sent.find(b"\n\n")
    end = len(sent) if end < 0 else end + 1      # just after the last header line
    assert rest.startswith(sent[:end]), rest
    assert rest.endswith(sent[end:]), rest
    added = rest[end:len(rest) - (len(sent) - end)]
    assert added.endswith(b"\n"), added
    # (a headers-only message may also get an empty line after the headers)
    names = sorted(l.split(b":", 1)[0].lower() for l in added.split(b"\n") if l)
    assert names == [b"date", b"message-id"], added


def test_empty_message(postern):
    """DATA with no content at all: accepted, Message-ID and Date added."""
    rcpt = "empty@" + LOCAL_DOMAIN
    with postern.raw() as c:
        c.read_reply()
        c.expect("EHLO client.postern.test", 250)
        c.expect("MAIL FROM:<empty@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        r = c.cmd(".")
        assert r.code == 250, r
    [path] = postern.wait_for_maildir(rcpt, 1)
    rest = split_trace(open(path, "rb").read()).rest
    names = [l.split(b":", 1)[0].lower() for l in rest.split(b"\n") if l and l[:1] not in b" \t"]
    assert names.count(b"message-id") == 1 and names.count(b"date") == 1, rest


BODY_ONLY_CASES = {
    # without the empty line, this would continue the added Date: header
    "space-first-line": b" indented first line\r\nX-Injected: continued\r\n\r\nmore\r\n",
    # without it, a header line with no colon: the message is broken
    "plain-text-first-line": b"just some text, no header here\r\nX-Injected: yes\r\n",
}


@pytest.mark.parametrize("case", list(BODY_ONLY_CASES))
def test_body_without_header_section_gets_the_empty_line(postern, case):
    """A message whose first line is not a header: the added Message-ID:
    and Date: come first, then an empty line, then the content unchanged
    (as Postfix's cleanup does), so the body never becomes a header."""
    msg = BODY_ONLY_CASES[case]
    rcpt = f"bodyonly-{case}@{LOCAL_DOMAIN}"
    qid = postern.send("bodyonly@postern.test", [rcpt], msg)
    [path] = postern.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, "bodyonly@postern.test", rcpt)
    i = t.rest.find(b"\n\n")
    assert i >= 0, t.rest
    added, body = t.rest[:i + 1], t.rest[i + 2:]
    assert body == lf(msg), t.rest
    lines = added.split(b"\n")[:-1]
    assert sorted(l.split(b":", 1)[0].lower() for l in lines) == [b"date", b"message-id"], added
    for l in lines:
        if l.lower().startswith(b"date:"):
            check_date_header(l.split(b":", 1)[1])
    # a mail reader sees the same: two headers only, the content as body
    parsed = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.compat32)
    assert "X-Injected" not in parsed
    assert parsed.get_payload().encode() == lf(msg)
    check_date_header(parsed["Date"].encode())


def test_body_without_header_section_no_added_headers(make_postern):
    """Even with nothing added but Received:, the empty line separates it
    from a first body line that starts with white space."""
    p = make_postern(always_add_missing_headers="no")
    msg = b"\tindented first line\r\nsecond\r\n"
    rcpt = "bodyonly-noadd@" + LOCAL_DOMAIN
    qid = p.send("bodyonly@postern.test", [rcpt], msg)
    [path] = p.wait_for_maildir(rcpt, 1)
    data = open(path, "rb").read()
    m = re.search(rb"\n\tfor <[^>]*>; [^\n]*\n", data)
    assert m, data
    assert data[m.end():] == b"\n" + lf(msg), data
    t = check_delivery(path, qid, 0, "bodyonly@postern.test", rcpt)
    assert t.rest == b"\n" + lf(msg), t.rest
