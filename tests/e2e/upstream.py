"""A real upstream mail service for the relay tests: aiosmtpd with AUTH and
TLS, and a test CA made at test time with the openssl CLI.

Plain helper module (not a conftest)::

    from upstream import Upstream, test_ca, upstream   # fixtures

    def test_x(make_postern, upstream, test_ca):
        up = upstream(mode="implicit")                 # or "starttls", "plain"
        p = make_postern(default_transport="smtp",
                         relayhost=f"[127.0.0.1]:{up.port}", ...)

Modes:
- ``starttls``: STARTTLS offered and required (``require_starttls``), AUTH
  only after TLS (``auth_require_tls``), AUTH required before MAIL;
- ``implicit``: TLS from the first byte (port 465 style), AUTH required;
- ``plain``: no TLS at all; AUTH offered in cleartext and required.
``auth=False`` turns AUTH off (any client may send); ``users``
({login: password}) accepts several accounts instead of user/password; ``auth_exclude``
hides mechanisms (["PLAIN"]: LOGIN only); ``ehlo=False`` answers EHLO with
502 (HELO clients only); ``idle_timeout`` (seconds) closes idle
connections with a 421; ``require_tls=False``
lets a STARTTLS server take mail in plaintext; ``tls_max`` caps the
server's TLS version (a ``ssl.TLSVersion``: TLSv1_1 makes every handshake
with postern, which wants TLS 1.2 or later, fail).  ``pipelining=True``
adds PIPELINING to the EHLO reply (aiosmtpd reads commands in order, so it
serves pipelined clients as they are).  ``eightbitmime=False`` leaves
8BITMIME (which aiosmtpd always offers) out of the EHLO reply.

What it saw: ``messages`` (dicts: mail_from ("<>" for the null sender), mail_options, rcpt_tos,
content bytes as received, dot-unstuffed, CRLF; login: the AUTH user or
None; tls: True/False; at: time.monotonic() when the final dot came),
``auths`` (mechanism, login, accepted).  Behaviour a
test can change while it runs: ``rcpt_replies`` {address: "451 4.3.0 ..."}
answers RCPT for that address; ``rcpt_delay`` (seconds) before every RCPT
reply; ``drop_data`` (count): close the connection instead of answering the
final dot, that many times.  ``connections`` counts the connections taken,
``max_active`` the most open at once.

The implicit-TLS and plain upstreams require AUTH without aiosmtpd's
STARTTLS requirement on purpose; aiosmtpd warns about it (test modules
filter it with ``UPSTREAM_WARNINGS``, as does the TLS 1.1 cap).

The CA, the server certificate (CN localhost, SAN DNS:localhost and
IP:127.0.0.1) and a second, unrelated CA (``other_ca``) are made once per
test session in a 0755 directory (the daemon runs as ``postern`` and must
read them).
"""

import asyncio
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import free_port

UPSTREAM_WARNINGS = ("ignore:Requiring AUTH while not requiring TLS",
                     "ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")

USER = "relay@upstream.test"
PASSWORD = "Up-Str3am:s3cret!pw"


# --------------------------------------------------------------------------
# test CA


