"""Durability: a 250 reply means the message survives a crash (SIGKILL) and
a restart, and is delivered exactly once; SIGTERM finishes the sessions in
flight; deliveries that fail temporarily are retried."""

import os
import re
import signal
import smtplib
import threading
import time

from conftest import (CLIENT_HELO, check_delivery, lf, parse_qid, simple_message,
                      split_trace, wait_until)


def deferred_re(qid, rcpt):
    """The log line of a capture delivery of qid to rcpt that failed
    temporarily."""
    return (rf"{qid}: to=<{re.escape(rcpt)}>, relay=capture, .*dsn=4\.\d+\.\d+, "
            rf"status=deferred \(")


def sent_re(qid, rcpt):
    return rf"{qid}: to=<{re.escape(rcpt)}>, relay=capture, .*dsn=2\.0\.0, status=sent \("


def message_id_of(rest):
    m = re.search(rb"(?mi)^Message-ID:\s*<([^>]+)>", rest)
    assert m, f"no Message-ID in {rest[:300]!r}"
    return m.group(1).decode()


def test_kill_right_after_queueing_then_restart(make_postern):
    """SIGKILL as soon as the 250s are in (delivery may or may not have
    happened): after a restart each message is in its Maildir exactly once."""
    p = make_postern()
    sent = []
    s = p.smtp()
    s.ehlo(CLIENT_HELO)
    for i in range(3):
        rcpt = f"crash{i}@postern.test"
        msg = simple_message(f"crash test {i}", b"message %d\r\n" % i,
                             sender="crash@postern.test", rcpt=rcpt)
        sent.append((rcpt, msg, p.send("crash@postern.test", [rcpt], msg, conn=s)))
    p.kill()
    s.close()
    p.start()
    # the kill may fall between a message's unlink and its "removed" log
    # line: the end is an empty queue, not a log line per message
    paths = [p.wait_for_maildir(rcpt, 1, final=False) for rcpt, _, _ in sent]
    p.wait_queue_empty()
    for (rcpt, msg, qid), [path] in zip(sent, paths):
        assert len(p.messages(rcpt)) == 1, rcpt          # exactly once, for good
        t = check_delivery(path, qid, 0, "crash@postern.test", rcpt)
        assert t.rest == lf(msg)


def test_queued_while_delivery_impossible_survives_restart(make_postern):
    """With the capture directory unwritable, messages stay queued; after a
    stop, a repair and a restart they are delivered exactly once."""
    p = make_postern()
    os.chmod(p.mail_dir, 0)
    try:
        sent = []
        for i in range(3):
            rcpt = f"stuck{i}@postern.test"
            msg = simple_message(f"stuck {i}", sender="stuck@postern.test", rcpt=rcpt)
            sent.append((rcpt, msg, p.send("stuck@postern.test", [rcpt], msg)))
        # each was tried, failed and stays queued
        for rcpt, _, qid in sent:
            p.wait_log(deferred_re(qid, rcpt))
        assert sorted(p.queue_files()) == sorted(q for _, _, q in sent), \
            f"queue holds {p.queue_files()}; log:\n{p.log()[-3000:]}"
        p.stop()
    finally:
        os.chmod(p.mail_dir, 0o700)
    for rcpt, _, _ in sent:
        assert not os.path.exists(p.maildir(rcpt))
    p.start()
    for rcpt, msg, qid in sent:
        [path] = p.wait_for_maildir(rcpt, 1)
        t = check_delivery(path, qid, 0, "stuck@postern.test", rcpt)
        assert t.rest == lf(msg)
    p.wait_queue_empty()


