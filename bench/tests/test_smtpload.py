"""bench/smtpload.c against a tiny SMTP server in this process: counts, modes, errors. No timing
is asserted (only that every latency was recorded)."""
import asyncio
import os
import subprocess
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "smtpload.c")


@pytest.fixture(scope="module")
def smtpload(tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("bin") / "smtpload")
    subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe, SRC], check=True)
    return exe


class FakeServer:
    """Greets, answers EHLO (multi-line), MAIL, RCPT, DATA, end-of-data, QUIT. reject_after: the
    RCPT of every message after that many gets 452."""

    def __init__(self, reject_after=None, greet=True):
        self.reject_after = reject_after
        self.greet = greet
        self.messages = 0
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._session, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _session(self, r, w):
        self.connections += 1
        if not self.greet:
            await r.read()                       # never greets; waits for the client to go
            w.close()
            return
        w.write(b"220 fake ESMTP\r\n")
        while True:
            line = await r.readline()
            if not line:
                break
            cmd = line[:4].upper()
            if cmd == b"EHLO":
                w.write(b"250-fake\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif cmd == b"MAIL":
                w.write(b"250 2.1.0 Ok\r\n")
            elif cmd == b"RCPT":
                if self.reject_after is not None and self.messages >= self.reject_after:
                    w.write(b"452 4.5.3 Too many messages\r\n")
                else:
                    w.write(b"250 2.1.5 Ok\r\n")
            elif cmd == b"DATA":
                w.write(b"354 go\r\n")
                while (await r.readline()) not in (b".\r\n", b""):
                    pass
                self.messages += 1
                w.write(b"250 2.0.0 queued\r\n")
            elif cmd == b"QUIT":
                w.write(b"221 bye\r\n")
                await w.drain()
                break
            await w.drain()
        w.close()

    def stop(self):
        async def shutdown():
            self.server.close()
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()
            self.loop.stop()
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        self.thread.join(10)


def run(exe, *args, timeout=60):
    p = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    fields = dict(kv.split("=", 1) for kv in p.stdout.split() if "=" in kv)
    return p.returncode, fields, p


def test_reuse_sends_every_message_and_records_each_latency(smtpload, tmp_path):
    srv = FakeServer()
    try:
        lat = tmp_path / "lat"
        rc, f, p = run(smtpload, "-p", srv.port, "-s", 5, "-m", 103, "-l", 3000, "-L", lat, "-t", 30)
        assert rc == 0, p.stderr
        assert f["sent"] == "103" and f["failed"] == "0"
        assert srv.messages == 103
        assert srv.connections == 5                     # connections reused
        values = [int(x) for x in lat.read_text().split()]
        assert len(values) == 103 and all(v >= 0 for v in values)
    finally:
        srv.stop()


def test_connection_per_message(smtpload, tmp_path):
    srv = FakeServer()
    try:
        rc, f, p = run(smtpload, "-p", srv.port, "-s", 4, "-m", 30, "-c", "-t", 30)
        assert rc == 0, p.stderr
        assert f["sent"] == "30" and srv.messages == 30
        assert srv.connections == 30
    finally:
        srv.stop()


def test_rejection_is_a_failure_with_the_reply(smtpload):
    srv = FakeServer(reject_after=10)
    try:
        rc, f, p = run(smtpload, "-p", srv.port, "-s", 1, "-m", 20, "-t", 30)
        assert rc == 1
        assert f["sent"] == "10" and f["failed"] == "10"
        assert "452 4.5.3" in p.stdout
    finally:
        srv.stop()


def test_refused_connection_is_reported(smtpload):
    srv = FakeServer()
    port = srv.port
    srv.stop()
    rc, f, p = run(smtpload, "-p", port, "-s", 2, "-m", 5, "-t", 10)
    assert rc == 1 and f["sent"] == "0"
    assert "connect" in p.stdout


def test_idle_mode_holds_greeted_connections(smtpload):
    srv = FakeServer()
    try:
        proc = subprocess.Popen([smtpload, "-p", str(srv.port), "-i", "25", "-t", "30", "-H", "30"],
                                stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()          # printed once every connection is greeted
        assert "open=25 greeted=25" in line
        assert srv.connections == 25
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        srv.stop()


def test_idle_mode_counts_ungreeted(smtpload):
    srv = FakeServer(greet=False)
    try:
        rc, f, p = run(smtpload, "-p", srv.port, "-i", 3, "-t", 1, "-H", 1)
        assert rc == 1
        assert f["open"] == "3" and f["greeted"] == "0"
    finally:
        srv.stop()
