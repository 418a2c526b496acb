"""Real mail clients talk to postern: swaks (with PIPELINING), curl (an
LF-only file), s-nail, msmtp; and a raw-socket pipelining client."""

import email
import email.policy
import os
import shutil
import subprocess

import pytest

from conftest import HOSTNAME, check_delivery, lf, parse_qid, simple_message, split_trace

CLIENT_TIMEOUT = 30


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (make test-deps installs it)", pytrace=False)
    return path


def client_env(tmp_path):
    env = dict(os.environ)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), MAILRC="/dev/null", LC_ALL="C.UTF-8", LANG="C.UTF-8")
    env.pop("MAIL", None)
    return env


def run(argv, tmp_path, input=None):
    proc = subprocess.run(argv, input=input, capture_output=True, timeout=CLIENT_TIMEOUT,
                          env=client_env(tmp_path))
    return proc


def queued_qid(text):
    """The QID from a '250 2.0.0 Ok: queued as X' line in a client transcript."""
    for line in text.splitlines():
        i = line.find("250 2.0.0 Ok: queued as ")
        if i >= 0:
            return parse_qid(line[i + 4:].strip())
    return None


def test_swaks_pipeline(postern, tmp_path):
    swaks = need("swaks")
    rcpts = ["swaks1@postern.test", "swaks2@postern.test"]
    proc = run([swaks, "--server", f"127.0.0.1:{postern.port}", "--helo", "client.postern.test",
                "--from", "swaks@postern.test", "--to", ",".join(rcpts), "--pipeline",
                "--header", "Subject: swaks pipelined", "--body", "Hello from swaks.\n",
                "--timeout", "10"], tmp_path)
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, f"swaks exited {proc.returncode}:\n{out}"
    qid = queued_qid(out)
    assert qid, f"no '250 2.0.0 Ok: queued as' in swaks transcript:\n{out}"
    for i, rcpt in enumerate(rcpts):
        [path] = postern.wait_for_maildir(rcpt, 1)
        t = check_delivery(path, qid, i, "swaks@postern.test", rcpt)
        msg = email.message_from_bytes(t.rest, policy=email.policy.default)
        assert msg["Subject"] == "swaks pipelined"
        assert msg.get_content().strip() == "Hello from swaks."
        assert len(msg.get_all("Message-Id") or []) == 1
        assert len(msg.get_all("Date") or []) == 1


def test_curl_upload_lf_file(postern, tmp_path):
    """The seed use case: `curl --upload-file` of a file with LF line ends.
    curl sends the bytes as they are (bare LFs) and ends with CRLF.CRLF;
    the message must arrive with the file's LF line ends."""
    curl = need("curl")
    content = (b"From: Seed <seed@postern.test>\n"
               b"To: <curl@postern.test>\n"
               b"Subject: uploaded with curl\n"
               b"Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
               b"Message-ID: <curl-seed-1@client.postern.test>\n"
               b"\n"
               b"first line\n"
               b"\n"
               b"third line, after an empty one\n"
               b"last line\n")
    assert b"\r" not in content
    f = tmp_path / "message.txt"
    f.write_bytes(content)
    proc = run([curl, "-sS", "-v", "--url", f"smtp://127.0.0.1:{postern.port}",
                "--mail-from", "seed@postern.test", "--mail-rcpt", "curl@postern.test",
                "--upload-file", str(f)], tmp_path)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, f"curl exited {proc.returncode}:\n{err}"
    qid = queued_qid(err)
    assert qid, f"no '250 2.0.0 Ok: queued as' in curl -v output:\n{err}"
    [path] = postern.wait_for_maildir("curl@postern.test", 1)
    t = check_delivery(path, qid, 0, "seed@postern.test", "curl@postern.test")
    assert b"\r" not in t.rest
    # curl ends an upload that lacks a final CRLF with "\r\n.\r\n", which is
    # one more (empty) line after the file's last LF: taken either way.
    assert t.rest in (content, content + b"\n"), t.rest


def test_s_nail(postern, tmp_path):
    snail = need("s-nail")
    subject = "s-nail 测试 subject"
    body = "Hello from s-nail.\n中文正文。\n"
    proc = run([snail, "-n", "-#", "-S", "v15-compat=yes", "-S", "smtp-auth=none",
                "-S", f"mta=smtp://127.0.0.1:{postern.port}", "-S", "hostname=client.postern.test",
                "-S", "nosave", "-S", f"DEAD={tmp_path}/dead.letter", "-S", "sendcharsets=utf-8",
                "-s", subject, "-r", "snail@postern.test", "snail-rcpt@postern.test"],
               tmp_path, input=body.encode("utf-8"))
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, f"s-nail exited {proc.returncode}:\n{out}"
    [path] = postern.wait_for_maildir("snail-rcpt@postern.test", 1)
    t = split_trace(open(path, "rb").read())
    assert t.return_path == b"snail@postern.test"
    assert b"by " + HOSTNAME.encode() + b" (postern)" in t.received
    msg = email.message_from_bytes(t.rest, policy=email.policy.default)
    assert msg["Subject"] == subject
    assert msg.get_content() == body
    assert len(msg.get_all("Message-ID") or []) == 1
    assert len(msg.get_all("Date") or []) == 1


