"""Delivery to MX hosts: default_transport = smtp, no relayhost, DNS from a
local dnsmasq (dns_server.py), two aiosmtpd sinks standing in for the MX
hosts.

MX delivery connects to port 25 and postern has no parameter to change that
(Postfix has none either), so the sinks listen on port 25 of 127.0.0.2 and
127.0.0.3: the tests must run as root (they do under `make test`), and
nothing else may listen on port 25 of those addresses.

    dnsmasq:  a.test  MX 10 mx1.a.test (127.0.0.2), MX 20 mx2.a.test (127.0.0.3)
              b.test  MX 10 mx.b.test (127.0.0.3)
              c.test  no MX, A 127.0.0.2 (implicit MX)
              null.test  MX 0 "." (null MX, RFC 7505)
    sinks:    127.0.0.2:25 ("mx1"), 127.0.0.3:25 ("mx2")
"""
import email
import email.policy
import os
import re
import threading
import time

import pytest

from dns_server import dns_server  # noqa: F401  (fixture)

MX1, MX2 = "127.0.0.2", "127.0.0.3"
SMTP_PORT = 25
SENDER = "app@example.com"          # example.com is in the test mydestination

ZONE_MX = {
    "a.test": [(10, "mx1.a.test"), (20, "mx2.a.test")],
    "b.test": [(10, "mx.b.test")],
    "null.test": [(0, ".")],
}
ZONE_HOSTS = {
    "mx1.a.test": MX1,
    "mx2.a.test": MX2,
    "mx.b.test": MX2,
    "c.test": MX1,
}


# --------------------------------------------------------------------------
# SMTP sinks on port 25


class Sink:
    """An aiosmtpd server on host:25 that records every message."""

    def __init__(self, host, port=SMTP_PORT):
        from aiosmtpd.controller import Controller
        self.host = host
        self.port = port
        self.messages = []          # (mail_from, rcpt_tos, content bytes)
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname=host, port=port)
        self.running = False

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  bytes(envelope.original_content or envelope.content)))
        return "250 2.0.0 Ok: stored"

    def start(self):
        try:
            self.controller.start()
        except Exception as e:      # PermissionError, address in use, ...
            pytest.fail(f"cannot listen on {self.host}:{self.port} for the MX sink "
                        f"({e!r}); these tests need root and a free port 25 on "
                        f"{MX1} and {MX2} (see `ss -ltn`)", pytrace=False)
        self.running = True
        return self

    def stop(self):
        if self.running:
            self.controller.stop()
            self.running = False

    def count(self):
        with self.lock:
            return len(self.messages)

    def wait(self, n, timeout=15.0, log=None):
        deadline = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > deadline:
                pytest.fail(f"sink {self.host}:{self.port} holds {self.count()} message(s), "
                            f"expected {n} within {timeout}s; postern log:\n"
                            f"{(log() if log else '')[-4000:]}", pytrace=False)
            time.sleep(0.05)
        with self.lock:
            return list(self.messages)


@pytest.fixture
def sinks():
    """{"mx1": Sink(127.0.0.2:25), "mx2": Sink(127.0.0.3:25)}, started."""
    made = {}
    try:
        made["mx1"] = Sink(MX1).start()
        made["mx2"] = Sink(MX2).start()
        yield made
    finally:
        for s in made.values():
            s.stop()


@pytest.fixture
def mx_postern(make_postern, dns_server):
    """A daemon delivering with MX lookups against the test zone."""
    dns = dns_server(mx=ZONE_MX, hosts=ZONE_HOSTS)

    def factory(**settings):
        merged = dict(default_transport="smtp", relayhost="",
                      dns_servers=dns.server, smtp_tls_security_level="none")
        merged.update(settings)
        p = make_postern(start=False, **merged)
        # bounces to the sender's (local) domain stay here, in a Maildir
        t = p.base / "transport"
        t.write_text(f"{SENDER.split('@')[1]} capture\n", encoding="utf-8")
        p.settings.setdefault("transport_maps", f"texthash:{t}")
        p.dns = dns
        p.start()
        return p

    return factory


def msg(subject, rcpt):
    return (f"From: <{SENDER}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.time_ns()}.{os.getpid()}@client.postern.test>\r\n"
            f"\r\nbody of {subject}\r\n").encode()


def log_of(p):
    return p.log() + "\n--- dnsmasq ---\n" + p.dns.log()[-2000:]


def wait_sent(p, rcpt, host, addr, timeout=15.0):
    """The log line of rcpt delivered through host[addr]:25."""
    return p.wait_log(rf"to=<{re.escape(rcpt)}>, relay={re.escape(host)}\[{re.escape(addr)}\]"
                      rf":{SMTP_PORT}, .*status=sent", timeout=timeout)


def assert_got(sink, n, rcpt, subject, p):
    msgs = sink.wait(n, log=lambda: log_of(p))
    mail_from, rcpts, content = msgs[n - 1]
    assert mail_from == SENDER
    assert rcpts == [rcpt]
    assert f"Subject: {subject}".encode() in content
    return content


def dsn_status(path):
    """(Action, Status) of the only recipient of a DSN in a capture file."""
    with open(path, "rb") as f:
        data = f.read()
    rest = data.split(b"\n", 2)[2]             # Return-Path:, Delivered-To:
    m = email.message_from_bytes(rest, policy=email.policy.default)
    assert m.get_content_type() == "multipart/report", m.get_content_type()
    parts = list(m.iter_parts())
    blocks = parts[1].get_payload()
    fields = dict(blocks[1].items())
    return fields["Action"], fields["Status"], parts[0].get_content()


# --------------------------------------------------------------------------
# tests