def test_deferred_delivery_is_retried(make_postern):
    """A temporary failure is logged as a deferral and the message stays
    queued; a later attempt (the retry, after the back-off) delivers it."""
    p = make_postern(minimal_backoff_time="1s", queue_run_delay="1s")
    rcpt = "retry@postern.test"
    msg = simple_message("retry me", sender="retry@postern.test", rcpt=rcpt)
    os.chmod(p.mail_dir, 0)
    try:
        qid = p.send("retry@postern.test", [rcpt], msg)
        p.wait_log(deferred_re(qid, rcpt))
        # the attempt is over once its state is recorded
        wait_until(lambda: (p.queue_dir / "state" / qid).exists(), f"state file of {qid}")
        assert p.queue_files() == [qid], p.queue_files()
        assert not os.path.exists(p.maildir(rcpt))
    finally:
        os.chmod(p.mail_dir, 0o700)
    [path] = p.wait_for_maildir(rcpt, 1, timeout=15)
    t = check_delivery(path, qid, 0, "retry@postern.test", rcpt)
    assert t.rest == lf(msg)
    p.wait_queue_empty()
    # the delivery came from a later attempt than the deferral
    log = p.log()
    deferred = [m.start() for m in re.finditer(deferred_re(qid, rcpt), log)]
    sent = [m.start() for m in re.finditer(sent_re(qid, rcpt), log)]
    assert len(sent) == 1 and deferred and max(deferred) < sent[0], log[-3000:]


def test_sigterm_finishes_session_in_flight(make_postern):
    p = make_postern(smtpd_timeout="5s")
    rcpt = "inflight@postern.test"
    msg = simple_message("in flight at SIGTERM", b"".join(b"line %d\r\n" % i for i in range(50)),
                         sender="inflight@postern.test", rcpt=rcpt)
    half = len(msg) // 2
    with p.raw() as c:
        assert c.read_reply().code == 220
        c.expect("EHLO client.postern.test", 250)
        c.expect("MAIL FROM:<inflight@postern.test>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        c.send(msg[:half])
        p.proc.send_signal(signal.SIGTERM)
        # the worker took the signal and, with a session in flight, stays
        p.wait_log(r"terminating on signal 15$", flags=re.M)
        assert p.proc.poll() is None, "postern exited with a session in flight"
        c.send(msg[half:] + b".\r\n")
        r = c.read_reply()
        assert r.code == 250, r
        qid = parse_qid(r.text)
        r = c.cmd("QUIT")
        assert r.code in (221, 421), r
    p.stop()      # waits for the exit, asserts status 0
    p.start()
    [path] = p.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, "inflight@postern.test", rcpt)
    assert t.rest == lf(msg)
    p.wait_queue_empty()