def test_msmtp(postern, tmp_path):
    msmtp = need("msmtp")
    content = (b"From: <msmtp@postern.test>\n"
               b"To: <msmtp-rcpt@postern.test>\n"
               b"Subject: sent with msmtp\n"
               b"Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
               b"Message-ID: <msmtp-1@client.postern.test>\n"
               b"\n"
               b"body\n"
               b".leading dot\n"
               b"..two dots\n"
               b".\n"
               b"end\n")
    proc = run([msmtp, "--file=/dev/null", "--host=127.0.0.1", f"--port={postern.port}",
                "--domain=client.postern.test", "--from=msmtp@postern.test",
                "msmtp-rcpt@postern.test"], tmp_path, input=content)
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, f"msmtp exited {proc.returncode}:\n{out}"
    [path] = postern.wait_for_maildir("msmtp-rcpt@postern.test", 1)
    t = split_trace(open(path, "rb").read())
    assert t.return_path == b"msmtp@postern.test"
    assert t.rest == content


def test_raw_pipelining(postern):
    """EHLO, MAIL, RCPT, RCPT, DATA in one write: the replies come back in
    order; then the content, the final dot and QUIT in one write."""
    rcpts = ["pipe1@postern.test", "pipe2@postern.test"]
    msg = simple_message("raw pipelining", b"pipelined body\r\n.leading dot\r\n",
                         sender="pipe@postern.test", rcpt=rcpts[0])
    stuffed = msg.replace(b"\r\n.", b"\r\n..")
    with postern.raw() as c:
        assert c.read_reply().code == 220
        c.send(b"EHLO client.postern.test\r\n"
               b"MAIL FROM:<pipe@postern.test>\r\n"
               b"RCPT TO:<" + rcpts[0].encode() + b">\r\n"
               b"RCPT TO:<" + rcpts[1].encode() + b">\r\n"
               b"DATA\r\n")
        r = c.read_reply()
        assert r.code == 250 and r.lines[0].startswith("250-" + HOSTNAME), r
        assert any(l[4:].upper().startswith("PIPELINING") for l in r.lines), r
        r = c.read_reply()
        assert (r.code, r.enh) == (250, "2.1.0"), r
        r = c.read_reply()
        assert (r.code, r.enh) == (250, "2.1.5"), r
        r = c.read_reply()
        assert (r.code, r.enh) == (250, "2.1.5"), r
        r = c.read_reply()
        assert r.code == 354, r
        c.send(stuffed + b".\r\nQUIT\r\n")
        r = c.read_reply()
        assert r.code == 250, r
        qid = parse_qid(r.text)
        r = c.read_reply()
        assert r.code == 221, r
        assert c.wait_closed(3)
    for i, rcpt in enumerate(rcpts):
        [path] = postern.wait_for_maildir(rcpt, 1)
        t = check_delivery(path, qid, i, "pipe@postern.test", rcpt)
        assert t.rest == lf(msg)


def test_raw_pipelining_with_errors_in_the_group(postern):
    """A pipelined group with a bad RCPT in the middle: every command gets
    its own reply, in order, and the good recipients still get the mail;
    a second transaction pipelined after the final dot is not content."""
    msg1 = simple_message("group 1", sender="grp@postern.test", rcpt="grp-a@postern.test")
    msg2 = simple_message("group 2", sender="grp@postern.test", rcpt="grp-c@postern.test")
    with postern.raw() as c:
        assert c.read_reply().code == 220
        c.expect("EHLO client.postern.test", 250)
        c.send(b"MAIL FROM:<grp@postern.test>\r\n"
               b"RCPT TO:<grp-a@postern.test>\r\n"
               b"RCPT TO:<bad address@@>\r\n"
               b"NOOP\r\n"
               b"RCPT TO:<grp-b@postern.test>\r\n"
               b"DATA\r\n")
        codes = [c.read_reply() for _ in range(6)]
        assert [r.code for r in codes] == [250, 250, 501, 250, 250, 354], codes
        c.send(msg1 + b".\r\n"
               b"MAIL FROM:<grp@postern.test>\r\n"
               b"RCPT TO:<grp-c@postern.test>\r\n"
               b"DATA\r\n")
        replies = [c.read_reply() for _ in range(4)]
        assert [r.code for r in replies] == [250, 250, 250, 354], replies
        qid1 = parse_qid(replies[0].text)
        c.send(msg2 + b".\r\nQUIT\r\n")
        r = c.read_reply()
        assert r.code == 250, r
        qid2 = parse_qid(r.text)
        assert c.read_reply().code == 221
    assert qid1 != qid2
    for i, rcpt in enumerate(["grp-a@postern.test", "grp-b@postern.test"]):
        [path] = postern.wait_for_maildir(rcpt, 1)
        assert check_delivery(path, qid1, i, "grp@postern.test", rcpt).rest == lf(msg1)
    [path] = postern.wait_for_maildir("grp-c@postern.test", 1)
    assert check_delivery(path, qid2, 0, "grp@postern.test", "grp-c@postern.test").rest == lf(msg2)
