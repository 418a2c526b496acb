"""The local command line: `postern sendmail` (also as `sendmail`, through
the daemon's local submission socket), `postern queue` (also as `mailq`),
and the daemon's control socket behind flush / delete / hold / release."""

import email
import email.policy
import os
import pwd
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import (HOSTNAME, POSTERN_BIN, binary_env, free_port, require_binary,
                      sanitizer_report, simple_message, split_trace, wait_until)
from upstream import ScriptedServer

CLI_TIMEOUT = 60
EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOPERM = 64, 65, 69, 75, 77


# --------------------------------------------------------------------------
# helpers


def bin_dir(p):
    """<base>/bin with a copy of the binary readable by anyone (the
    unprivileged tests run it) and symlinks named sendmail and mailq."""
    d = p.base / "bin"
    if not d.exists():
        require_binary()
        d.mkdir()
        os.chmod(d, 0o755)
        shutil.copy2(POSTERN_BIN, d / "postern")
        os.chmod(d / "postern", 0o755)
        os.symlink(d / "postern", d / "sendmail")
        os.symlink(d / "postern", d / "mailq")
    return d


def run(p, argv, input=None, user=None, env=None):
    """Run a command (argv[0] "postern", "sendmail" or "mailq" is taken
    from bin_dir) as root or as `user`; returns CompletedProcess with text
    stdout/stderr. A sanitizer report fails the test."""
    d = bin_dir(p)
    if argv[0] in ("postern", "sendmail", "mailq"):
        argv = [str(d / argv[0])] + list(argv[1:])
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    e = binary_env()
    e.update(env or {})
    if isinstance(input, str):
        input = input.encode("utf-8")
    proc = subprocess.run(argv, input=input, capture_output=True, timeout=CLI_TIMEOUT,
                          env=e, cwd="/")
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    rep = sanitizer_report(err)
    assert rep is None, f"sanitizer report from {argv}:\n{rep}"
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def sendmail(p, args, msg, user=None, name="postern"):
    """`postern sendmail -C cfg args` (or `sendmail -C cfg args` with
    name="sendmail")."""
    argv = [name] + (["sendmail"] if name == "postern" else []) + ["-C", str(p.config_path)]
    return run(p, argv + list(args), input=msg, user=user)


def queue(p, *args, user=None):
    return run(p, ["postern", "queue", "-c", str(p.config_path)] + list(args), user=user)


def queue_ok(p, *args):
    """A queue request that must succeed (a message being delivered is not
    refused any more: the action waits for the end of its attempt)."""
    r = queue(p, *args)
    assert r.returncode == 0, f"postern queue {args} -> {r.returncode}\n{r.stdout}{r.stderr}"
    assert r.stdout.startswith("ok"), r.stdout
    return r.stdout


def delivered(p, rcpt, n=1, final=True):
    """The messages in rcpt's Maildir, as Trace objects (after n arrived;
    final: see Postern.wait_for_maildir)."""
    paths = p.wait_for_maildir(rcpt, n, final=final)
    return [split_trace(open(x, "rb").read()) for x in paths]


def qid_of_file(path):
    m = re.search(rb"\.([0-9A-F]{16})_\d+\.", os.path.basename(path))
    assert m, path
    return m.group(1).decode()


def parse(t):
    return email.message_from_bytes(t.rest, policy=email.policy.default)


def assert_local_received(t, uid):
    # Postfix pickup style: "by host (postern, from userid N) id QID; date"
    assert re.fullmatch(rb"by " + re.escape(HOSTNAME.encode()) + rb" \(postern, from userid "
                        + str(uid).encode() + rb"\) id [0-9A-F]{16}; .+", t.received), t.received


# --------------------------------------------------------------------------
# sendmail


def test_sendmail_t_reads_recipients_from_headers(postern):
    msg = ("Subject: x\n"
           "To: Foo Bar <to@example.com>, \"Doe, J.\" <doe@example.com>\n"
           "Cc: cc@example.com (a comment)\n"
           "Bcc: hidden@example.com\n"
           "\n"
           "hi\n")
    r = sendmail(postern, ["-t"], msg)
    assert r.returncode == 0, r.stderr
    for rcpt in ("to@example.com", "doe@example.com", "cc@example.com", "hidden@example.com"):
        [t] = delivered(postern, rcpt)
        assert t.return_path == b"root@" + HOSTNAME.encode()     # login name @ myorigin
        assert_local_received(t, 0)
        m = parse(t)
        assert m["Subject"] == "x"
        assert m["Bcc"] is None, "the Bcc: header must not be sent"
        assert m["To"] == 'Foo Bar <to@example.com>, "Doe, J." <doe@example.com>'
        assert m["From"] == f"root <root@{HOSTNAME}>"            # added: none was given
        assert len(m.get_all("Message-ID")) == 1 and len(m.get_all("Date")) == 1
        assert t.rest.endswith(b"\n\nhi\n"), t.rest
        assert b"\r" not in t.rest
    postern.wait_log(r"connect from local\[uid=0\]")
    postern.wait_queue_empty()


