"""Shared fixtures and helpers for the postern end-to-end tests.

Every test starts its own daemon (``$POSTERN_BIN serve -c FILE``) on a free
loopback port, with its queue and capture (Maildir) directories inside the
test's tmp_path -- except the protocol tests that change nothing, which share
one daemon per module (``shared_postern``).  When the daemon is stopped it
must exit 0 on SIGTERM, and its stderr must not contain any sanitizer report
(the suite is meant to run against the ASan+UBSan build, build/asan/postern).

Nothing here sleeps for a fixed time to let the daemon "settle": every wait
is for a positive event (a log line, a file, a port, a queue state), with a
timeout that only bounds a failure.

Only loopback addresses are ever used (127.0.0.0/8 and ::1).
"""

import email.utils
import hashlib
import os
import pathlib
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
POSTERN_BIN = os.environ.get("POSTERN_BIN") or str(REPO / "build" / "asan" / "postern")

HOSTNAME = "mx.postern.test"      # myhostname of every test daemon
LOCAL_DOMAIN = "postern.test"     # in mydestination
OTHER_LOCAL_DOMAIN = "example.com"  # also in mydestination
CLIENT_HELO = "client.postern.test"

QID_RE = re.compile(r"^[0-9A-F]{16}$")
QUEUED_RE = re.compile(r"^2\.0\.0 Ok: queued as ([0-9A-F]{16})$")

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "runtime error:",
    "LeakSanitizer",
    "ERROR: UndefinedBehaviorSanitizer",
    "ThreadSanitizer",
)

START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0


# --------------------------------------------------------------------------
# ports


_PORTS_GIVEN = set()


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago on the loopback address host, and
    never handed out before in this run: the kernel may give a port just
    closed again, and two listeners of one daemon would then collide."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# waiting


def wait_until(cond, what, timeout=10.0, interval=0.02):
    """Poll cond() until it is true; fail with `what` after timeout.
    Returns cond()'s value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout}s: {what}", pytrace=False)
        time.sleep(interval)


# --------------------------------------------------------------------------
# the daemon


def group_members(pgid):
    """Pids of the live (not zombie) processes in process group pgid."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(d))
    return pids


