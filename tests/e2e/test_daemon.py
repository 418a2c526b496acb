"""Daemon life cycle: SIGHUP reload, many concurrent sessions."""
import os
import re
import signal
import socket
import time

import pytest

from conftest import parse_qid


def test_sighup_reload_applies_new_limits(make_postern):
    p = make_postern(message_size_limit=100000)
    with p.smtp() as c:
        code, text = c.ehlo("client.example")
        assert b"SIZE 100000" in text
    p.settings["message_size_limit"] = "200000"
    p.write_config()
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload: configuration")
    with p.smtp() as c:
        code, text = c.ehlo("client.example")
        assert b"SIZE 200000" in text


def test_sighup_with_bad_config_keeps_running_config(make_postern):
    p = make_postern(message_size_limit=100000)
    p.config_path.write_text(p.config_text() + "mesage_size_limit = 5\n")
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload failed, keeping the running configuration: .*postern\.cf:\d+: "
               r"unknown parameter \"mesage_size_limit\"; did you mean \"message_size_limit\"")
    with p.smtp() as c:
        code, text = c.ehlo("client.example")
        assert b"SIZE 100000" in text
        c.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nstill up\r\n")
    assert len(p.wait_for_maildir("b@example.com", 1)) == 1


def test_sighup_logs_every_error_of_a_bad_config(make_postern):
    p = make_postern(message_size_limit=100000)
    p.config_path.write_text(p.config_text() + "smtpd_timeout = soon\n"
                             "mesage_size_limit = 5\ndefault_transport = pigeon\n")
    n = len(p.config_text().splitlines())
    os.kill(p.proc.pid, signal.SIGHUP)
    prefix = r"warning: reload failed, keeping the running configuration: .*postern\.cf:"
    p.wait_log(prefix + rf"{n + 3}: default_transport = pigeon: unknown transport")
    log = p.log()
    assert re.search(prefix + rf"{n + 1}: smtpd_timeout = \"soon\": not a time", log), log
    assert re.search(prefix + rf"{n + 2}: unknown parameter \"mesage_size_limit\"", log), log
    with p.smtp() as c:
        code, text = c.ehlo("client.example")
        assert b"SIZE 100000" in text


def test_session_started_before_reload_keeps_its_config(make_postern):
    p = make_postern(message_size_limit=100000)
    c = p.smtp()
    c.ehlo("client.example")
    p.settings["message_size_limit"] = "200"
    p.write_config()
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload: configuration")
    # the open session still runs on the old snapshot: 1000 bytes fit
    c.sendmail("a@example.com", ["b@example.com"],
               b"Subject: x\r\n\r\n" + b"y" * 1000 + b"\r\n")
    c.quit()
    assert len(p.wait_for_maildir("b@example.com", 1)) == 1


def test_many_concurrent_sessions(make_postern):
    """1500 open sessions at once: every one is greeted and still served."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 1700
    if soft < need:
        if hard < need and hard != resource.RLIM_INFINITY:
            pytest.fail(f"test needs {need} descriptors, hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    p = make_postern(smtpd_max_connections=2000)
    socks = []
    try:
        for _ in range(1500):
            s = socket.create_connection((p.host, p.port), timeout=10)
            socks.append(s)
        deadline = time.time() + 60
        for s in socks:
            s.settimeout(max(1, deadline - time.time()))
            banner = b""
            while not banner.endswith(b"\r\n"):
                chunk = s.recv(512)
                assert chunk, "connection closed before the greeting"
                banner += chunk
            assert banner.startswith(b"220 "), banner
        # with all of them open, a message still goes through
        with p.smtp() as c:
            c.sendmail("a@example.com", ["many@example.com"], b"Subject: m\r\n\r\nok\r\n")
        # and one of the idle ones can still talk
        socks[700].sendall(b"NOOP\r\n")
        assert socks[700].recv(512).startswith(b"250 2.0.0")
    finally:
        for s in socks:
            s.close()
    assert len(p.wait_for_maildir("many@example.com", 1)) == 1


def test_connection_limit_total(make_postern):
    p = make_postern(smtpd_max_connections=3)
    p.wait_log(r"disconnect from")      # the readiness probe's session is gone
    socks = [socket.create_connection((p.host, p.port), timeout=5) for _ in range(3)]
    try:
        for s in socks:
            assert s.recv(512).startswith(b"220 ")
        extra = socket.create_connection((p.host, p.port), timeout=5)
        data = b""
        while True:
            chunk = extra.recv(512)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"421 4.3.2 "), data
        extra.close()
    finally:
        for s in socks:
            s.close()


def worker_pid(p):
    """The worker: the other live process in the daemon's process group."""
    from conftest import group_members
    deadline = time.monotonic() + 10
    while True:
        others = [pid for pid in group_members(p.proc.pid) if pid != p.proc.pid]
        if others:
            assert len(others) == 1, others
            return others[0]
        assert time.monotonic() < deadline, "no worker process"
        time.sleep(0.02)