class TestCA:
    """A CA, a server certificate signed by it, and an unrelated CA."""

    __test__ = False    # not a pytest test class

    def __init__(self, base):
        self.dir = base
        self.ca = os.path.join(base, "ca.pem")
        self.other_ca = os.path.join(base, "other-ca.pem")
        self.cert = os.path.join(base, "server.pem")
        self.key = os.path.join(base, "server.key")
        self._make()

    def _openssl(self, *args):
        subprocess.run(["openssl", *args], cwd=self.dir, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)

    def _make_ca(self, name, cn):
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "3",
                      "-subj", f"/CN={cn}",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _make(self):
        self._make_ca("ca", "postern test CA")
        self._make_ca("other-ca", "unrelated test CA")
        ext = os.path.join(self.dir, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", "server.key", "-out", "server.csr",
                      "-subj", "/CN=localhost")
        self._openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                      "-CAcreateserial", "-out", "server.pem", "-days", "3", "-extfile", ext)
        for n in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, n), 0o600 if n.endswith(".key") else 0o644)

    def server_context(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


@pytest.fixture(scope="session")
def test_ca():
    base = tempfile.mkdtemp(prefix="postern-e2e-ca-")
    os.chmod(base, 0o755)
    try:
        yield TestCA(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------
# the upstream server


class Upstream:
    """An aiosmtpd server on 127.0.0.1 that records what it receives."""

    def __init__(self, ca, mode="starttls", auth=True, user=USER, password=PASSWORD,
                 pipelining=False, port=None, data_size_limit=2 ** 25, smtputf8=True,
                 require_tls=True, tls_max=None, auth_exclude=(), ehlo=True,
                 idle_timeout=300, eightbitmime=True, users=None):
        assert mode in ("starttls", "implicit", "plain"), mode
        self.ca = ca
        self.mode = mode
        self.auth = auth
        self.user = user
        self.password = password
        self.users = dict(users or {})
        self.pipelining = pipelining
        self.data_size_limit = data_size_limit
        self.smtputf8 = smtputf8
        self.require_tls = require_tls
        self.tls_max = tls_max
        self.auth_exclude = list(auth_exclude)
        self.ehlo = ehlo
        self.idle_timeout = idle_timeout
        self.eightbitmime = eightbitmime
        self.rcpt_delay = 0.0
        self.connections = 0        # connections accepted (TLS done, if implicit)
        self.active = set()
        self.max_active = 0
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.messages = []
        self.auths = []
        self.rcpt_replies = {}
        self.drop_data = 0
        self.dropped = 0
        self.lock = threading.Lock()
        self.controller = None
        self._count = 0

    # -- aiosmtpd hooks ------------------------------------------------------

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        login = auth_data.login.decode("utf-8", "replace")
        accounts = self.users or {self.user: self.password}
        ok = accounts.get(login) == auth_data.password.decode("utf-8", "replace")
        with self.lock:
            self.auths.append((mechanism, login, ok))
        if ok:
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)    # aiosmtpd answers 535

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if not self.ehlo:
            return ["502 5.5.2 Error: command not recognized"]
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        if not self.eightbitmime:
            responses = [r for r in responses if r[4:].upper() != "8BITMIME"]
            responses[-1] = "250 " + responses[-1][4:]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        with self.lock:
            reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.drop_data > 0:
                self.drop_data -= 1
                self.dropped += 1
                server.transport.abort()
                return "421 4.4.2 dropped by the test"
            self._count += 1
            n = self._count
            self.messages.append({
                "mail_from": envelope.mail_from,
                "mail_options": list(envelope.mail_options),
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.original_content or envelope.content,
                "login": session.auth_data if session.authenticated else None,
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "at": time.monotonic(),
            })
        return f"250 2.0.0 Ok: queued as UP{n:04d}"

    # -- control -------------------------------------------------------------

    def _connected(self, proto):
        with self.lock:
            self.connections += 1
            self.active.add(id(proto))
            self.max_active = max(self.max_active, len(self.active))

    def _lost(self, proto):
        with self.lock:
            self.active.discard(id(proto))

    def _server_context(self):
        ctx = self.ca.server_context()
        if self.tls_max is not None:
            ctx.maximum_version = self.tls_max
        return ctx

    def start(self):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        up = self

        class CountingSMTP(SMTP):
            def connection_made(self, transport):
                up._connected(self)
                super().connection_made(transport)

            def connection_lost(self, exc):
                up._lost(self)
                super().connection_lost(exc)

        class CountingController(Controller):
            def factory(self):
                return CountingSMTP(self.handler, **self.SMTP_kwargs)

        kw = dict(hostname=self.host, port=self.port, server_hostname="upstream.test",
                  data_size_limit=self.data_size_limit, enable_SMTPUTF8=self.smtputf8,
                  timeout=self.idle_timeout)
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls, so the
        # implicit-TLS server (TLS from the first byte) must not ask for it
        kw.update(auth_require_tls=self.mode == "starttls")
        if self.auth:
            kw.update(authenticator=self._authenticator, auth_required=True,
                      auth_exclude_mechanism=self.auth_exclude)
        if self.mode == "starttls":
            kw.update(tls_context=self._server_context(), require_starttls=self.require_tls)
        elif self.mode == "implicit":
            kw.update(ssl_context=self._server_context())
        deadline = time.monotonic() + 10
        while True:
            self.controller = CountingController(self, **kw)
            try:
                self.controller.start()
                with self.lock:     # forget the controller's own start-up probe
                    self.connections = 0
                    self.active.clear()
                    self.max_active = 0
                break
            except Exception:
                # the port may still be in TIME_WAIT use after a stop
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def running(self):
        return self.controller is not None

    def wait_messages(self, n, timeout=20.0, where=None, done=None):
        """Wait until n messages (those where(m) is true, if given) arrived.
        Then, if given, call done() -- it waits for an event after which no
        more of them can come, typically the sending daemon logging their
        removal from its queue -- and assert there are exactly n; returns
        them."""
        def select():
            with self.lock:
                return [m for m in self.messages if where is None or where(m)]
        deadline = time.monotonic() + timeout
        while True:
            got = len(select())
            if got >= n:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"upstream got {got} message(s), expected {n} within {timeout}s",
                            pytrace=False)
            time.sleep(0.02)
        if done is not None:
            done()
        msgs = select()
        assert len(msgs) == n, f"upstream got {len(msgs)} messages, expected exactly {n}"
        return msgs


