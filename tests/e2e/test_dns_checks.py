"""DNS-based restrictions and the client's name, against a local dnsmasq
(dns_server.py): reject_rbl_client (with and without an answer filter),
permit_dnswl_client, reject_rhsbl_sender, smtpd_peername_lookup (FCrDNS),
reject_unknown_client_hostname / _reverse_ / _helo_ / _sender_domain /
_recipient_domain, and a DNS server that never answers (4xx, never 5xx, and
other sessions served meanwhile).

Clients bind their source address to 127.0.0.x so that one loopback
listener sees several "hosts":

    127.0.0.2  listed in rbl.test (answer 127.0.0.2, TXT "Listed for testing")
    127.0.0.3  listed in rbl.test (answer 127.0.0.3)
    127.0.0.5  PTR good.test, good.test A 127.0.0.5 (forward-confirmed)
    127.0.0.6  PTR forged.test, forged.test A 127.0.0.99 (does not confirm)
    127.0.0.7  listed in wl.test (a DNS allowlist)
    127.0.0.8  no PTR (NXDOMAIN)
    127.0.0.1  "localhost" from the hosts file (no DNS)
"""
import socket
import threading
import time

import pytest

from conftest import LOCAL_DOMAIN
from dns_server import dns_server  # noqa: F401  (fixture)

RCPT = f"user@{LOCAL_DOMAIN}"

ZONE = dict(
    hosts={"good.test": "127.0.0.5", "forged.test": "127.0.0.99", "helo.test": "127.0.0.1"},
    mx={"mx.test": [(10, "mail.elsewhere.test")], "nullmx.test": [(0, ".")]},
    ptr={"127.0.0.6": "forged.test"},
    addresses={"2.0.0.127.rbl.test": "127.0.0.2", "3.0.0.127.rbl.test": "127.0.0.3",
               "7.0.0.127.wl.test": "127.0.0.2", "bad.test.rhsbl.test": "127.0.0.2"},
    txt={"2.0.0.127.rbl.test": "Listed for testing"},
    zones=["in-addr.arpa"],
)


@pytest.fixture
def dns(dns_server):
    return dns_server(**ZONE)


def start(make_postern, dns, **settings):
    settings.setdefault("dns_servers", dns.server)
    settings.setdefault("smtpd_peername_lookup", "yes")
    return make_postern(**settings)


def rcpt_reply(p, source, rcpt=RCPT, sender="app@postern.test", helo="helo.test"):
    """EHLO, MAIL, RCPT from source; the RCPT reply."""
    c = p.raw(source_address=(source, 0), timeout=10)
    try:
        c.read_reply()
        c.expect(f"EHLO {helo}", 250)
        c.expect(f"MAIL FROM:<{sender}>", 250)
        return c.cmd(f"RCPT TO:<{rcpt}>")
    finally:
        c.sock.close()


def full(r):
    """The reply's last line as sent: "554 5.7.1 text"."""
    return r.lines[-1]


# --------------------------------------------------------------------------
# DNS lists


def test_rbl_client_listed_refused_and_unlisted_accepted(make_postern, dns):
    p = start(make_postern, dns, smtpd_client_restrictions="reject_rbl_client rbl.test")
    r = rcpt_reply(p, "127.0.0.2")
    assert full(r) == ("554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked "
                       "using rbl.test; Listed for testing"), r
    p.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 Service "
               r"unavailable; Client host \[127\.0\.0\.2\] blocked using rbl\.test")
    assert rcpt_reply(p, "127.0.0.1").code == 250
    assert rcpt_reply(p, "127.0.0.8").code == 250


def test_rbl_answer_filter(make_postern, dns):
    p = start(make_postern, dns, smtpd_client_restrictions="reject_rbl_client rbl.test=127.0.0.3",
              maps_rbl_reject_code="521")
    # listed with 127.0.0.2, which the filter does not take
    assert rcpt_reply(p, "127.0.0.2").code == 250
    r = rcpt_reply(p, "127.0.0.3")
    assert full(r) == ("521 5.7.1 Service unavailable; Client host [127.0.0.3] blocked "
                       "using rbl.test"), r


def test_dnswl_permits_before_reject(make_postern, dns):
    p = start(make_postern, dns, smtpd_client_restrictions="permit_dnswl_client wl.test, reject")
    assert rcpt_reply(p, "127.0.0.7").code == 250
    r = rcpt_reply(p, "127.0.0.1")
    assert full(r) == ("554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: "
                       "Access denied"), r


