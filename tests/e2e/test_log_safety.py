"""Client text in the daemon's log and in the Received: header.

- Addresses in from=<>, to=<> (and the other address fields) are escaped so
  a quoted local part such as "a>, status=sent, x" cannot end the field and
  forge another one (docs/logging.md).
- Control, C1 and 8-bit bytes a client sends (HELO, unknown commands,
  MAIL/RCPT parameters) never reach a log line raw: they are written \\xNN.
- Upstream reply text (8-bit, C1, ESC, backslash) is escaped the same way,
  in the -v dialogue with the next hop too.
- A HELO that is not a valid name is written in Postfix's safe form in the
  Received: header ('?' for every byte outside printable ASCII and for
  space and <>()\\";@)."""

import email
import email.policy
import re

from conftest import LOCAL_DOMAIN, check_delivery
from upstream import ScriptedServer

LOG_PREFIX = re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d postern\[\d+\]: ")


def log_lines(p):
    return [LOG_PREFIX.sub("", l) for l in p.log().splitlines()]


def unescape(v):
    """The bytes behind a log_addr/log_sanitize value."""
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                  v.encode("ascii"))


def fields(rest):
    """Postfix-style 'key=value, key=value' fields, as a log parser splits
    them: on ', ', a key up to the first '='."""
    out = []
    for part in rest.split(", "):
        key, eq, value = part.partition("=")
        assert eq, f"not a key=value field: {part!r} in {rest!r}"
        out.append((key, value))
    return out


def raw_log_bytes(p):
    return b"".join(path.read_bytes() for path in p.stderr_paths)


def assert_log_is_printable_ascii(p):
    data = raw_log_bytes(p)
    bad = sorted({b for b in data if b != 0x0A and not 0x20 <= b <= 0x7E})
    assert not bad, f"raw bytes {[hex(b) for b in bad]} in the log:\n{data[-3000:]!r}"


FORGING_SENDER = '"s>, size=0, nrcpt=99, x"@postern.test'
FORGING_RCPT = '"a>, status=sent, x"@' + LOCAL_DOMAIN
FORGING_RCPT2 = '"b> relay=evil, dsn=2.0.0 status=sent <c"@' + LOCAL_DOMAIN


def test_quoted_local_parts_cannot_forge_log_fields(postern):
    with postern.raw() as c:
        c.read_reply()
        c.expect("EHLO client.postern.test", 250)
        c.expect(f"MAIL FROM:<{FORGING_SENDER}>", 250)
        c.expect(f"RCPT TO:<{FORGING_RCPT}>", 250)
        c.expect(f"RCPT TO:<{FORGING_RCPT2}>", 250)
        c.expect("DATA", 354)
        r = c.cmd(b"Subject: forged log fields\r\n\r\nbody\r\n.")
        assert r.code == 250, r
        qid = r.text.split()[-1]
    for rcpt in (FORGING_RCPT, FORGING_RCPT2):
        [path] = postern.wait_for_maildir(rcpt, 1)
        data = open(path, "rb").read()
        assert data.startswith(b"Return-Path: <" + FORGING_SENDER.encode() + b">\n"
                               b"Delivered-To: " + rcpt.encode() + b"\n"), data
    postern.wait_log(rf"{qid}: removed")
    lines = log_lines(postern)

    [from_line] = [l for l in lines if l.startswith(f"{qid}: from=")]
    f = fields(from_line[len(qid) + 2:])
    assert [k for k, _ in f] == ["from", "size", "nrcpt"], from_line
    assert f[2][1] == "2 (queue active)", from_line
    # the address field ends at the first '>' and gives back the address
    m = re.fullmatch(r"<([^<>]*)>", f[0][1])
    assert m and unescape(m.group(1)) == FORGING_SENDER.encode(), from_line

    to_lines = [l for l in lines if l.startswith(f"{qid}: to=")]
    assert len(to_lines) == 2, to_lines
    got = set()
    for line in to_lines:
        f = fields(line[len(qid) + 2:])
        assert [k for k, _ in f] == ["to", "relay", "delay", "dsn", "status"], line
        assert f[1][1] == "capture" and f[3][1] == "2.0.0", line
        assert f[4][1] == "sent (delivered to maildir)", line
        m = re.fullmatch(r"<([^<>\s]*)>", f[0][1])
        assert m, line
        got.add(unescape(m.group(1)).decode())
        # no second status=/relay= field for a regex-minded reader either
        assert len(re.findall(r"(?:^|[\s,<;])status=", line)) == 1, line
        assert len(re.findall(r"(?:^|[\s,<;])relay=", line)) == 1, line
    assert got == {FORGING_RCPT, FORGING_RCPT2}
    assert_log_is_printable_ascii(postern)


def test_relay_reject_line_cannot_be_forged(make_postern):
    """The NOQUEUE reject line quotes the refused address twice (in the
    reply text and in to=<>): neither may add fields."""
    p = make_postern(mynetworks="127.0.0.1/32")
    rcpt = '"x> proto=FORGED helo=<evil>; to=<y"@elsewhere.test'
    with p.raw(source_address=("127.0.0.2", 0)) as c:
        c.read_reply()
        c.expect("EHLO client.postern.test", 250)
        c.expect('MAIL FROM:<"m> to=<forged@x"@postern.test>', 250)
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code == 554 and r.enh == "5.7.1", r
        # the client gets its address back as it sent it
        assert r.text == f"5.7.1 <{rcpt}>: Relay access denied", r
    m = p.wait_log(r"NOQUEUE: reject: RCPT from [^\n]*")
    line = m.group(0)
    for key in ("from=<", "to=<", "proto=", "helo=<"):
        assert len(re.findall(r"(?:^|[\s,;])" + re.escape(key), line)) == 1, (key, line)
    assert re.search(r"; from=<[^<>\s]*> to=<[^<>\s]*> proto=ESMTP helo=<client\.postern\.test>$",
                     line), line
    to = re.search(r" to=<([^<>\s]*)>", line).group(1)
    assert unescape(to) == rcpt.encode(), line
    assert_log_is_printable_ascii(p)