def wait_group_gone(pgid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() > deadline:
            pytest.fail(f"processes of group {pgid} still alive {timeout}s after SIGKILL",
                        pytrace=False)
        time.sleep(0.02)


def sanitizer_report(text):
    """The first sanitizer report found in text (with context), or None."""
    for pat in SANITIZER_PATTERNS:
        i = text.find(pat)
        if i >= 0:
            start = max(0, text.rfind("\n", 0, max(0, i - 2000)))
            return text[start:i + 4000]
    return None


def binary_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.setdefault("LSAN_OPTIONS", "")
    return env


def require_binary():
    if not (os.path.isfile(POSTERN_BIN) and os.access(POSTERN_BIN, os.X_OK)):
        pytest.fail(
            f"postern binary not found or not executable: {POSTERN_BIN} "
            "(set POSTERN_BIN, or run `make e2e`)", pytrace=False)


def run_check(config_path, timeout=20):
    """Run `postern check -c FILE`; returns the CompletedProcess (text)."""
    require_binary()
    proc = subprocess.run(
        [POSTERN_BIN, "check", "-c", str(config_path)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
        env=binary_env())
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    rep = sanitizer_report(err) or sanitizer_report(out)
    assert rep is None, f"sanitizer report from `postern check`:\n{rep}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


DEFAULT_SETTINGS = {
    "myhostname": HOSTNAME,
    "mynetworks": "127.0.0.0/8 [::1]/128",
    "mydestination": f"{LOCAL_DOMAIN}, {OTHER_LOCAL_DOMAIN}",
    "default_transport": "capture",
    "smtpd_timeout": "10s",
    "smtpd_error_sleep_time": "0s",
    "smtpd_soft_error_limit": "10",
    "smtpd_hard_error_limit": "20",
    "queue_run_delay": "1s",
    "minimal_backoff_time": "1s",
    # never ask the machine's resolver (it is not on loopback): a lookup that
    # a test did not arrange fails at once instead of leaving this host
    "dns_servers": "127.0.0.1:1",
    # Postfix's default is yes (postern's too): here the client stays
    # "unknown" in the logs the tests read; test_dns_checks.py turns it on
    "smtpd_peername_lookup": "no",
}


class Postern:
    """One daemon instance with its own config, queue and capture dirs.

    Settings given as keyword arguments override DEFAULT_SETTINGS; a value of
    None leaves the parameter out of the file.  ``listen``,
    ``queue_directory`` and ``capture_directory`` are filled in unless given.
    The same instance can be started again after stop()/kill() (restart on
    the same directories)."""

    def __init__(self, base, **settings):
        self.base = pathlib.Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.port = free_port()
        self.host = "127.0.0.1"
        self.hostname = settings.get("myhostname", HOSTNAME)
        self.queue_dir = self.base / "queue"
        self.mail_dir = self.base / "mail"
        self.config_path = self.base / "postern.cf"
        merged = dict(DEFAULT_SETTINGS)
        merged["listen"] = f"smtp://127.0.0.1:{self.port}"
        merged["queue_directory"] = str(self.queue_dir)
        merged["capture_directory"] = str(self.mail_dir)
        merged.update(settings)
        self.settings = {k: v for k, v in merged.items() if v is not None}
        self.proc = None
        self.starts = 0
        self.stderr_paths = []
        self.verbose = bool(os.environ.get("POSTERN_VERBOSE"))

    # -- config --------------------------------------------------------------

    def config_text(self):
        return "".join(f"{k} = {v}\n" for k, v in self.settings.items())

    def write_config(self):
        self.config_path.write_text(self.config_text(), encoding="utf-8")

    # -- process -------------------------------------------------------------

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait=True, verbose=None, preexec_fn=None, wrap=()):
        """preexec_fn: run in the child before exec (e.g. lower a limit);
        wrap: a command line that runs the daemon's (it must exec it, so
        the process started is the daemon's parent: setpriv, unshare)."""
        require_binary()
        assert not self.running, "already running"
        self.write_config()
        self.starts += 1
        errp = self.base / f"stderr.{self.starts}.log"
        outp = self.base / f"stdout.{self.starts}.log"
        self.stderr_paths.append(errp)
        argv = list(wrap) + [POSTERN_BIN, "serve", "-c", str(self.config_path)]
        if self.verbose if verbose is None else verbose:
            argv.append("-v")
        with open(errp, "wb") as ef, open(outp, "wb") as of:
            # its own process group: kill() takes the privileged parent and
            # the worker together, as a crash or the OOM killer would
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=of, stderr=ef,
                                         env=binary_env(), start_new_session=True,
                                         preexec_fn=preexec_fn)
        if wait:
            self.wait_ready()
        return self

    def listen_endpoints(self, with_scheme=False):
        eps = []
        for url in re.split(r"[\s,]+", self.settings["listen"].strip()):
            # a query ("?smtpd_sasl_auth_enable=yes") is the listener's overrides
            m = re.fullmatch(r"(smtp|submissions?)://\[?([0-9A-Fa-f:.]+?)\]?:(\d+)/?(?:\?\S*)?",
                             url)
            assert m, f"test bug: cannot parse listen URL {url!r}"
            ep = (m.group(2), int(m.group(3)))
            eps.append((m.group(1),) + ep if with_scheme else ep)
        return eps

    def wait_ready(self, timeout=START_TIMEOUT):
        """Wait until every listen address accepts connections and greets
        (submissions://: after the TLS handshake, certificate unchecked)."""
        deadline = time.monotonic() + timeout
        for scheme, host, port in self.listen_endpoints(with_scheme=True):
            while True:
                if self.proc.poll() is not None:
                    pytest.fail(f"postern exited with {self.proc.returncode} during "
                                f"start-up; stderr:\n{self.log()[-4000:]}", pytrace=False)
                try:
                    with socket.create_connection((host, port), timeout=1) as raw:
                        s = raw
                        if scheme == "submissions":
                            ctx = ssl.create_default_context()
                            ctx.check_hostname = False
                            ctx.verify_mode = ssl.CERT_NONE
                            s = ctx.wrap_socket(raw)
                        s.settimeout(max(0.5, deadline - time.monotonic()))
                        greeting = s.recv(512)
                        if greeting.startswith(b"220"):
                            s.sendall(b"QUIT\r\n")
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"postern did not accept connections on "
                                f"{host}:{port} within {timeout}s; stderr:\n"
                                f"{self.log()[-4000:]}", pytrace=False)
                time.sleep(0.05)

    def stop(self, timeout=STOP_TIMEOUT, expect_rc=0):
        """SIGTERM, wait, assert the exit status and a clean stderr."""
        assert self.proc is not None, "not started"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_group()
                pytest.fail(f"postern did not exit within {timeout}s of SIGTERM; "
                            f"stderr:\n{self.log()[-4000:]}", pytrace=False)
        rc = self.proc.returncode
        self.check_sanitizers()
        if expect_rc is not None:
            assert rc == expect_rc, (
                f"postern exited with {rc} after SIGTERM (expected {expect_rc}); "
                f"stderr:\n{self.log()[-4000:]}")
        return rc

    def kill(self):
        """SIGKILL to the parent and the worker at once (crash simulation);
        returns once neither runs any more."""
        self.kill_group()
        self.check_sanitizers()

    def kill_group(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        wait_group_gone(self.proc.pid)

    def log(self):
        """All stderr captured so far, over every start."""
        parts = []
        for p in self.stderr_paths:
            try:
                parts.append(p.read_bytes().decode("utf-8", "replace"))
            except FileNotFoundError:
                pass
        return "".join(parts)

    def check_sanitizers(self):
        rep = sanitizer_report(self.log())
        if rep is not None:
            pytest.fail(f"sanitizer report in postern stderr:\n{rep}", pytrace=False)

    def wait_log(self, pattern, timeout=10.0, flags=0):
        """Poll stderr until the regex matches; returns the match."""
        rx = re.compile(pattern, flags)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log())
            if m:
                return m
            if time.monotonic() > deadline:
                pytest.fail(f"log line /{pattern}/ not seen within {timeout}s; "
                            f"stderr:\n{self.log()[-4000:]}", pytrace=False)
            time.sleep(0.02)

    def log_count(self, pattern, flags=re.M):
        """How many times the regex matches the log so far."""
        return len(re.findall(pattern, self.log(), flags))

    def wait_log_count(self, pattern, n, timeout=10.0, flags=re.M):
        """Poll stderr until the regex matches at least n times; returns the
        matches (re.Match objects) in log order."""
        rx = re.compile(pattern, flags)
        deadline = time.monotonic() + timeout
        while True:
            ms = list(rx.finditer(self.log()))
            if len(ms) >= n:
                return ms
            if time.monotonic() > deadline:
                pytest.fail(f"log line /{pattern}/ seen {len(ms)} time(s), expected {n} "
                            f"within {timeout}s; stderr:\n{self.log()[-4000:]}",
                            pytrace=False)
            time.sleep(0.02)

    def wait_sessions_over(self, timeout=10.0):
        """Wait until every SMTP session the daemon logged as begun ("connect
        from") has ended ("disconnect from"): whatever those clients were
        going to get queued is queued by then."""
        def over():
            log = self.log()
            begun = len(re.findall(r"(?<!dis)connect from \S+$", log, re.M))
            ended = len(re.findall(r"disconnect from \S+$", log, re.M))
            return begun == ended
        wait_until(over, f"every session ended; stderr:\n{self.log()[-3000:]}", timeout)

    def wait_removed(self, qids, timeout=10.0):
        """Wait until each message is done: "<qid>: removed" is logged once
        every recipient is final and the queue file is gone, so no further
        delivery of it can happen."""
        if isinstance(qids, str):
            qids = [qids]
        for q in qids:
            self.wait_log(rf"^.*\b{q}: removed$", timeout=timeout, flags=re.M)

    # -- clients -------------------------------------------------------------

    def smtp(self, source_address=None, timeout=10, host=None, port=None):
        """A connected smtplib.SMTP (greeting read)."""
        s = smtplib.SMTP(timeout=timeout, source_address=source_address)
        s.connect(host or self.host, port or self.port)
        return s

    def raw(self, source_address=None, timeout=5, host=None, port=None):
        return RawSMTP(host or self.host, port or self.port,
                       source_address=source_address, timeout=timeout)

    def send(self, sender, rcpts, msg, mail_options=(), conn=None):
        """Send one message with smtplib's low-level calls; assert 250s and
        return the QID from the DATA reply.  msg is bytes with CRLF line
        ends (smtplib dot-stuffs it and adds the final dot)."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        s = conn or self.smtp()
        try:
            if conn is None:
                code, resp = s.ehlo(CLIENT_HELO)
                assert code == 250, (code, resp)
            code, resp = s.mail(sender, list(mail_options))
            assert code == 250, f"MAIL FROM:<{sender}> -> {code} {resp!r}"
            for r in rcpts:
                code, resp = s.rcpt(r)
                assert code == 250, f"RCPT TO:<{r}> -> {code} {resp!r}"
            code, resp = s.data(msg)
            assert code == 250, f"DATA -> {code} {resp!r}"
            return parse_qid(resp)
        finally:
            if conn is None:
                try:
                    s.quit()
                except (smtplib.SMTPException, OSError):
                    pass

    # -- Maildirs ------------------------------------------------------------

    def maildir(self, addr):
        return maildir_path(self.mail_dir, addr)

    def wait_for_maildir(self, addr, n, timeout=10.0, final=True):
        """Wait for n files in addr's Maildir.  final: then wait until the
        message of each file is removed from the queue (so nothing more can
        be delivered from it) and assert there are still exactly n; pass
        final=False for a message that stays queued (other recipients
        deferred), and prove its end some other way."""
        done = (lambda qids: self.wait_removed(qids, timeout=timeout)) if final else None
        return wait_for_maildir(self.mail_dir, addr, n, timeout, done)

    def messages(self, addr):
        return read_messages(self.mail_dir, addr)

    def queue_files(self):
        q = self.queue_dir / "queue"
        try:
            return sorted(os.listdir(q))
        except FileNotFoundError:
            return []

    def wait_queue_empty(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while self.queue_files():
            if time.monotonic() > deadline:
                pytest.fail(f"queue not empty after {timeout}s: {self.queue_files()}; "
                            f"stderr:\n{self.log()[-3000:]}", pytrace=False)
            time.sleep(0.02)


def parse_qid(resp):
    """QID from the DATA reply text (smtplib gives it without the code)."""
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp
    m = QUEUED_RE.match(text.strip())
    assert m, f"DATA reply is not '250 2.0.0 Ok: queued as <16 hex>': {text!r}"
    return m.group(1)


def daemon_base_dir(request):
    """A fresh directory for the daemons of one test.

    Run as root, postern drops privileges to mail_owner after creating its
    directories, so every ancestor of queue_directory must be searchable by
    that user; pytest's own tmp_path lives under a 0700 directory.  So the
    daemon's files go under a 0755 directory of our own in the system temp
    directory, removed after the test (kept with POSTERN_E2E_KEEP=1)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:60]
    base = tempfile.mkdtemp(prefix=f"postern-e2e-{safe}-")
    os.chmod(base, 0o755)
    return pathlib.Path(base)


