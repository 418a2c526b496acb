"""Restriction lists at configuration load: `postern check`, `serve` and
SIGHUP parse every list once, report every error with its file and line (and
the closest valid name for a typo), refuse the DNS restrictions of this
version, and load the tables the lists name (cidr: included) through the
privileged parent. The decisions themselves are unit-tested
(tests/unit/test_restrict.c)."""
import os
import re
import signal

from conftest import run_check


def write_cf(p, extra):
    p.config_path.write_text(p.config_text() + extra, encoding="utf-8")
    return len(p.config_text().splitlines())


def test_check_reports_every_restriction_error(make_postern):
    p = make_postern(start=False)
    cidr = p.base / "clients.cidr"
    cidr.write_text("192.0.2.0/24 REJECT\n192.0.2.1/24 OK\n")
    n = write_cf(p,
                 "smtpd_client_restrictions = permit_mynetworks, reject_unknow_client,\n"
                 f"    reject_rbl_client zen.spamhaus.org=127.0.0.256, check_client_access cidr:{cidr}\n"
                 "smtpd_recipient_restrictions = permit_sasl_authenticatd, reject\n"
                 "smtpd_sender_restrictions = check_policy_service inet:127.0.0.1:10023\n")
    r = run_check(p.config_path)
    assert r.returncode == 1, r
    cf = str(p.config_path)
    want = [
        f'postern: {cf}:{n + 1}: smtpd_client_restrictions: unknown restriction '
        '"reject_unknow_client"; did you mean reject_unknown_client?',
        f'postern: {cf}:{n + 1}: smtpd_client_restrictions: reject_rbl_client '
        '"zen.spamhaus.org=127.0.0.256": expected a DNS zone, optionally with the answer to '
        'match, e.g. reject_rbl_client zen.spamhaus.org or reject_rbl_client '
        'list.example=127.0.0.2',
        f'postern: {cf}:{n + 1}: smtpd_client_restrictions: check_client_access '
        f'cidr:{cidr}: {cidr}:2: "192.0.2.1/24": address has bits set beyond the prefix '
        'length; use 192.0.2.0/24',
        f'postern: {cf}:{n + 3}: smtpd_recipient_restrictions: unknown restriction '
        '"permit_sasl_authenticatd"; did you mean permit_sasl_authenticated?',
        f'postern: {cf}:{n + 4}: smtpd_sender_restrictions: check_policy_service is a '
        'Postfix restriction that postern does not implement; remove it',
    ]
    lines = r.stderr.splitlines()
    for w in want:
        assert w in lines, r.stderr
    assert len(lines) == len(want), r.stderr


def test_check_refuses_lists_that_cannot_refuse_relaying(make_postern):
    p = make_postern(start=False)
    n = write_cf(p, "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated\n")
    r = run_check(p.config_path)
    assert r.returncode == 1
    assert (f"postern: {p.config_path}:{n + 1}: smtpd_relay_restrictions and "
            "smtpd_recipient_restrictions: neither can refuse relaying") in r.stderr, r.stderr


def test_seed001_restrictions(make_postern):
    """Seed 001's main.cf, its line breaks restored: the recipient list as
    written passes, and so does it with its commented-out restrictions back
    in (DNS ones included); its client and sender lists fail on one typo."""
    p = make_postern(start=False)
    write_cf(p, "smtpd_helo_restrictions = permit_mynetworks\n"
                "smtpd_recipient_restrictions =\n"
                "    permit_sasl_authenticated,\n"
                "    reject\n"
                "smtpd_helo_required = no\n"
                "strict_rfc821_envelopes = no\n")
    r = run_check(p.config_path)
    assert r.returncode == 0, r.stderr

    p2 = make_postern(start=False)
    write_cf(p2, "smtpd_recipient_restrictions = permit_sasl_authenticated, reject,\n"
                     "    reject_unauth_destination, reject_non_fqdn_recipient,\n"
                     "    reject_unknown_recipient_domain, permit_mynetworks\n")
    r = run_check(p2.config_path)
    assert r.returncode == 0, r.stderr

    p3 = make_postern(start=False)
    write_cf(p3, "smtpd_client_restrictions = permit_mynetworks, reject_unknow_client, "
                 "reject_rbl_client cblless.anti-spam.org.cn, reject_rbl_client "
                 "sbl-xbl.spamhaus.org, reject_rbl_client relays.ordb.org, "
                 "reject_rhsbl_client dsn.rfc-ignorant.org\n"
                 "smtpd_sender_restrictions = reject_unknown_sender_domain, "
                 "reject_non_fqdn_sender\n")
    r = run_check(p3.config_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert "did you mean reject_unknown_client?" in lines[0], r.stderr


def test_serve_loads_tables_and_sighup_rechecks_them(make_postern):
    p = make_postern(start=False)
    cidr = p.base / "clients.cidr"
    cidr.write_text("if 10.0.0.0/8\n10.1.0.0/16 OK\nendif\n192.0.2.0/24 REJECT\n")
    cidr.chmod(0o644)
    logins = p.base / "sender_logins"
    logins.write_text("alice@example.com alice\n@shop.example.com shop\n")
    logins.chmod(0o644)
    p.settings.update({
        "smtpd_client_restrictions": f"check_client_access cidr:{cidr}",
        "smtpd_sender_restrictions": "reject_sender_login_mismatch",
        "smtpd_sender_login_maps": f"hash:{logins}",
        "relay_domains": "relay.example",
    })
    p.start()
    assert run_check(p.config_path).returncode == 0
    # a broken table on SIGHUP: the reload is refused, with the table's line
    cidr.write_text("192.0.2.0/24 REJECT\nif 10.0.0.0/8\n")
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload failed, keeping the running configuration: .*postern\.cf:\d+: "
               r"smtpd_client_restrictions: check_client_access cidr:\S+: "
               + re.escape(str(cidr)) + r":2: if without endif")
    with p.smtp() as c:
        assert c.ehlo("client.example")[0] == 250
    # fixed again: the reload goes through
    cidr.write_text("192.0.2.0/24 REJECT\n")
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload: configuration")