def test_sendmail_recipients_f_and_F(postern):
    msg = b"Subject: with -f and -F\r\n\r\nbody line\r\n"
    r = sendmail(postern, ["-f", "app@example.com", "-F", "App Name", "--",
                           "one@example.com,two@example.com", "three@example.com"], msg)
    assert r.returncode == 0, r.stderr
    for rcpt in ("one@example.com", "two@example.com", "three@example.com"):
        [t] = delivered(postern, rcpt)
        assert t.return_path == b"app@example.com"
        m = parse(t)
        assert m["From"] == "App Name <app@example.com>"
        assert m["Subject"] == "with -f and -F"
        assert m.get_content() == "body line\n"
    # -f<sender> attached, -r, a Chinese full name, an existing From: kept
    r = sendmail(postern, ["-rbounce@example.com", "-F", "张三", "four@example.com"],
                 "Subject: r\n\nx\n")
    assert r.returncode == 0, r.stderr
    [t] = delivered(postern, "four@example.com")
    assert t.return_path == b"bounce@example.com"
    assert parse(t)["From"] == "张三 <bounce@example.com>"
    # a full name cannot inject a header
    r = sendmail(postern, ["-f", "six@example.com", "-F", "Evil\r\nBcc: victim@example.com",
                           "six@example.com"], "Subject: inj\n\nx\n")
    assert r.returncode == 0, r.stderr
    [t] = delivered(postern, "six@example.com")
    assert b'\nFrom: "Evil  Bcc: victim@example.com" <six@example.com>\n' in t.rest
    assert parse(t)["Bcc"] is None
    r = sendmail(postern, ["-fx@example.com", "-F", "Ignored", "five@example.com"],
                 "From: Real <real@example.com>\nSubject: f\n\nx\n")
    assert r.returncode == 0, r.stderr
    [t] = delivered(postern, "five@example.com")
    assert t.return_path == b"x@example.com"
    assert parse(t).get_all("From") == ["Real <real@example.com>"]


def test_sendmail_dot_handling(postern):
    body = "first\n.\n..two dots\nlast\n"
    # without -i a lone "." ends the message, as with Sendmail
    r = sendmail(postern, ["nodash-i@example.com"], "Subject: no -i\n\n" + body)
    assert r.returncode == 0, r.stderr
    [t] = delivered(postern, "nodash-i@example.com")
    assert t.rest.endswith(b"\n\nfirst\n"), t.rest
    # with -i (or -oi) it is an ordinary line, and dots survive stuffing
    for opt, rcpt in (("-i", "dash-i@example.com"), ("-oi", "dash-oi@example.com")):
        r = sendmail(postern, [opt, rcpt], "Subject: " + opt + "\n\n" + body)
        assert r.returncode == 0, r.stderr
        [t] = delivered(postern, rcpt)
        assert t.rest.endswith(b"\n\n" + body.encode()), t.rest
    # CRLF input, no final line end, no header at all
    r = sendmail(postern, ["-i", "crlf@example.com"], b"just text\r\nno newline")
    assert r.returncode == 0, r.stderr
    [t] = delivered(postern, "crlf@example.com")
    m = parse(t)
    assert m.get_content() == "just text\nno newline\n"
    assert m["From"] == f"root <root@{HOSTNAME}>"


def test_sendmail_8bit_and_utf8(postern):
    msg = "Subject: 中文主题\nContent-Type: text/plain; charset=utf-8\n\n正文\n"
    r = sendmail(postern, ["-v", "张三@example.com"], msg)
    assert r.returncode == 0, r.stderr
    assert "BODY=8BITMIME SMTPUTF8" in r.stderr          # -v shows the dialogue
    assert "250 2.0.0 Ok: queued as" in r.stderr
    [t] = delivered(postern, "张三@example.com")
    assert t.rest.startswith("Subject: 中文主题\n".encode())
    assert "正文\n".encode() in t.rest


def test_snail_uses_sendmail_symlink(postern, tmp_path):
    """s-nail in sendmail mode runs postern through a symlink named sendmail
    (argv[0] dispatch); ASCII and Chinese subjects arrive intact."""
    snail = shutil.which("s-nail")
    if snail is None:
        pytest.fail("s-nail is not installed (make test-deps installs it)", pytrace=False)
    home = tmp_path / "home"
    home.mkdir()
    env = dict(binary_env(), HOME=str(home), MAILRC="/dev/null", LC_ALL="C.UTF-8",
               LANG="C.UTF-8")
    for subject, rcpt in (("subject", "snail1@example.com"),
                          ("测试 中文主题 subject", "snail2@example.com")):
        proc = subprocess.run(
            [snail, "-n", "-#", "-S", "v15-compat=yes", "-S", f"mta={bin_dir(postern)}/sendmail",
             "-S", f"mta-arguments=-C {postern.config_path}", "-S", "nosave",
             "-S", f"DEAD={tmp_path}/dead.letter", "-S", "sendcharsets=utf-8",
             "-S", "hostname=client.postern.test",
             "-s", subject, "-r", "sender@example.com", rcpt],
            input=b"test\n", capture_output=True, timeout=CLI_TIMEOUT, env=env)
        err = proc.stderr.decode("utf-8", "replace")
        assert sanitizer_report(err) is None, err
        assert proc.returncode == 0, f"s-nail exited {proc.returncode}: {err}"
        [t] = delivered(postern, rcpt)
        assert t.return_path == b"sender@example.com"
        m = parse(t)
        assert m["Subject"] == subject
        assert m.get_content() == "test\n"
        assert_local_received(t, 0)


