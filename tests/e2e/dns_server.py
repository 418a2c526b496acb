"""A local DNS server (dnsmasq) for the end-to-end tests.

Plain helper module (not a conftest): start dnsmasq on a free loopback port
with the MX and address records a test needs, point postern at it with
``dns_servers = 127.0.0.1:PORT``, stop it at teardown.  No test ever asks
the real DNS.

    from dns_server import DnsServer, dns_server   # dns_server: a fixture

    def test_x(make_postern, dns_server):
        dns = dns_server(mx={"a.test": [(10, "mx1.a.test"), (20, "mx2.a.test")]},
                         hosts={"mx1.a.test": "127.0.0.2", "mx2.a.test": ["127.0.0.3", "::3"]})
        p = make_postern(default_transport="smtp", dns_servers=dns.server)

Records:
- ``mx``: {domain: [(preference, host), ...]}; a null MX (RFC 7505) is
  ``[(0, ".")]``.
- ``hosts``: {name: address or [addresses]} (A and AAAA records, and the
  PTR records of the addresses, as dnsmasq's --host-record makes them).
- ``ptr``: {address: name}, a PTR record alone (no A record of the name).
- ``txt``: {name: text}; text is given to dnsmasq as it is (one record);
  or a list of records at that name, each a text as it is or a tuple of
  character-strings (one record of several <=255-byte strings, as a long
  DKIM key needs; without commas, which separate them for dnsmasq).
- ``addresses``: {name: IPv4 address}: an A record without a PTR record
  (DNS list entries: ``{"2.0.0.127.rbl.test": "127.0.0.2"}``).
- ``zones``: more domains to answer for (NXDOMAIN for unknown names), e.g.
  ``["0.0.127.in-addr.arpa"]`` so that an address without a PTR record is
  "not found" rather than refused.

dnsmasq answers authoritatively for the top-level domains of the names
given (``--local=/test/``): a name it has no record for is NXDOMAIN, a known
name without the asked type is NODATA, and anything outside those domains
is REFUSED (a temporary failure for postern).

dnsmasq runs with ``--keep-in-foreground``, not ``--no-daemon``: in debug
mode it serves a TCP connection inline and answers no UDP meanwhile, and
c-ares keeps its TCP connection open after a truncated answer.

A missing dnsmasq fails the test (``apt-get install dnsmasq-base``; ``make
test-deps`` installs it), it is never skipped.
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

START_TIMEOUT = 10.0


def _find_dnsmasq():
    path = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
    if not path:
        pytest.fail("dnsmasq not found: install dnsmasq-base (make test-deps)", pytrace=False)
    return path


def _free_udp_tcp_port():
    """A loopback port free for both UDP and TCP a moment ago."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for dnsmasq")


def dns_query(port, name, qtype, timeout=1.0, host="127.0.0.1"):
    """One raw UDP query; returns (rcode, answer_count) or None on timeout."""
    tid = random.randrange(65536)
    pkt = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        pkt += bytes([len(label)]) + label.encode("ascii")
    pkt += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(pkt, (host, port))
            while True:
                data = s.recv(4096)
                if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == tid:
                    flags, _qd, an = struct.unpack(">HHH", data[2:8])
                    return flags & 0xF, an
        except (socket.timeout, ConnectionRefusedError):
            return None


T_A, T_MX, T_AAAA = 1, 15, 28


class DnsServer:
    """dnsmasq serving the given records on 127.0.0.1:port."""

    def __init__(self, mx=None, hosts=None, extra_args=(), ptr=None, txt=None,
                 addresses=None, zones=()):
        self.mx = dict(mx or {})
        self.ptr = dict(ptr or {})
        self.txt = dict(txt or {})
        self.addresses = dict(addresses or {})
        self.zones = list(zones)
        self.hosts = {k: ([v] if isinstance(v, str) else list(v))
                      for k, v in (hosts or {}).items()}
        self.extra_args = list(extra_args)
        self.port = None
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="postern-dnsmasq-")
        self.log_path = os.path.join(self.dir, "dnsmasq.log")

    # -- configuration ---------------------------------------------------------

    def args(self):
        a = []
        tlds = set()
        for domain, records in self.mx.items():
            tlds.add(domain.rstrip(".").rsplit(".", 1)[-1])
            for pref, host in records:
                a.append(f"--mx-host={domain},{host},{int(pref)}")
        for name, addrs in self.hosts.items():
            tlds.add(name.rstrip(".").rsplit(".", 1)[-1])
            a.append(f"--host-record={name}," + ",".join(addrs))
        for addr, name in self.ptr.items():
            rev = ".".join(reversed(addr.split("."))) + ".in-addr.arpa"
            a.append(f"--ptr-record={rev},{name}")
        for name, text in self.txt.items():
            tlds.add(name.rstrip(".").rsplit(".", 1)[-1])
            for rec in (text if isinstance(text, list) else [text]):
                if isinstance(rec, tuple):
                    # on dnsmasq's command line quotes are literal: a comma
                    # separates the strings, and cannot be in one
                    assert not any("," in p for p in rec), rec
                    rec = ",".join(rec)
                a.append(f"--txt-record={name},{rec}")
        for name, addr in self.addresses.items():
            tlds.add(name.rstrip(".").rsplit(".", 1)[-1])
            a.append(f"--address=/{name}/{addr}")
        for tld in sorted(tlds) + self.zones:
            a.append(f"--local=/{tld}/")
        return a + self.extra_args

    @property
    def server(self):
        """The value for postern's dns_servers."""
        return f"127.0.0.1:{self.port}"

    # -- process -----------------------------------------------------------------

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        """Start dnsmasq and wait until it answers; returns the port."""
        binary = _find_dnsmasq()
        last = ""
        for _ in range(5):      # the free port may be taken in between: retry
            self.port = _free_udp_tcp_port()
            argv = [binary, "--keep-in-foreground", f"--port={self.port}",
                    "--listen-address=127.0.0.1", "--bind-interfaces",
                    "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                    "--log-facility=-", "--log-queries"] + self.args()
            if os.geteuid() == 0:
                argv.insert(1, "--user=root")   # no switch to "nobody"; works in containers
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=log)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if dns_query(self.port, "probe.invalid", T_A, timeout=0.2) is not None:
                    return self.port
            if self.proc.poll() is None:
                self.stop()
                pytest.fail(f"dnsmasq did not answer on port {self.port} within "
                            f"{START_TIMEOUT}s; log:\n{self.log()}", pytrace=False)
            last = self.log()
        pytest.fail(f"dnsmasq did not start; argv: {argv}\nlog:\n{last}", pytrace=False)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        """dnsmasq's log (with every query), for failure messages."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def dns_server():
    """Factory: dns_server(mx=..., hosts=...) -> a started DnsServer; all are
    stopped at teardown.  Import it into a test module to use it."""
    servers = []

    def factory(mx=None, hosts=None, extra_args=(), **records):
        s = DnsServer(mx=mx, hosts=hosts, extra_args=extra_args, **records)
        servers.append(s)
        s.start()
        return s

    yield factory
    for s in servers:
        s.close()
