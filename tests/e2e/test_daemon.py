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