@pytest.fixture
def upstream(test_ca):
    """Factory: upstream(mode=..., start=True, **kw) -> Upstream; all are
    stopped at teardown."""
    made = []

    def factory(start=True, **kw):
        up = Upstream(test_ca, **kw)
        made.append(up)
        if start:
            up.start()
        return up

    yield factory
    for up in made:
        try:
            up.stop()
        except Exception:
            pass


def password_map(path, entries, owner=None, mode=0o600):
    """Write a sasl_passwd table ({key: "user:password"}) for the daemon
    with the given mode, owned by root as an administrator leaves it (the
    daemon's privileged parent reads it, at start and on SIGHUP) unless
    owner names another user."""
    with open(path, "w", encoding="utf-8") as f:
        for k, v in entries.items():
            f.write(f"{k} {v}\n")
    os.chmod(path, mode)
    if os.geteuid() == 0 and owner:
        shutil.chown(path, owner, owner)
    return path


# --------------------------------------------------------------------------
# a scripted server, for conversations aiosmtpd will not have


class ScriptedServer:
    """A plain TCP server on 127.0.0.1 that runs script(conn, n) in a thread
    for the n-th connection (n = 0, 1, ...).  conn has send(text) (CRLF
    appended unless present), readline() (str without CRLF, None at EOF)
    and close().  ``received`` collects every line read, per connection."""

    class Conn:
        def __init__(self, sock):
            self.sock = sock
            self.buf = b""
            self.lines = []

        def send(self, text):
            data = text.encode() if isinstance(text, str) else text
            if not data.endswith(b"\n"):
                data += b"\r\n"
            self.sock.sendall(data)

        def readline(self):
            while b"\n" not in self.buf:
                try:
                    d = self.sock.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    return None
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            text = line.rstrip(b"\r").decode("utf-8", "replace")
            self.lines.append(text)
            return text

        def close(self):
            try:
                self.sock.close()
            except OSError:
                pass

    def __init__(self, script):
        import socket
        self.script = script
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        n = 0
        while not self.stopped:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            conn = self.Conn(s)
            self.received.append(conn.lines)
            threading.Thread(target=self._run, args=(conn, n), daemon=True).start()
            n += 1

    def _run(self, conn, n):
        try:
            self.script(conn, n)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopped = True
        try:
            self.sock.close()
        except OSError:
            pass


def serve_transaction(conn, first=None):
    """Answer a plain SMTP client until QUIT or EOF: EHLO (PIPELINING),
    MAIL, RCPT, DATA (read to the dot), RSET, NOOP.  first: the first line
    already read.  Returns the message bodies received."""
    bodies = []
    line = first if first is not None else conn.readline()
    while line is not None:
        verb = line[:4].upper()
        if verb == "EHLO":
            conn.send("250-scripted.test\r\n250 PIPELINING")
        elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
            conn.send("250 2.0.0 Ok")
        elif verb == "DATA":
            conn.send("354 go ahead")
            body = []
            while True:
                d = conn.readline()
                if d is None or d == ".":
                    break
                body.append(d)
            bodies.append(body)
            conn.send(f"250 2.0.0 Ok: queued as S{len(bodies)}")
        elif verb == "QUIT":
            conn.send("221 2.0.0 Bye")
            break
        else:
            conn.send("502 5.5.2 what?")
        line = conn.readline()
    return bodies