def test_kill_during_concurrent_submission(make_postern):
    """10 clients submit 50 messages each; SIGKILL after ~200 have been
    acknowledged; restart on the same directories.  Every acknowledged
    message is delivered exactly once to each recipient, complete; nothing
    that was not submitted appears; nothing is delivered twice."""
    p = make_postern(smtpd_client_connection_count_limit="0")
    rcpts = ["dur-a@postern.test", "dur-b@postern.test"]
    sender = "dur@postern.test"
    nthreads, per_thread, kill_after = 10, 50, 200

    lock = threading.Lock()
    attempted = {}      # message id -> message bytes (DATA content was sent)
    acked = {}          # message id -> QID (250 received)
    stop = threading.Event()

    def make(t, i):
        mid = f"dur-{t}-{i}@client.postern.test"
        body = b"".join(b"thread %d message %d line %d %s\r\n" % (t, i, n, b"z" * 40)
                        for n in range(20))
        return mid, simple_message(f"dur {t} {i}", body, msgid=mid.encode(),
                                   sender=sender, rcpt=rcpts[0])

    def client(t):
        try:
            s = smtplib.SMTP("127.0.0.1", p.port, timeout=10)
            s.ehlo(CLIENT_HELO)
            for i in range(per_thread):
                if stop.is_set():
                    break
                mid, msg = make(t, i)
                if s.mail(sender)[0] != 250:
                    break
                if any(s.rcpt(r)[0] != 250 for r in rcpts):
                    break
                with lock:
                    attempted[mid] = msg
                code, resp = s.data(msg)
                if code != 250:
                    break
                with lock:
                    acked[mid] = parse_qid(resp)
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass
        except (smtplib.SMTPException, OSError):
            return      # the daemon died under us: this client stops

    threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(nthreads)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with lock:
            n = len(acked)
        if n >= kill_after or not any(th.is_alive() for th in threads):
            break
        time.sleep(0.002)
    p.kill()
    stop.set()
    for th in threads:
        th.join(20)
        assert not th.is_alive(), "a client thread hung after the kill"
    with lock:
        acked_at_kill = dict(acked)
        attempted_at_kill = dict(attempted)
    assert len(acked_at_kill) >= kill_after, \
        f"only {len(acked_at_kill)} messages acknowledged before the kill; log:\n{p.log()[-3000:]}"

    print(f"acked {len(acked_at_kill)} attempted {len(attempted_at_kill)} queued {len(p.queue_files())} delivered {len(p.messages(rcpts[0]))}/{len(p.messages(rcpts[1]))}")
    p.start()
    # wait until every acknowledged message is in both Maildirs
    deadline = time.monotonic() + 90
    while True:
        seen = [set() for _ in rcpts]
        for k, r in enumerate(rcpts):
            for data in p.messages(r):
                seen[k].add(message_id_of(split_trace(data).rest))
        missing = [set(acked_at_kill) - s for s in seen]
        if not any(missing):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"acknowledged messages never delivered: "
                                 f"{[sorted(m)[:10] for m in missing]} "
                                 f"({[len(m) for m in missing]} missing); log:\n{p.log()[-3000:]}")
        time.sleep(0.2)
    # every message is done (delivered, then removed): nothing more comes
    p.wait_queue_empty(timeout=60)

    for k, r in enumerate(rcpts):
        counts = {}
        mbox = p.maildir(r)
        for name in sorted(os.listdir(os.path.join(mbox, b"new"))):
            with open(os.path.join(mbox, b"new", name), "rb") as f:
                t = split_trace(f.read())
            mid = message_id_of(t.rest)
            counts[mid] = counts.get(mid, 0) + 1
            assert mid in attempted_at_kill, f"{r}: delivered message {mid} was never submitted"
            assert t.rest == lf(attempted_at_kill[mid]), f"{r}: {mid} is damaged"
            assert t.return_path == sender.encode()
            assert t.delivered_to == r.encode()
            if mid in acked_at_kill:
                qid = acked_at_kill[mid]
                assert re.match(rb"^\d+\." + qid.encode() + rb"_%d\." % k, name), \
                    f"{r}: {mid} acknowledged as {qid} but delivered as {name!r}"
        dups = {m: c for m, c in counts.items() if c != 1}
        assert not dups, f"{r}: delivered more than once: {dups}"
        assert set(acked_at_kill) <= set(counts)