def test_rhsbl_sender(make_postern, dns):
    p = start(make_postern, dns, smtpd_sender_restrictions="reject_rhsbl_sender rhsbl.test")
    r = rcpt_reply(p, "127.0.0.1", sender="x@bad.test")
    assert full(r) == ("554 5.7.1 Service unavailable; Sender address [x@bad.test] blocked "
                       "using rhsbl.test"), r
    assert rcpt_reply(p, "127.0.0.1", sender="x@good.test").code == 250


def test_permit_mynetworks_first_spares_the_lookup(make_postern, dns):
    p = start(make_postern, dns,
              smtpd_client_restrictions="permit_mynetworks, reject_rbl_client rbl.test")
    assert rcpt_reply(p, "127.0.0.2").code == 250
    assert "2.0.0.127.rbl.test" not in dns.log()


# --------------------------------------------------------------------------
# the client's name


def test_peername_fcrdns_in_log_and_received(make_postern, dns):
    p = start(make_postern, dns)
    c = p.smtp(source_address=("127.0.0.5", 0))
    c.sendmail("app@postern.test", [RCPT], b"Subject: t\r\n\r\nbody\r\n")
    c.quit()
    p.wait_log(r"connect from good\.test\[127\.0\.0\.5\]")
    p.wait_log(r"client=good\.test\[127\.0\.0\.5\]")
    p.wait_for_maildir(RCPT, 1)
    msg = p.messages(RCPT)[0]
    assert b"(good.test [127.0.0.5])" in msg, msg[:300]
    # no PTR: unknown
    rcpt_reply(p, "127.0.0.8")
    p.wait_log(r"connect from unknown\[127\.0\.0\.8\]")
    # a PTR whose name does not lead back: unknown, and Postfix's warning
    rcpt_reply(p, "127.0.0.6")
    p.wait_log(r"warning: hostname forged\.test does not resolve to address 127\.0\.0\.6")
    p.wait_log(r"connect from unknown\[127\.0\.0\.6\]")


def test_reject_unknown_client_hostname(make_postern, dns):
    p = start(make_postern, dns, smtpd_client_restrictions="reject_unknown_client_hostname")
    assert rcpt_reply(p, "127.0.0.5").code == 250
    r = rcpt_reply(p, "127.0.0.8")
    assert full(r) == "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.8]"
    r = rcpt_reply(p, "127.0.0.6")
    assert full(r) == "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.6]"


def test_reject_unknown_client_code_and_reverse(make_postern, dns):
    p = start(make_postern, dns, unknown_client_reject_code="550",
              smtpd_client_restrictions="reject_unknown_reverse_client_hostname")
    # a PTR exists, even if it does not confirm: the reverse check passes
    assert rcpt_reply(p, "127.0.0.6").code == 250
    r = rcpt_reply(p, "127.0.0.8")
    assert full(r) == ("550 5.7.25 Client host rejected: cannot find your reverse hostname, "
                       "[127.0.0.8]")


# --------------------------------------------------------------------------
# unknown names and domains


def test_reject_unknown_helo_hostname(make_postern, dns):
    p = start(make_postern, dns, smtpd_helo_restrictions="reject_unknown_helo_hostname")
    assert rcpt_reply(p, "127.0.0.1", helo="good.test").code == 250
    assert rcpt_reply(p, "127.0.0.1", helo="mx.test").code == 250     # MX only
    r = rcpt_reply(p, "127.0.0.1", helo="nohost.test")
    assert full(r) == "450 4.7.1 <nohost.test>: Helo command rejected: Host not found"


def test_reject_unknown_sender_and_recipient_domain(make_postern, dns):
    p = start(make_postern, dns, unknown_address_reject_code="550",
              smtpd_sender_restrictions="reject_unknown_sender_domain",
              smtpd_recipient_restrictions="reject_unknown_recipient_domain")
    assert rcpt_reply(p, "127.0.0.1", sender="a@mx.test", rcpt="b@good.test").code == 250
    r = rcpt_reply(p, "127.0.0.1", sender="a@nodomain.test")
    assert full(r) == "550 5.1.8 <a@nodomain.test>: Sender address rejected: Domain not found"
    r = rcpt_reply(p, "127.0.0.1", sender="a@nullmx.test")
    assert full(r) == ("550 5.7.27 <a@nullmx.test>: Sender address rejected: Domain "
                       "nullmx.test does not accept mail (nullMX)")
    r = rcpt_reply(p, "127.0.0.1", rcpt="b@nodomain.test")
    assert full(r) == "550 5.1.2 <b@nodomain.test>: Recipient address rejected: Domain not found"
    r = rcpt_reply(p, "127.0.0.1", rcpt="b@nullmx.test")
    assert full(r) == ("556 5.1.10 <b@nullmx.test>: Recipient address rejected: Domain "
                       "nullmx.test does not accept mail (nullMX)")
    # the null sender and local domains are never looked up
    assert rcpt_reply(p, "127.0.0.1", sender="").code == 250