def test_worker_runs_unprivileged_and_parent_stays_root(make_postern):
    p = make_postern()
    w = worker_pid(p)
    uid = lambda pid: int(next(l for l in open(f"/proc/{pid}/status")
                               if l.startswith("Uid:")).split()[1])
    if os.geteuid() == 0:
        import pwd
        assert uid(w) == pwd.getpwnam("postern").pw_uid
        assert uid(p.proc.pid) == 0
    # the parent has no listening socket: only the worker reads the network
    inodes = set()
    for fd in os.listdir(f"/proc/{p.proc.pid}/fd"):
        link = os.readlink(f"/proc/{p.proc.pid}/fd/{fd}")
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A":
                    listening.add(cols[9])
    assert not (inodes & listening)


def test_kill_9_of_the_parent_takes_the_worker(make_postern):
    from conftest import wait_group_gone
    p = make_postern()
    w = worker_pid(p)
    os.kill(p.proc.pid, signal.SIGKILL)
    p.proc.wait()
    wait_group_gone(p.proc.pid)
    assert not os.path.exists(f"/proc/{w}") or "State:\tZ" in open(f"/proc/{w}/status").read()
    # and the queue is free for a new daemon at once
    p.start()
    p.send("a@example.com", "b@example.com", b"Subject: x\r\n\r\nafter restart\r\n")
    assert len(p.wait_for_maildir("b@example.com", 1)) == 1


def test_sighup_to_the_worker_asks_the_parent(make_postern):
    """`pkill -HUP postern` reaches the worker too: it cannot read the files
    itself, so it asks the parent, and the reload happens."""
    p = make_postern(message_size_limit=100000)
    p.settings["message_size_limit"] = "200000"
    p.write_config()
    os.kill(worker_pid(p), signal.SIGHUP)
    p.wait_log(r"reload: configuration")
    with p.smtp() as c:
        code, text = c.ehlo("client.example")
        assert b"SIZE 200000" in text

def _cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_backs_off_and_recovers(make_postern):
    """accept() failing with EMFILE leaves the connection in the listen
    queue: the daemon must not spin on it nor log a line per try. It pauses
    the listeners, logs one warning, stays responsive, and accepts again
    once descriptors are free. (The daemon runs as mail_owner: without
    CAP_SYS_RESOURCE a test cannot prlimit it afterwards, so the limit is
    set before exec.)"""
    import resource
    # the daemon raises its soft limit to the hard one at start: lower both
    limit = 64
    p = make_postern(start=False)
    p.start(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)))
    pid = worker_pid(p)                   # the process that accepts
    warning = r"warning: accept: Too many open files"
    sessions, waiting = [], None
    try:
        for _ in range(limit):
            c = p.raw()
            deadline = time.monotonic() + 10
            while not c.readable(0.05) and not re.search(warning, p.log()):
                assert time.monotonic() < deadline, "neither a greeting nor the warning"
            if c.readable(0):
                assert c.read_reply().code == 220
                sessions.append(c)
                continue
            waiting = c                       # in the listen queue, not accepted
            break
        assert waiting is not None and sessions, p.log()[-3000:]
        # while no descriptor is free the waiting connection gets nothing; in
        # that time the old code logged thousands of lines and burnt a CPU
        # (a measuring window, not a settling delay: the warning above is
        # the event that proves the back-off began)
        cpu0, t0 = _cpu_seconds(pid), time.monotonic()
        assert not waiting.readable(1.0)
        cpu = _cpu_seconds(pid) - cpu0
        assert len(re.findall(warning, p.log())) == 1, p.log()[-3000:]
        assert cpu < 0.5 * (time.monotonic() - t0), f"{cpu:.2f}s of CPU in the back-off"
        # and the sessions it has are served
        sessions[0].expect("NOOP", 250)
        # descriptors come back: the waiting connection is accepted
        for c in sessions:
            c.expect("QUIT", 221)
            c.close()
        assert waiting.read_reply(timeout=10).code == 220
        waiting.expect("QUIT", 221)
        waiting.close()
        with p.raw() as c:
            assert c.read_reply().code == 220
    finally:
        for c in sessions + [waiting]:
            if c is not None:
                c.close()
    assert len(re.findall(warning, p.log())) == 1, p.log()[-3000:]