@pytest.fixture
def make_postern(request):
    """Factory: make_postern(start=True, **settings) -> Postern.

    At teardown, every daemon still running is stopped with SIGTERM (exit
    status 0 asserted), and every daemon's stderr is checked for sanitizer
    reports."""
    created = []
    base = daemon_base_dir(request)

    def factory(start=True, **settings):
        p = Postern(base / f"postern{len(created)}", **settings)
        created.append(p)
        if start:
            p.start()
        return p

    yield factory
    stop_and_clean(created, base)


@pytest.fixture
def postern(make_postern):
    """A running daemon with the default test settings."""
    return make_postern()


def stop_and_clean(daemons, base):
    """Teardown of daemons: stop each (exit 0 asserted), check every stderr
    for sanitizer reports, remove base; fail with every problem found."""
    failures = []
    for p in daemons:
        try:
            if p.running:
                p.stop()
            else:
                p.check_sanitizers()
        except BaseException as e:  # pytest.fail raises Failed (a BaseException)
            failures.append(str(e))
        finally:
            if p.proc is not None and p.proc.poll() is None:
                p.kill_group()
    if not os.environ.get("POSTERN_E2E_KEEP"):
        shutil.rmtree(base, ignore_errors=True)
    if failures:
        pytest.fail("daemon teardown failed:\n" + "\n".join(failures), pytrace=False)