def test_mail_goes_to_the_lowest_preference_mx(mx_postern, sinks):
    p = mx_postern()
    p.send(SENDER, ["user@a.test"], msg("to a", "user@a.test"))
    content = assert_got(sinks["mx1"], 1, "user@a.test", "to a", p)
    assert b"body of to a" in content
    wait_sent(p, "user@a.test", "mx1.a.test", MX1)
    p.wait_queue_empty()        # delivered and removed: no other MX gets it later
    assert sinks["mx2"].count() == 0


def test_failover_to_the_next_mx_when_the_first_is_down(mx_postern, sinks):
    p = mx_postern()
    p.send(SENDER, ["one@a.test"], msg("first", "one@a.test"))
    assert_got(sinks["mx1"], 1, "one@a.test", "first", p)
    p.wait_queue_empty()
    # mx1 goes away (a cached connection to it, if any, goes with it)
    sinks["mx1"].stop()
    p.send(SENDER, ["two@a.test"], msg("second", "two@a.test"))
    assert_got(sinks["mx2"], 1, "two@a.test", "second", p)
    wait_sent(p, "two@a.test", "mx2.a.test", MX2)
    p.wait_queue_empty()
    assert sinks["mx1"].count() == 1


def test_primary_mx_down_from_the_start(mx_postern, sinks):
    sinks["mx1"].stop()
    p = mx_postern()
    p.send(SENDER, ["user@a.test"], msg("backup", "user@a.test"))
    assert_got(sinks["mx2"], 1, "user@a.test", "backup", p)
    wait_sent(p, "user@a.test", "mx2.a.test", MX2)
    p.wait_queue_empty()


def test_domain_with_a_single_mx(mx_postern, sinks):
    p = mx_postern()
    p.send(SENDER, ["user@b.test"], msg("to b", "user@b.test"))
    assert_got(sinks["mx2"], 1, "user@b.test", "to b", p)
    wait_sent(p, "user@b.test", "mx.b.test", MX2)
    p.wait_queue_empty()
    assert sinks["mx1"].count() == 0


def test_one_message_to_two_domains_goes_to_each_mx(mx_postern, sinks):
    p = mx_postern()
    m = msg("both", "user@a.test")
    p.send(SENDER, ["user@a.test", "user@b.test"], m)
    assert_got(sinks["mx1"], 1, "user@a.test", "both", p)
    assert_got(sinks["mx2"], 1, "user@b.test", "both", p)
    p.wait_queue_empty()


def test_domain_without_mx_uses_its_address(mx_postern, sinks):
    p = mx_postern()
    p.send(SENDER, ["user@c.test"], msg("implicit", "user@c.test"))
    assert_got(sinks["mx1"], 1, "user@c.test", "implicit", p)
    wait_sent(p, "user@c.test", "c.test", MX1)
    p.wait_queue_empty()


def test_null_mx_bounces(mx_postern, sinks):
    p = mx_postern()
    qid = p.send(SENDER, ["user@null.test"], msg("nowhere", "user@null.test"))
    [dsn] = p.wait_for_maildir(SENDER, 1, timeout=15)
    action, status, text = dsn_status(dsn)
    assert action == "failed"
    assert status == "5.1.10"
    assert f"{qid}: to=<user@null.test>" in p.log()
    assert "status=bounced" in p.log()
    p.wait_queue_empty()
    assert sinks["mx1"].count() == 0 and sinks["mx2"].count() == 0


def test_unknown_domain_bounces(mx_postern, sinks):
    p = mx_postern()
    p.send(SENDER, ["user@nxdomain.test"], msg("nx", "user@nxdomain.test"))
    [dsn] = p.wait_for_maildir(SENDER, 1, timeout=15)
    action, status, text = dsn_status(dsn)
    assert action == "failed"
    assert status == "5.4.4"
    p.wait_queue_empty()


def test_dns_failure_defers(mx_postern, sinks):
    # dnsmasq refuses names outside .test: a temporary DNS failure
    p = mx_postern()
    p.send(SENDER, ["user@example.net"], msg("later", "user@example.net"))
    p.wait_log(r"to=<user@example\.net>, relay=.*dsn=4\.\d+\.\d+, status=deferred", timeout=20)
    assert len(p.queue_files()) == 1
    assert p.messages(SENDER) == []             # not bounced
    assert sinks["mx1"].count() == 0 and sinks["mx2"].count() == 0



def test_dead_only_when_every_mx_refuses(mx_postern, sinks):
    """A domain is a dead destination only when all its MX hosts refuse:
    with the backup up, every message still goes out (each one tries the
    primary first, as Postfix does); with both down, the domain is dead
    and the next messages are deferred without a connection."""
    sinks["mx1"].stop()
    p = mx_postern(minimal_backoff_time="300s", maximal_backoff_time="600s",
                   queue_run_delay="300s")
    for i in range(4):
        p.send(SENDER, [f"u{i}@a.test"], msg(f"backup {i}", f"u{i}@a.test"))
    sinks["mx2"].wait(4, log=lambda: log_of(p))
    p.wait_queue_empty()
    assert "is dead" not in p.log() and "suspended" not in p.log()
    sinks["mx2"].stop()
    for i in range(4):
        p.send(SENDER, [f"v{i}@a.test"], msg(f"down {i}", f"v{i}@a.test"))
    p.wait_log(r": next hop a\.test is dead for 300000 ms: connect to mx2\.a\.test\[127\.0\.0\.3\]:25: ")
    p.wait_log_count(r"to=<v\d@a\.test>, relay=none, .*status=deferred \(delivery temporarily "
                     r"suspended: connect to mx2\.a\.test\[127\.0\.0\.3\]:25: ", 3, timeout=15)