def test_restart_with_garbage_in_the_queue(make_postern):
    """Files that are not valid queue files (bad names, torn or junk
    content) must not crash the daemon at start-up or stop delivery of
    the good ones."""
    p = make_postern()
    rcpt = "good@postern.test"
    msg = simple_message("good one", sender="good@postern.test", rcpt=rcpt)
    os.chmod(p.mail_dir, 0)
    try:
        qid = p.send("good@postern.test", [rcpt], msg)
        p.wait_log(deferred_re(qid, rcpt))
        p.stop()
    finally:
        os.chmod(p.mail_dir, 0o700)
    qdir = p.queue_dir / "queue"
    assert (qdir / qid).exists()
    good = (qdir / qid).read_bytes()
    (qdir / "not-a-qid").write_bytes(b"junk\n")
    (qdir / "0123456789ABCDEF").write_bytes(good[: len(good) // 2])      # torn
    (qdir / "FEDCBA9876543210").write_bytes(b"\x00" * 100)
    (qdir / "AAAAAAAAAAAAAAAA").write_bytes(b"")
    p.start()
    [path] = p.wait_for_maildir(rcpt, 1)
    t = check_delivery(path, qid, 0, "good@postern.test", rcpt)
    assert t.rest == lf(msg)
    # still serving
    rcpt2 = "after-garbage@postern.test"
    p.send("good@postern.test", [rcpt2], simple_message("after garbage"))
    p.wait_for_maildir(rcpt2, 1)
    # none of the junk was delivered anywhere
    assert sorted(os.listdir(os.fsencode(str(p.mail_dir)))) == sorted(
        [b"good@postern.test", b"after-garbage@postern.test"])


def test_sigterm_with_idle_session_exits_in_time(make_postern):
    """An idle client does not keep the daemon alive past smtpd_timeout
    after SIGTERM; the exit status is still 0."""
    p = make_postern(smtpd_timeout="3s")
    with p.raw() as c:
        assert c.read_reply().code == 220
        c.expect("EHLO client.postern.test", 250)
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        try:
            rc = p.proc.wait(6)
        except Exception:
            raise AssertionError(f"postern still running 6 s after SIGTERM with an idle "
                                 f"session (smtpd_timeout = 3s); log:\n{p.log()[-2000:]}")
        assert rc == 0, (rc, p.log()[-2000:])
        assert time.monotonic() - t0 < 6
        # the client was told (421) or simply disconnected
        assert c.wait_closed(2)
        if c.buf:
            assert c.buf.startswith(b"421"), c.buf
    p.check_sanitizers()


def test_disk_full_during_data_is_a_temporary_error(make_postern):
    """ENOSPC while DATA streams into the queue: 451 4.3.0, nothing half-
    queued, and the next (smaller) message is accepted and delivered."""
    import subprocess as sp
    p = make_postern(start=False)
    p.queue_dir.mkdir(parents=True, exist_ok=True)
    sp.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(p.queue_dir)],
           check=True)
    try:
        p.start()
        with p.smtp() as c:
            c.ehlo("client.example")
            big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 600     # ~600 KB
            code, resp = c.mail("a@example.com")
            assert code == 250
            code, resp = c.rcpt("big@example.com")
            assert code == 250
            code, resp = c.data(big)
            assert (code, resp[:5]) == (451, b"4.3.0"), (code, resp)
            c.rset()
            c.sendmail("a@example.com", ["small@example.com"], b"Subject: small\r\n\r\nfits\r\n")
        assert len(p.wait_for_maildir("small@example.com", 1)) == 1
        assert not (p.mail_dir / "big@example.com").exists()
        assert os.listdir(p.queue_dir / "tmp") == []
        p.wait_queue_empty()
        assert "queue file write error" in p.log()
        p.stop()
    finally:
        if p.running:
            p.kill()
        sp.run(["umount", str(p.queue_dir)], check=False)


def test_full_maildir_defers_then_delivers_when_space_returns(make_postern):
    """The capture transport's disk errors are temporary (invariant 5):
    deferred with the reason, delivered once there is room again."""
    import subprocess as sp
    p = make_postern(start=False, minimal_backoff_time="1s", maximal_backoff_time="1s")
    p.mail_dir.mkdir(parents=True, exist_ok=True)
    sp.run(["mount", "-t", "tmpfs", "-o", "size=128k,mode=0755", "tmpfs", str(p.mail_dir)],
           check=True)
    try:
        p.start()
        body = (b"y" * 998 + b"\r\n") * 300                                   # ~300 KB
        qid = p.send("a@example.com", ["full@example.com"], b"Subject: full\r\n\r\n" + body)
        p.wait_log(rf"{qid}: to=<full@example\.com>, relay=capture, .*dsn=4\.3\.0, "
                   r"status=deferred \(.*\)")
        assert p.queue_files() == [qid]
        sp.run(["mount", "-o", "remount,size=4m", str(p.mail_dir)], check=True)
        [path] = p.wait_for_maildir("full@example.com", 1, timeout=15)
        with open(path, "rb") as f:
            assert f.read().endswith(body.replace(b"\r\n", b"\n"))
        p.wait_queue_empty()
        p.stop()
    finally:
        if p.running:
            p.kill()
        sp.run(["umount", str(p.mail_dir)], check=False)