@pytest.fixture(scope="module")
def _module_daemon(request):
    base = daemon_base_dir(request)
    p = Postern(base / "shared")
    p.start()
    yield p
    stop_and_clean([p], base)


@pytest.fixture
def shared_postern(_module_daemon):
    """One daemon with the default test settings, shared by the tests of a
    module that only talk protocol and change nothing: no mail accepted, no
    queue or configuration change (starting a daemon per test costs more
    than most such tests).  Each test still gets its own checks: the daemon
    must be running before and after it, nothing may be queued or delivered
    by it, and no sanitizer report may appear."""
    p = _module_daemon
    assert p.running, f"the shared daemon is gone; stderr:\n{p.log()[-3000:]}"
    yield p
    if not p.running:
        pytest.fail(f"the shared daemon exited with {p.proc.returncode} during this test; "
                    f"stderr:\n{p.log()[-4000:]}", pytrace=False)
    p.check_sanitizers()
    assert p.queue_files() == [] and list_tree(p.mail_dir) == [], \
        f"a test on the shared daemon left mail behind: {p.queue_files()} {list_tree(p.mail_dir)}"


# --------------------------------------------------------------------------
# Maildir helpers


MAILBOX_NAME_MAX = 255                       # NAME_MAX
MAILBOX_PREFIX_MAX = MAILBOX_NAME_MAX - 2 - 64