def test_sendmail_daemon_not_running(make_postern):
    p = make_postern(start=False)
    p.write_config()
    r = sendmail(p, ["rcpt@example.com"], "Subject: x\n\nx\n")
    assert r.returncode == EX_UNAVAILABLE, (r.returncode, r.stderr)
    sock = p.queue_dir / "public" / "submit"
    assert r.stderr.strip() == (f"postern sendmail: cannot connect to {sock}: No such file or "
                                "directory (is `postern serve` running?)")
    # a socket file left by a dead daemon: refused, same advice
    p.start()
    p.kill()
    assert os.path.exists(sock)
    r = sendmail(p, ["rcpt@example.com"], "Subject: x\n\nx\n")
    assert r.returncode == EX_UNAVAILABLE, (r.returncode, r.stderr)
    assert "Connection refused (is `postern serve` running?)" in r.stderr
    # and a restart replaces the stale socket
    p.start()
    r = sendmail(p, ["rcpt@example.com"], "Subject: x\n\nx\n")
    assert r.returncode == 0, r.stderr
    delivered(p, "rcpt@example.com")


def test_sendmail_errors_queue_nothing(postern):
    for args, code, text in (
            (["bad@@example.com"], EX_DATAERR, "501 5.1.3 Bad recipient address syntax"),
            (["ok@example.com", "also bad@@x"], EX_DATAERR, "501 5.1.3"),
            (["-f", "bad@@sender", "ok@example.com"], EX_DATAERR, "501 5.1.7"),
            ([], EX_USAGE, "no recipients specified"),
            (["-t"], EX_USAGE, "no recipient addresses found"),
            (["-Z", "x@example.com"], EX_USAGE, "unknown option -Z"),
            (["-bd"], EX_USAGE, "postern serve")):
        r = sendmail(postern, args, "Subject: x\n\nx\n")
        assert r.returncode == code, (args, r.returncode, r.stderr)
        assert text in r.stderr, (args, r.stderr)
    # the three refused by the daemon have ended their sessions
    postern.wait_log_count(r"disconnect from local\[uid=0\]$", 3)
    postern.wait_sessions_over()
    assert postern.queue_files() == []
    assert not os.path.exists(postern.maildir("ok@example.com"))
    # the daemon's reply is shown as it is
    r = sendmail(postern, ["bad@@example.com"], "x\n")
    assert r.stderr.strip() == ("postern sendmail: recipient <bad@@example.com>: "
                                "501 5.1.3 Bad recipient address syntax")


def test_sendmail_message_size_limit(make_postern):
    p = make_postern(message_size_limit="2000")
    r = sendmail(p, ["big@example.com"], "Subject: big\n\n" + "x" * 3000 + "\n")
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert "552 5.3.4" in r.stderr
    p.wait_log(r"disconnect from local\[uid=0\]$", flags=re.M)
    p.wait_sessions_over()
    assert p.queue_files() == []


def test_sendmail_unprivileged_user(postern):
    """Anyone may submit: the socket is 0666 in a 0755 directory inside the
    0711 queue directory; the daemon records the uid (SO_PEERCRED)."""
    nobody = pwd.getpwnam("nobody")
    r = sendmail(postern, ["-t"], "To: unpriv@example.com\nSubject: from nobody\n\nhi\n",
                 user="nobody")
    assert r.returncode == 0, r.stderr
    [t] = delivered(postern, "unpriv@example.com")
    assert t.return_path == b"nobody@" + HOSTNAME.encode()
    assert_local_received(t, nobody.pw_uid)
    postern.wait_log(rf"connect from local\[uid={nobody.pw_uid}\]")
    qdir = postern.queue_dir
    assert os.stat(qdir).st_mode & 0o777 == 0o711
    assert os.stat(qdir / "public").st_mode & 0o777 == 0o755
    assert os.stat(qdir / "public" / "submit").st_mode & 0o777 == 0o666
    for sub in ("queue", "state", "tmp", "hold", "private"):
        assert os.stat(qdir / sub).st_mode & 0o777 == 0o700, sub
    # the queue itself stays private
    r = queue(postern, "list", user="nobody")
    assert r.returncode == EX_NOPERM, (r.returncode, r.stderr)
    assert "Permission denied" in r.stderr and "mail_owner" in r.stderr
    r = queue(postern, "flush", user="nobody")
    assert r.returncode == EX_NOPERM, (r.returncode, r.stderr)
    # -bp is the queue listing: same refusal
    r = sendmail(postern, ["-bp"], None, user="nobody")
    assert r.returncode == EX_NOPERM


def test_sendmail_bs_speaks_smtp_on_stdio(postern):
    dialogue = (b"EHLO client\r\nMAIL FROM:<bs@example.com>\r\nRCPT TO:<bs-rcpt@example.com>\r\n"
                b"DATA\r\nSubject: -bs\r\n\r\nvia stdin\r\n.\r\nQUIT\r\n")
    r = sendmail(postern, ["-bs"], dialogue)
    assert r.returncode == 0, r.stderr
    codes = [line[:3] for line in r.stdout.splitlines() if line[3:4] == " "]
    assert codes == ["220", "250", "250", "250", "354", "250", "221"], r.stdout
    [t] = delivered(postern, "bs-rcpt@example.com")
    assert t.return_path == b"bs@example.com"
    assert_local_received(t, 0)