BAD_HELO = b"\x9b[31mevil\xff\xc3\xa9.example"
SAFE_HELO = b"?[31mevil???.example"


def test_control_and_8bit_client_text_never_reaches_log_or_received(make_postern):
    """ESC, C1 CSI (0x9b) and 8-bit bytes in HELO, unknown commands and
    MAIL/RCPT parameters: the log (with -v, which logs every command)
    shows them as \\xNN; the Received: header has Postfix's safe form."""
    p = make_postern(start=False)
    p.start(verbose=True)
    rcpt = "helo8bit@" + LOCAL_DOMAIN
    with p.raw() as c:
        c.read_reply()
        r = c.cmd(b"HELO a\x1b[2Jb")               # control byte: refused
        assert r.code == 500 and r.enh == "5.5.2", r
        r = c.cmd(b"\x9bXYZZY \xfe\x1b")
        assert r.code == 500, r
        c.expect(b"EHLO " + BAD_HELO, 250)
        r = c.cmd(b"MAIL FROM:<helo8bit@postern.test> X-\x9b=\xff")
        assert r.code in (501, 555), r
        c.expect("MAIL FROM:<helo8bit@postern.test>", 250)
        r = c.cmd(b"RCPT TO:<" + rcpt.encode() + b"> NOTIFY=\x9b")
        assert r.code in (501, 555), r
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        r = c.cmd(b"Subject: bogus helo\r\n\r\nbody\r\n.")
        assert r.code == 250, r
        qid = r.text.split()[-1]
    [path] = p.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, "helo8bit@postern.test", rcpt)
    assert t.received.startswith(b"from " + SAFE_HELO + b" (unknown [127.0.0.1])"), t.received
    data = open(path, "rb").read()
    head = data[:data.find(b"\n\n")]
    assert all(b in b"\t\n" or 0x20 <= b <= 0x7E for b in head), head
    parsed = email.message_from_bytes(data, policy=email.policy.compat32)
    assert parsed["Received"].startswith("from " + SAFE_HELO.decode()), parsed["Received"]
    p.wait_log(rf"{qid}: removed")
    # the exact bytes are in the -v dialogue, escaped
    p.wait_log(re.escape(r"< EHLO \x9b[31mevil\xff\xc3\xa9.example"))
    p.wait_log(re.escape(r"< \x9bXYZZY \xfe\x1b"))
    p.wait_log(re.escape(r"< HELO a\x1b[2Jb"))
    p.wait_log(re.escape(r"< MAIL FROM:<helo8bit@postern.test> X-\x9b=\xff"))
    assert_log_is_printable_ascii(p)


def test_bogus_helo_in_reject_line(make_postern):
    """helo=<...> of a reject line carries the safe form: no raw bytes, and
    nothing that closes the field."""
    p = make_postern(mynetworks="127.0.0.1/32")
    with p.raw(source_address=("127.0.0.2", 0)) as c:
        c.read_reply()
        c.expect(b"EHLO x> proto=FORGED " + BAD_HELO, 250)
        c.expect("MAIL FROM:<a@postern.test>", 250)
        r = c.cmd("RCPT TO:<b@elsewhere.test>")
        assert r.code == 554, r
    m = p.wait_log(r"NOQUEUE: reject: RCPT from [^\n]*")
    assert m.group(0).endswith(" proto=ESMTP helo=<x??proto=FORGED?" + SAFE_HELO.decode() + ">"), \
        m.group(0)
    assert_log_is_printable_ascii(p)


def test_upstream_reply_bytes_escaped_in_verbose_log(make_postern):
    """A next hop's reply with 8-bit, C1, ESC and backslash bytes: every log
    line, the -v dialogue with it included, shows them as \\xNN."""
    reply = b"550 5.1.1 caf\xc3\xa9 \x9b[31m\xff \\x0a end"

    def script(conn, n):
        conn.send("220 up.test ESMTP")
        line = conn.readline()
        while line is not None:
            verb = line[:4].upper()
            if verb == "EHLO":
                conn.send("250-up.test\r\n250 PIPELINING")
            elif verb == "RCPT":
                conn.send(reply)
            elif verb == "QUIT":
                conn.send("221 2.0.0 Bye")
                return
            else:
                conn.send("250 2.0.0 Ok")
            line = conn.readline()

    srv = ScriptedServer(script)
    try:
        p = make_postern(start=False, default_transport="smtp",
                         relayhost=f"[127.0.0.1]:{srv.port}")
        p.start(verbose=True)
        with p.raw() as c:
            c.read_reply()
            c.expect("EHLO client.postern.test", 250)
            c.expect("MAIL FROM:<>", 250)
            c.expect("RCPT TO:<far@remote.test>", 250)
            c.expect("DATA", 354)
            r = c.cmd(b"Subject: x\r\n\r\nbody\r\n.")
            assert r.code == 250, r
        p.wait_log(r"to=<far@remote\.test>, .*status=bounced")
        p.wait_log(re.escape(r"550 5.1.1 caf\xc3\xa9 \x9b[31m\xff \x5cx0a end"))
        assert_log_is_printable_ascii(p)
    finally:
        srv.stop()