def mailbox_name(addr):
    """The capture mailbox directory name for addr (bytes), per the contract:
    domain lower-cased (ASCII letters), '/', '%', control bytes and a
    leading '.' written as %XX; UTF-8 bytes kept as they are.  A name over
    255 bytes becomes <prefix>%~<sha256 hex of the whole name>, the prefix
    at most 189 bytes and never cut inside a %XX or a UTF-8 character."""
    if isinstance(addr, bytes):
        addr = addr.decode("utf-8")
    if "@" in addr:
        local, domain = addr.rsplit("@", 1)
        domain = "".join(c.lower() if c.isascii() else c for c in domain)
        addr = local + "@" + domain
    pieces = []                                 # (encoded piece, starts a character)
    for i, b in enumerate(addr.encode("utf-8")):
        if b in b"/%" or b < 0x20 or b == 0x7F or (i == 0 and b == ord(".")):
            pieces.append((b"%%%02X" % b, True))
        else:
            pieces.append((bytes([b]), (b & 0xC0) != 0x80))
    full = b"".join(p for p, _ in pieces)
    if len(full) <= MAILBOX_NAME_MAX:
        return full
    prefix, keep = b"", 0
    for p, starts in pieces:
        if starts:
            keep = len(prefix)
        if len(prefix) + len(p) > MAILBOX_PREFIX_MAX:
            break
        prefix += p
    return prefix[:keep] + b"%~" + hashlib.sha256(full).hexdigest().encode()


def maildir_path(mail_dir, addr):
    return os.path.join(os.fsencode(str(mail_dir)), mailbox_name(addr))


def _list_new(path):
    try:
        return sorted(os.listdir(os.path.join(path, b"new")))
    except FileNotFoundError:
        return []


MAILDIR_QID_RE = re.compile(rb"^\d+\.([0-9A-F]{16})_\d+\.")


def wait_for_maildir(mail_dir, addr, n, timeout=10.0, done=None):
    """Poll mail_dir/<mailbox>/new until it holds n files.  Then, if done is
    given, call done(qids) with the queue ids of those files (from their
    names) -- it waits for an event after which none of those messages can
    be delivered again -- and assert the mailbox still holds exactly n.
    Returns the full paths."""
    path = maildir_path(mail_dir, addr)
    deadline = time.monotonic() + timeout
    while True:
        names = _list_new(path)
        if len(names) >= n:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"{path!r}/new holds {len(names)} file(s), expected {n} "
                        f"within {timeout}s; capture dir has: {list_tree(mail_dir)}",
                        pytrace=False)
        time.sleep(0.02)
    if done is not None:
        qids = []
        for name in names:
            m = MAILDIR_QID_RE.match(name)
            assert m, f"Maildir file name {name!r} carries no queue id"
            if m.group(1).decode() not in qids:
                qids.append(m.group(1).decode())
        done(qids)
        names = _list_new(path)
    assert len(names) == n, f"{path!r}/new holds {len(names)} files, expected exactly {n}: {names}"
    return [os.path.join(path, b"new", x) for x in names]