def test_pipelined_commands_keep_their_order(make_postern, dns):
    p = start(make_postern, dns, smtpd_recipient_restrictions="reject_unknown_recipient_domain")
    c = p.raw(source_address=("127.0.0.1", 0), timeout=10)
    c.read_reply()
    c.expect("EHLO helo.test", 250)
    c.send("MAIL FROM:<a@postern.test>\r\nRCPT TO:<b@nodomain.test>\r\n"
           "RCPT TO:<b@good.test>\r\nRCPT TO:<c@mx.test>\r\nDATA\r\n")
    codes = [c.read_reply().code for _ in range(5)]
    assert codes == [250, 450, 250, 250, 354], codes
    c.sock.close()


# --------------------------------------------------------------------------
# a DNS server that never answers


class Blackhole:
    """A UDP socket that takes queries and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.server = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self):
        self.sock.close()


@pytest.fixture
def blackhole():
    b = Blackhole()
    yield b
    b.close()


def test_dns_timeout_defers_never_rejects(make_postern, blackhole):
    p = make_postern(dns_servers=blackhole.server, smtpd_dns_timeout="2s",
                     smtpd_peername_lookup="yes", mynetworks="127.0.0.1/32",
                     smtpd_client_restrictions="permit_mynetworks, reject_rbl_client rbl.test",
                     smtpd_sender_restrictions="reject_unknown_sender_domain")
    started = time.monotonic()
    c = p.raw(source_address=("127.0.0.2", 0), timeout=15)
    # the client's name cannot be found: the greeting comes after the timeout
    c.read_reply(timeout=15)
    assert 1.5 < time.monotonic() - started < 10
    p.wait_log(r"connect from unknown\[127\.0\.0\.2\]")
    c.expect("EHLO helo.test", 250)
    c.expect("MAIL FROM:<a@slow.test>", 250)
    started = time.monotonic()
    c.send(f"RCPT TO:<{RCPT}>\r\n")
    # while this session waits for DNS, another one is served at once (the
    # hosts file names 127.0.0.1; permit_mynetworks spares its RBL lookup)
    other = p.raw(source_address=("127.0.0.1", 0), timeout=10)
    other.read_reply()
    other.expect("EHLO other.test", 250)
    other.expect("MAIL FROM:<>", 250)
    other.expect(f"RCPT TO:<{RCPT}>", 250)
    other_done = time.monotonic()
    other.expect("QUIT", 221)
    r = c.read_reply(timeout=15)
    waited = time.monotonic() - started
    assert other_done - started < 1.5, "the other session waited for this one's DNS"
    # the RBL is skipped (a warning), the unknown domain deferred
    assert full(r) == "450 4.1.8 <a@slow.test>: Sender address rejected: Domain not found", r
    assert 3 < waited < 12, waited
    p.wait_log(r"warning: unknown\[127\.0\.0\.2\]: 2\.0\.0\.127\.rbl\.test: RBL lookup "
               r"error: .*timed out")
    c.sock.close()


def test_dns_timeout_defer_if_permit_loses_to_a_reject(make_postern, blackhole):
    """defer_if_permit: a later reject is still a reject (5xx comes from a
    restriction that does not need DNS, not from the DNS failure)."""
    p = make_postern(dns_servers=blackhole.server, smtpd_dns_timeout="1s",
                     smtpd_sender_restrictions="reject_unknown_sender_domain, reject")
    r = rcpt_reply(p, "127.0.0.1", sender="a@slow.test")
    assert full(r) == "554 5.7.1 <a@slow.test>: Sender address rejected: Access denied", r


def test_dns_wait_longer_than_smtpd_timeout(make_postern, blackhole):
    """The command deadline does not end a session that waits for DNS, and
    is armed again once the answer is in: an idle client still times out."""
    p = make_postern(dns_servers=blackhole.server, smtpd_dns_timeout="4s", smtpd_timeout="2s",
                     smtpd_sender_restrictions="reject_unknown_sender_domain")
    c = p.raw(source_address=("127.0.0.1", 0), timeout=10)
    c.read_reply()
    c.expect("EHLO helo.test", 250)
    c.expect("MAIL FROM:<a@slow.test>", 250)
    r = c.cmd(f"RCPT TO:<{RCPT}>", timeout=10)
    assert r.code == 450, r
    # idle now: the deadline runs from the reply, not from the RCPT line
    r = c.read_reply(timeout=10)
    assert r.code == 421 and "timeout exceeded" in r.last, r
    p.wait_log(r"timeout after command from unknown\[127\.0\.0\.1\]")
    c.sock.close()