# --------------------------------------------------------------------------
# queue


def closed_port():
    port = free_port()
    # nothing listens there; connecting is refused at once
    return port


@pytest.fixture
def stuck(make_postern):
    """A daemon whose deliveries cannot succeed (smtp to a closed port) and
    are not retried during the test."""
    port = closed_port()
    # example.com is in the test mydestination: route it through the same
    # dead next-hop, or local_transport (capture) would deliver it
    return make_postern(default_transport="smtp",
                        relayhost=f"[127.0.0.1]:{port}",
                        local_transport=f"smtp:[127.0.0.1]:{port}",
                        smtp_tls_security_level="none",
                        minimal_backoff_time="3000s", maximal_backoff_time="4000s")


def submit_stuck(p, rcpt, subject="queued", sender="app@example.com"):
    r = sendmail(p, ["-f", sender, rcpt], f"Subject: {subject}\n\nbody\n")
    assert r.returncode == 0, r.stderr
    m = p.wait_log(rf"([0-9A-F]{{16}}): to=<{re.escape(rcpt)}>, .*status=deferred \((.*)\)$",
                   flags=re.M)
    # its state file is written in the same event-loop pass that ends the
    # attempt: once it is there, the message is no longer being delivered
    wait_until(lambda: os.path.exists(p.queue_dir / "state" / m.group(1)),
               f"state file of {m.group(1)}")
    return m.group(1), m.group(2)


LINE_RE = re.compile(r"^([0-9A-F]{16})([ !]) +(\d+) (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d)  (\S+)$")
INDENT = " " * 48


def listing(text):
    """{qid: (held, size, sender, [(reason or None, rcpt)...])} of a listing."""
    lines = text.splitlines()
    assert lines[0] == "-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------", lines
    out, cur, reason = {}, None, None
    for line in lines[1:]:
        m = LINE_RE.match(line)
        if m:
            cur = m.group(1)
            out[cur] = (m.group(2) == "!", int(m.group(3)), m.group(5), [])
            reason = None
        elif line.startswith(INDENT + "("):
            assert line.endswith(")"), line
            reason = line[len(INDENT) + 1:-1]
        elif line.startswith(INDENT):
            out[cur][3].append((reason, line[len(INDENT):]))
        elif line == "":
            cur = None
        else:
            assert re.fullmatch(r"-- \d+ Kbytes in \d+ Requests?\.", line), line
    return out


def test_queue_show_escapes_terminal_controls(stuck):
    """A queued message's escape sequences never reach the admin's terminal
    as they are: `queue show` writes ESC as ^[, BEL as ^G, an 8-bit C1 byte
    as \\x9B (valid UTF-8 stays); `show -r` writes the content raw."""
    p = stuck
    msg = (b"Subject: \x1b]0;owned\x07title\n\nclear \x1b[2J now back \x9b31m \xe4\xbd\xa0\n")
    r = sendmail(p, ["-f", "app@example.com", "esc@example.com"], msg)
    assert r.returncode == 0, r.stderr
    qid = p.wait_log(r"([0-9A-F]{16}): to=<esc@example\.com>, .*status=deferred").group(1)
    show = queue(p, "show", qid)
    assert show.returncode == 0, show.stderr
    assert "\x1b" not in show.stdout and "\x07" not in show.stdout
    content = show.stdout.split("*** MESSAGE CONTENT ***\n")[1]
    assert "Subject: ^[]0;owned^Gtitle\n" in content, content
    assert "clear ^[[2J now back \\x9B31m \u4f60\n" in content, content
    raw = queue(p, "show", "-r", qid)
    assert raw.returncode == 0, raw.stderr
    assert "Subject: \x1b]0;owned\x07title\n" in raw.stdout
    assert "clear \x1b[2J now back " in raw.stdout
    # -r belongs to show only
    assert queue(p, "-r", "list").returncode == 64