def read_messages(mail_dir, addr):
    """Bytes of every file in the mailbox's new/, sorted by file name."""
    path = maildir_path(mail_dir, addr)
    out = []
    for name in _list_new(path):
        with open(os.path.join(path, b"new", name), "rb") as f:
            out.append(f.read())
    return out


def list_tree(root):
    """Relative paths (bytes) of every file under root, for messages."""
    root = os.fsencode(str(root))
    res = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            res.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(res)


class Trace:
    """The trace lines postern prepends, split from the message proper."""

    def __init__(self, return_path, delivered_to, received, rest):
        self.return_path = return_path      # bytes between < >
        self.delivered_to = delivered_to    # bytes between < >
        self.received = received            # unfolded header value (bytes)
        self.rest = rest                    # the message as the client sent it


def split_trace(data):
    """Check and strip the leading Return-Path, Delivered-To and Received
    lines of a capture file; returns a Trace.  The file must use LF line
    ends only."""
    assert b"\r\n" not in data, f"capture file has CRLF line ends: {data[:300]!r}"
    lines = data.split(b"\n")
    m = re.fullmatch(rb"Return-Path: <(.*)>", lines[0])
    assert m, f"first line is not 'Return-Path: <...>': {lines[0]!r}"
    rp = m.group(1)
    # Postfix writes "Delivered-To: user@domain" (no angle brackets); the
    # brief's "Delivered-To: <rcpt>" may be notation or literal: take both.
    m = re.fullmatch(rb"Delivered-To: (?:<(.*)>|([^<>]*))", lines[1])
    assert m, f"second line is not 'Delivered-To: <rcpt>' or 'Delivered-To: rcpt': {lines[1]!r}"
    dt = m.group(1) if m.group(1) is not None else m.group(2)
    assert lines[2].startswith(b"Received: "), f"third line is not 'Received: ...': {lines[2]!r}"
    recv = [lines[2][len(b"Received: "):]]
    i = 3
    while i < len(lines) and lines[i][:1] in (b"\t", b" "):
        assert lines[i][:1] == b"\t", f"Received: continuation line does not start with a TAB: {lines[i]!r}"
        recv.append(lines[i].strip())
        i += 1
    received = b" ".join(x.strip() for x in recv)
    rest = b"\n".join(lines[i:])
    return Trace(rp, dt, received, rest)


def lf(msg):
    """CRLF -> LF, as the capture transport stores a message."""
    return msg.replace(b"\r\n", b"\n")


def crlf(msg):
    """LF -> CRLF (for building messages)."""
    return msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def maildir_name_re(qid, index):
    return re.compile(rb"^(\d+)\." + qid.encode() + rb"_" + str(index).encode() + rb"\.([^/]+)$")


def check_delivery(path, qid, index, sender, rcpt, hostname=HOSTNAME):
    """Check one capture file (full path): its name, its trace lines.
    Returns the Trace."""
    name = os.path.basename(path)
    m = maildir_name_re(qid, index).match(name)
    assert m, f"Maildir file name {name!r} is not <sec>.{qid}_{index}.<hostname>"
    assert abs(int(m.group(1)) - time.time()) < 600, f"arrival seconds in {name!r} are not now"
    mbox = os.path.dirname(os.path.dirname(path))
    tmp = os.listdir(os.path.join(mbox, b"tmp"))
    assert tmp == [], f"left-overs in {mbox!r}/tmp: {tmp}"
    assert os.path.isdir(os.path.join(mbox, b"cur")), f"{mbox!r} has no cur/ (not a Maildir)"
    with open(path, "rb") as f:
        data = f.read()
    t = split_trace(data)
    enc = lambda a: a.encode("utf-8") if isinstance(a, str) else a
    assert t.return_path == enc(sender), (t.return_path, sender)
    assert t.delivered_to == enc(rcpt), (t.delivered_to, rcpt)
    assert b"by " + hostname.encode() + b" (postern)" in t.received, t.received
    assert re.search(rb"\bid " + qid.encode() + rb"\b", t.received), t.received
    return t