def test_queue_list_show_hold_release_delete(stuck):
    p = stuck
    q1, why1 = submit_stuck(p, "you@example.com", "first")
    q2, _ = submit_stuck(p, "other@example.com", "second", sender="ops@example.com")

    r = queue(p, "list")
    assert r.returncode == 0, r.stderr
    ls = listing(r.stdout)
    assert set(ls) == {q1, q2}
    held, size, sender, rcpts = ls[q1]
    assert not held and sender == "app@example.com"
    assert rcpts == [(why1, "you@example.com")], r.stdout
    assert r.stdout.rstrip().endswith("-- 1 Kbytes in 2 Requests."), r.stdout
    # the size is the queued content's (Received: + message)
    show = queue(p, "show", q1)
    assert show.returncode == 0, show.stderr
    assert f"size: {size}\n" in show.stdout
    assert "sender: app@example.com\n" in show.stdout
    assert "status: queued\n" in show.stdout
    assert "client: local localhost\n" in show.stdout
    assert f"recipient: you@example.com (deferred " in show.stdout and why1 in show.stdout
    content = show.stdout.split("*** MESSAGE CONTENT ***\n")[1]
    assert content.startswith(f"Received: by {HOSTNAME} (postern, from userid 0)\n")
    assert "Subject: first\n" in content and content.endswith("\nbody\n*** END OF MESSAGE ***\n")

    # the same through the other names
    for argv in (["mailq", "-C", str(p.config_path)],
                 ["sendmail", "-C", str(p.config_path), "-bp"],
                 ["postern", "mailq", "-C", str(p.config_path)]):
        r2 = run(p, argv)
        assert r2.returncode == 0 and r2.stdout == r.stdout, (argv, r2.stderr)

    # hold: marked '!', moved to hold/, kept across a restart, not delivered
    assert queue_ok(p, "hold", q1) == f"ok {q1} on hold\n"
    assert os.path.exists(p.queue_dir / "hold" / q1)
    assert not os.path.exists(p.queue_dir / "queue" / q1)
    assert listing(queue(p, "list").stdout)[q1][0] is True
    assert "status: on hold\n" in queue(p, "show", q1).stdout
    assert queue_ok(p, "hold", q1) == f"ok {q1} on hold\n"          # already: fine
    r = queue(p, "flush", q1)
    assert r.returncode == 1 and "on hold" in r.stderr
    p.stop()
    p.start()
    p.wait_log(r"queue: 1 message to deliver")
    assert listing(queue(p, "list").stdout)[q1][0] is True
    assert os.path.exists(p.queue_dir / "state" / q1), "a held message keeps its state"

    # release: back in queue/, tried again at once
    n_before = len(re.findall(rf"{q1}: to=<", p.log()))
    assert queue_ok(p, "release", q1) == f"ok {q1} released\n"
    r = queue(p, "release", q1)
    assert r.returncode == 1 and "not on hold" in r.stderr
    p.wait_log_count(rf"{q1}: to=<", n_before + 1)      # tried again
    assert listing(queue(p, "list").stdout)[q1][0] is False

    # flush: all, or one
    assert re.fullmatch(r"ok \d+ messages? scheduled for delivery now\n", queue_ok(p, "flush"))
    assert queue_ok(p, "flush", q2) == f"ok {q2} scheduled for delivery\n"
    r = run(p, ["sendmail", "-C", str(p.config_path), "-q"])
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr

    # delete one (the flushes above may have it in flight: then it goes
    # when that attempt ends)
    assert queue_ok(p, "delete", q1) in (
        f"ok {q1} deleted\n", f"ok {q1} will be deleted when its delivery attempt ends\n")
    p.wait_log(rf"{q1}: removed")
    assert not os.path.exists(p.queue_dir / "queue" / q1)
    assert not os.path.exists(p.queue_dir / "state" / q1)
    assert set(listing(queue(p, "list").stdout)) == {q2}
    r = queue(p, "delete", q1)
    assert r.returncode == 1 and "no such message" in r.stderr

    # delete ALL, held ones included
    q3, _ = submit_stuck(p, "third@example.com", "third")
    queue_ok(p, "hold", q3)
    assert re.fullmatch(r"ok [012] messages? deleted"
                        r"(, 1 more when its delivery attempt ends)?\n",
                        queue_ok(p, "delete", "ALL"))
    wait_until(lambda: p.queue_files() == [], "queue/ empty")
    r = queue(p, "list")
    assert r.returncode == 0 and r.stdout == "Mail queue is empty\n"
    assert p.queue_files() == [] and os.listdir(p.queue_dir / "hold") == []


def test_queue_hold_all_release_all(stuck):
    p = stuck
    qids = [submit_stuck(p, f"r{i}@example.com", f"m{i}")[0] for i in range(3)]
    assert queue_ok(p, "hold", "ALL") == "ok 3 messages on hold\n"
    ls = listing(queue(p, "list").stdout)
    assert sorted(ls) == sorted(qids) and all(v[0] for v in ls.values())
    assert queue_ok(p, "release", "ALL") == "ok 3 messages released\n"
    ls = listing(queue(p, "list").stdout)
    assert sorted(ls) == sorted(qids) and not any(v[0] for v in ls.values())


# --------------------------------------------------------------------------
# queue: a message being delivered (held or deleted when its attempt ends)

# smtp_helo_timeout: a hanging attempt ends when the test ends it
# (HangingHop.end), long before this; it only bounds a test that forgets to
HANG_TIMEOUT = 30


class HangingHop:
    """A next hop that accepts connections and never says a word until the
    test ends them (end()): postern's attempt then ends at once, deferred
    (lost connection).  received has one entry per connection."""

    def __init__(self):
        self.lock = threading.Lock()
        self.gates = []         # one per connection, in the order accepted
        self.srv = ScriptedServer(self._script)
        self.port = self.srv.port

    @property
    def received(self):
        return self.srv.received

    def _script(self, conn, n):
        gate = threading.Event()
        with self.lock:
            self.gates.append(gate)
        gate.wait(HANG_TIMEOUT + 10)
        # returning closes the connection

    def end(self, n=None):
        """Close the oldest n connections still hanging (all when None)."""
        wait_until(lambda: len(self.gates) == len(self.received), "connections registered")
        with self.lock:
            open_ = [g for g in self.gates if not g.is_set()]
        assert open_, "no delivery attempt is hanging"
        for g in open_[:n]:
            g.set()

    def stop(self):
        with self.lock:
            for g in self.gates:
                g.set()
        self.srv.stop()


@pytest.fixture
def hanging(make_postern):
    """Factory: hanging(verbose=False, **settings) -> (daemon, hop). The
    daemon relays remote.test through a HangingHop: every attempt stays in
    flight until the test calls hop.end(). example.com stays local
    (capture), so bounces to the sender can be seen."""
    hop = HangingHop()
    made = []

    def factory(verbose=False, **settings):
        s = dict(default_transport="smtp", relayhost=f"[127.0.0.1]:{hop.port}",
                 smtp_tls_security_level="none", smtp_helo_timeout=f"{HANG_TIMEOUT}s")
        s.update(settings)
        made.append(make_postern(start=False, **s))
        made[-1].start(verbose=verbose)
        return made[-1], hop

    yield factory
    hop.stop()


def send_hanging(p, srv, rcpts, subject):
    """Queue a message from app@example.com and wait until its delivery
    is in flight (a new connection to the hanging next hop)."""
    n = len(srv.received)
    qid = p.send("app@example.com", rcpts,
                 simple_message(subject=subject, sender="app@example.com", rcpt=rcpts[-1]))
    wait_until(lambda: len(srv.received) > n, f"{qid} connecting to the next hop")
    return qid


def test_hold_while_being_delivered(hanging):
    """hold of a message in flight is accepted at once, applied when the
    attempt ends; what that attempt delivered stays delivered, and the
    held message is not tried again."""
    p, srv = hanging(verbose=True)      # a deferred message would be retried after 1s
    qid = send_hanging(p, srv, ["local@example.com", "far@remote.test"], "hold me")
    t0 = time.monotonic()
    r = queue(p, "hold", qid)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"ok {qid} will be held when its delivery attempt ends\n"
    # (the attempt cannot end before srv.end(): an answer that waited for
    # it would come after HANG_TIMEOUT)
    assert time.monotonic() - t0 < HANG_TIMEOUT - 1, "the answer waited for the attempt"
    assert os.path.exists(p.queue_dir / "queue" / qid), "held before its attempt ended"
    # asking again, or flushing it, changes nothing
    assert queue_ok(p, "hold", qid) == f"ok {qid} will be held when its delivery attempt ends\n"
    assert queue_ok(p, "flush", qid) == f"ok {qid} is being delivered now\n"
    p.wait_log(rf"control: uid=0: hold {qid}: ok {qid} will be held when its delivery "
               rf"attempt ends")
    # a witness, in flight too: its retry shows when qid's would have come
    witness = send_hanging(p, srv, ["far2@remote.test"], "witness")

    srv.end(1)          # qid's attempt ends (the witness's goes on)
    p.wait_log(rf"{qid}: held by admin request \(after delivery attempt\)")
    log = p.log()
    deferred = log.index(f"{qid}: to=<far@remote.test>")
    assert re.search(rf"{qid}: to=<far@remote\.test>, .*status=deferred", log)
    assert deferred < log.index(f"{qid}: held by admin request")
    assert os.path.exists(p.queue_dir / "hold" / qid)
    assert not os.path.exists(p.queue_dir / "queue" / qid)
    assert os.path.exists(p.queue_dir / "state" / qid)
    # the local recipient was delivered during that attempt: it stays so
    assert re.search(rf"{qid}: to=<local@example\.com>, relay=capture, .*status=sent", log)
    delivered(p, "local@example.com", final=False)
    show = queue(p, "show", qid).stdout
    assert "status: on hold\n" in show and "attempts: 1\n" in show, show
    assert "recipient: local@example.com (sent" in show, show
    assert "recipient: far@remote.test (deferred" in show, show
    ls = listing(queue(p, "list").stdout)
    held, _, sender, rcpts = ls[qid]
    assert held and sender == "app@example.com"
    assert [a for _, a in rcpts] == ["far@remote.test"], rcpts
    # not tried again: the witness, deferred after qid was held (so due no
    # earlier than qid would be), is tried again and that attempt ends;
    # qid never connects a second time
    srv.end()
    wanted = rf"{witness}: to=<far2@remote\.test>, .*status=deferred"
    p.wait_log(wanted)
    p.wait_log_count(rf"{witness}: connecting to ", 2)
    srv.end()
    p.wait_log_count(wanted, 2)
    assert p.log_count(rf"{qid}: connecting to ") == 1, "a held message was tried again"
    assert len(srv.received) == 3
    assert listing(queue(p, "list").stdout)[qid][0] is True