def split_headers(msg):
    """(header lines list, body) of an LF message; header lines unfolded
    are not needed here: continuation lines stay separate entries."""
    i = msg.find(b"\n\n")
    assert i >= 0, f"no header/body separator in {msg[:300]!r}"
    return msg[:i + 1].split(b"\n")[:-1], msg[i + 2:]


def check_date_header(value):
    dt = email.utils.parsedate_to_datetime(value.decode("ascii").strip())
    assert dt is not None and dt.tzinfo is not None, value
    assert abs(dt.timestamp() - time.time()) < 600, f"Date: {value!r} is not now"


# --------------------------------------------------------------------------
# raw SMTP client


class Reply:
    def __init__(self, lines):
        self.lines = lines                       # full lines, without CRLF
        self.code = int(lines[-1][:3])
        self.last = lines[-1]                    # e.g. "250 2.0.0 Ok"
        self.text = lines[-1][4:]
        m = re.match(r"^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})(?: |$)", lines[-1])
        self.enh = m.group(1) if m else None

    def __repr__(self):
        return "Reply(%r)" % "\\r\\n".join(self.lines)


class ConnectionClosed(Exception):
    pass


class RawSMTP:
    """A byte-exact SMTP client on a plain socket."""

    def __init__(self, host, port, source_address=None, timeout=5):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=source_address)
        self.buf = b""
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
        self.buf += d
        return d

    def read_reply(self, timeout=None):
        """Read one (possibly multi-line) reply."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = self.buf[:i].rstrip(b"\r").decode("utf-8", "replace")
                self.buf = self.buf[i + 1:]
                assert re.match(r"^\d{3}[ -]", line), f"malformed reply line {line!r}"
                lines.append(line)
                if line[3] == " ":
                    return Reply(lines)
                continue
            if self.eof:
                raise ConnectionClosed(f"connection closed; partial reply {lines!r} {self.buf!r}")
            rem = deadline - time.monotonic()
            if rem <= 0:
                raise socket.timeout(f"no complete reply within {timeout}s; got {lines!r} {self.buf!r}")
            self._fill(rem)

    def cmd(self, line, timeout=None):
        """Send one command line (CRLF appended unless it already ends with
        LF) and read its reply."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        if not line.endswith(b"\n"):
            line += b"\r\n"
        self.send(line)
        return self.read_reply(timeout)

    def expect(self, line, code, enh=None, text=None):
        r = self.cmd(line)
        assert r.code == code, f"{line!r} -> {r!r}, expected {code}"
        if enh is not None:
            assert r.enh == enh, f"{line!r} -> {r!r}, expected enhanced code {enh}"
        if text is not None:
            assert r.last == text, f"{line!r} -> {r.last!r}, expected {text!r}"
        return r

    def wait_closed(self, timeout):
        """Read until EOF; returns True if the server closed in time."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            rem = deadline - time.monotonic()
            if rem <= 0:
                return False
            try:
                self._fill(rem)
            except socket.timeout:
                return False
        return True

    def readable(self, timeout=0.0):
        if self.buf or self.eof:
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def simple_message(subject="test", body=b"Hello.\r\n", extra=b"", msgid=True, date=True,
                   sender="sender@postern.test", rcpt="rcpt@postern.test"):
    """A small CRLF message (bytes); with Message-ID and Date unless told."""
    h = b"From: <" + sender.encode() + b">\r\nTo: <" + rcpt.encode() + b">\r\n"
    h += b"Subject: " + (subject.encode("utf-8") if isinstance(subject, str) else subject) + b"\r\n"
    if msgid:
        h += b"Message-ID: <" + (msgid if isinstance(msgid, bytes) else
                                  b"%d.%d@client.postern.test" % (time.time_ns(), os.getpid())) + b">\r\n"
    if date:
        h += b"Date: " + email.utils.formatdate(localtime=False).encode() + b"\r\n"
    return h + extra + b"\r\n" + body