def test_delete_while_being_delivered(hanging):
    """delete of a message in flight: accepted at once, the message is
    removed when its attempt ends, without a bounce (maximal_queue_lifetime
    0 would bounce it otherwise, as it does the message kept)."""
    p, srv = hanging(maximal_queue_lifetime="0")
    gone = send_hanging(p, srv, ["far@remote.test"], "delete me")
    kept = send_hanging(p, srv, ["far2@remote.test"], "keep me")
    r = queue(p, "delete", gone)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"ok {gone} will be deleted when its delivery attempt ends\n"
    assert os.path.exists(p.queue_dir / "queue" / gone)
    # a release cannot undo a delete
    r = queue(p, "release", gone)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.strip() == (f"postern queue: error {gone} is not on hold (it will be "
                                "deleted when its delivery attempt ends)")
    # a hold does not replace it either
    assert queue_ok(p, "hold", gone) == \
        f"ok {gone} will be deleted when its delivery attempt ends\n"

    srv.end()
    p.wait_log(rf"{gone}: removed by admin request")
    # the other one expired at the end of its attempt and bounced
    p.wait_log(rf"{kept}: sender non-delivery notification: [0-9A-F]{{16}}")
    [bounce] = p.wait_for_maildir("app@example.com", 1)
    text = open(bounce, "rb").read()
    assert b"keep me" in text and b"delete me" not in text
    log = p.log()
    assert f"{gone}: sender non-delivery notification" not in log
    assert f"{gone}: held by admin request" not in log
    assert re.search(rf"{gone}: to=<far@remote\.test>, .*status=deferred", log)
    for sub in ("queue", "state", "hold"):
        assert not os.path.exists(p.queue_dir / sub / gone), sub
    p.wait_queue_empty()
    assert len(srv.received) == 2


def test_release_cancels_pending_hold(hanging):
    p, srv = hanging()
    qid = send_hanging(p, srv, ["far@remote.test"], "changed my mind")
    assert queue_ok(p, "hold", qid) == f"ok {qid} will be held when its delivery attempt ends\n"
    assert queue_ok(p, "release", qid) == f"ok {qid} released (pending hold cancelled)\n"
    r = queue(p, "release", qid)
    assert r.returncode == 1 and r.stderr.strip() == f"postern queue: error {qid} is not on hold"
    p.wait_log(rf"{qid}: pending hold cancelled")
    # the attempt ends as usual: deferred, kept in queue/, tried again
    srv.end()
    p.wait_log(rf"{qid}: to=<far@remote\.test>, .*status=deferred")
    wait_until(lambda: len(srv.received) >= 2, "the message tried again")
    assert "held by admin request" not in p.log()
    assert os.path.exists(p.queue_dir / "queue" / qid)
    assert os.listdir(p.queue_dir / "hold") == []


def test_pending_actions_applied_at_shutdown(hanging):
    """SIGTERM cuts the attempts short: their pending hold and delete are
    applied then (and the daemon exits 0 with nothing leaked)."""
    p, srv = hanging()
    held = send_hanging(p, srv, ["far@remote.test"], "held at exit")
    gone = send_hanging(p, srv, ["far2@remote.test"], "deleted at exit")
    queue_ok(p, "hold", held)
    queue_ok(p, "delete", gone)
    p.stop()
    log = p.log()
    assert f"{held}: held by admin request (after delivery attempt)" in log
    assert f"{gone}: removed by admin request" in log
    assert os.listdir(p.queue_dir / "hold") == [held]
    assert p.queue_files() == []
    p.start()
    assert "queue: " not in p.stderr_paths[-1].read_text(), "a held message was scheduled"


def test_all_variants_include_messages_being_delivered(hanging):
    p, srv = hanging(minimal_backoff_time="3000s", maximal_backoff_time="4000s")
    idle = send_hanging(p, srv, ["far@remote.test"], "waiting")
    srv.end()
    p.wait_log(rf"{idle}: to=<far@remote\.test>, .*status=deferred")
    wait_until(lambda: os.path.exists(p.queue_dir / "state" / idle), "state file")
    busy = send_hanging(p, srv, ["far2@remote.test"], "in flight")
    # hold ALL: the waiting one at once, the one in flight after its attempt
    assert queue_ok(p, "hold", "ALL") == \
        "ok 1 message on hold, 1 more when its delivery attempt ends\n"
    assert os.path.exists(p.queue_dir / "hold" / idle)
    assert os.path.exists(p.queue_dir / "queue" / busy)
    srv.end()
    p.wait_log(rf"{busy}: held by admin request \(after delivery attempt\)")
    ls = listing(queue(p, "list").stdout)
    assert set(ls) == {idle, busy} and all(v[0] for v in ls.values())
    # release ALL: both tried at once, both in flight
    n = len(srv.received)
    assert queue_ok(p, "release", "ALL") == "ok 2 messages released\n"
    wait_until(lambda: len(srv.received) >= n + 2, "both messages in flight")
    # delete ALL: both when their attempts end, no bounce
    assert queue_ok(p, "delete", "ALL") == \
        "ok 0 messages deleted, 2 more when their delivery attempts end\n"
    srv.end()
    for q in (idle, busy):
        p.wait_log(rf"{q}: removed by admin request")
    p.wait_queue_empty()
    assert os.listdir(p.queue_dir / "hold") == []
    assert "non-delivery notification" not in p.log()
    assert queue(p, "list").stdout == "Mail queue is empty\n"


def test_queue_without_daemon(stuck):
    """delete / hold / release work on the spool directly when no daemon
    runs; flush needs the daemon."""
    p = stuck
    q1, _ = submit_stuck(p, "a@example.com")
    q2, _ = submit_stuck(p, "b@example.com")
    p.stop()
    r = queue(p, "hold", q1)
    assert r.returncode == 0 and r.stdout.startswith(f"ok {q1} on hold"), r.stderr
    assert "daemon is not running" in r.stdout
    assert os.path.exists(p.queue_dir / "hold" / q1)
    assert listing(queue(p, "list").stdout)[q1][0] is True
    r = queue(p, "flush")
    assert r.returncode == EX_UNAVAILABLE and "daemon is not running" in r.stderr
    r = queue(p, "delete", q2)
    assert r.returncode == 0 and r.stdout.startswith(f"ok {q2} deleted"), r.stderr
    assert not os.path.exists(p.queue_dir / "queue" / q2)
    assert not os.path.exists(p.queue_dir / "state" / q2)
    # the daemon starts with the held message left alone
    p.start()
    assert "queue: " not in p.stderr_paths[-1].read_text(), "a held message was scheduled"
    assert listing(queue(p, "list").stdout)[q1][0] is True
    p.stop()
    r = queue(p, "release", "ALL")
    assert r.returncode == 0 and r.stdout.startswith("ok 1 message released"), r.stderr
    p.start()
    p.wait_log(r"queue: 1 message to deliver")


def test_queue_bad_requests(shared_postern):
    r = queue(shared_postern, "list")
    assert r.returncode == 0 and r.stdout == "Mail queue is empty\n"
    r = run(shared_postern, ["mailq", "-C", str(shared_postern.config_path)])
    assert r.returncode == 0 and r.stdout == "Mail queue is empty\n"
    for args in (("delete", "../../etc/passwd"), ("hold", "6b068c587250e759"), ("show", "x"),
                 ("release", "0123")):
        r = queue(shared_postern, *args)
        assert r.returncode == EX_USAGE, (args, r.returncode, r.stderr)
        assert "invalid queue id" in r.stderr
    for args in (("delete", "0123456789ABCDEF"), ("hold", "0123456789ABCDEF"),
                 ("release", "0123456789ABCDEF"), ("flush", "0123456789ABCDEF")):
        r = queue(shared_postern, *args)
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert "no such message" in r.stderr
    r = queue(shared_postern, "show", "0123456789ABCDEF")
    assert r.returncode != 0 and "no such message" in r.stderr
    for args in ((), ("frobnicate",), ("delete",), ("list", "extra")):
        r = queue(shared_postern, *args)
        assert r.returncode == EX_USAGE and "usage:" in r.stderr, args


def test_control_socket_protocol(shared_postern):
    """Raw line protocol: one request, one answer line, closed."""
    path = str(shared_postern.queue_dir / "private" / "control")
    assert os.stat(path).st_mode & 0o777 == 0o600

    def ask(data):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(data)
            buf = b""
            while True:
                d = s.recv(4096)
                if not d:
                    return buf
                buf += d

    assert ask(b"flush\n") == b"ok 0 messages scheduled for delivery now\n"
    assert ask(b"flush\r\n") == b"ok 0 messages scheduled for delivery now\n"
    assert ask(b"bogus\n").startswith(b"error unknown request")
    assert ask(b"delete\n") == b"error delete needs a queue id or ALL\n"
    assert ask(b"delete ../x\n") == b"error invalid queue id\n"
    assert ask(b"hold " + b"A" * 500 + b"\n") == b"error request too long\n"
    assert ask(b"delete ALL\n") == b"ok 0 messages deleted\n"
    shared_postern.wait_log(r"control: uid=0: delete ALL: ok 0 messages deleted")


def test_second_daemon_on_same_queue_refused(make_postern):
    p = make_postern()
    other = make_postern(start=False, queue_directory=str(p.queue_dir))
    other.start(wait=False)
    assert other.proc.wait(10) == 1
    assert "another postern daemon is running on this queue" in other.log()
    # the first one still works
    r = sendmail(p, ["still@example.com"], "Subject: x\n\nx\n")
    assert r.returncode == 0, r.stderr
    delivered(p, "still@example.com")


@pytest.mark.parametrize("answer, stream", [
    (b"ok \x1b]52;c;cm0gLXJmIC8K\x07 flushed \x1b[2J\x9b6n\n", "stdout"),
    (b"error \x1b[31mno\x1b[0m such message\n", "stderr"),
    (b"\x1b[8mjunk\n", "stderr"),
])
def test_queue_answer_from_control_socket_is_escaped(make_postern, answer, stream):
    """The control socket lives in a directory mail_owner controls: whoever
    has that account could answer root's `postern queue` with terminal
    escape sequences (clipboard writes, screen clears). The command prints
    them escaped, as `queue show` does."""
    p = make_postern(start=False)
    p.write_config()
    private = p.queue_dir / "private"
    private.mkdir(parents=True)
    path = private / "control"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dfd = os.open(private, os.O_RDONLY | os.O_DIRECTORY)
    try:
        srv.bind(f"/proc/self/fd/{dfd}/control")     # the full path is too long
    finally:
        os.close(dfd)
    assert path.exists()
    srv.listen(1)

    def answer_once():
        conn, _ = srv.accept()
        with conn:
            conn.recv(256)
            conn.sendall(answer)

    t = threading.Thread(target=answer_once, daemon=True)
    t.start()
    try:
        r = queue(p, "flush")
    finally:
        t.join(10)
        srv.close()
    out = r.stdout if stream == "stdout" else r.stderr
    assert "\x1b" not in r.stdout + r.stderr and "\x9b" not in r.stdout + r.stderr, (r.stdout, r.stderr)
    assert "^[" in out, (r.stdout, r.stderr)
