"""`postern dns check`: the records of `dns records` looked up through
dnsmasq on a loopback port (dns_servers = 127.0.0.1:PORT) and reported ok /
missing / mismatch / invalid / tempfail, with the exit status scripts use
(0 all ok, 1 something to fix, 2 bad arguments, 75 DNS failed temporarily).

The DKIM record of a 2048-bit key is served as one TXT record of two
character-strings (dnsmasq: --txt-record=name,"part1","part2"), as zone
files hold it, so the check joins them."""
import json
import subprocess

import pytest

from conftest import POSTERN_BIN, binary_env, require_binary, sanitizer_report
from dns_server import dns_server  # noqa: F401 (fixture)

DOMAIN = "example.com"
HOST = "mail.example.com"
IP4, IP6 = "203.0.113.5", "2001:db8::5"
DMARC = "v=DMARC1; p=none; rua=mailto:postmaster@example.com"
PTR_ZONES = ["in-addr.arpa", "ip6.arpa"]


def postern(*args, cwd=None):
    require_binary()
    r = subprocess.run([POSTERN_BIN, *args], capture_output=True, text=True, cwd=cwd,
                       env=binary_env(), timeout=120, stdin=subprocess.DEVNULL)
    rep = sanitizer_report(r.stderr)
    assert rep is None, rep
    return r


def keygen(tmp_path, selector="mail", typ="rsa"):
    keys = tmp_path / "keys"
    r = postern("dkim", "keygen", "--domain", DOMAIN, "--selector", selector, "--type", typ,
                "--out", str(keys))
    assert r.returncode == 0, r.stderr
    value = next(l.split("value: ", 1)[1] for l in r.stdout.splitlines()
                 if l.startswith("  value: "))
    return keys / f"{selector}.private", value


def strings(value):
    """A TXT value as the <=255-byte strings of one record."""
    return tuple(value[i:i + 255] for i in range(0, len(value), 255))


def config(tmp_path, dns, extra=""):
    cf = tmp_path / "postern.cf"
    cf.write_text(f"myhostname = {HOST}\ndns_servers = {dns.server}\n{extra}")
    return cf


def check(cf, *args, json_out=True):
    argv = ["dns", "check", "-c", str(cf), "--domain", DOMAIN, *args]
    r = postern(*argv, *(["--json"] if json_out else []))
    if json_out and r.returncode in (0, 1, 75):
        doc = json.loads(r.stdout)
        return r, doc, {(c["role"], c["type"], c["name"]): c for c in doc["checks"]}
    return r, None, None


def good_zone(dkim_value, spf=f"v=spf1 mx ip4:{IP4} ip6:{IP6} -all", dmarc=DMARC):
    txt = {DOMAIN: spf, "_dmarc." + DOMAIN: dmarc}
    if dkim_value:
        txt["mail._domainkey." + DOMAIN] = [strings(dkim_value)]
    return dict(mx={DOMAIN: [(10, HOST)]}, hosts={HOST: [IP4, IP6]}, txt=txt,
                zones=PTR_ZONES)


def test_all_records_ok(tmp_path, dns_server):
    key, value = keygen(tmp_path)
    assert len(value) > 255            # two strings in DNS
    dns = dns_server(**good_zone(value))
    # the key the signer uses, from the configuration (no --key)
    cf = config(tmp_path, dns, f"dkim_domain = {DOMAIN}\ndkim_selector = mail\n"
                               f"dkim_private_key = {key}\n")
    r, doc, by = check(cf, "--ip", IP4, "--ipv6", IP6)
    assert r.returncode == 0, r.stdout + r.stderr
    assert doc["ok"] is True and doc["domain"] == DOMAIN and doc["myhostname"] == HOST
    assert {c["status"] for c in doc["checks"]} == {"ok"}, r.stdout
    roles = sorted(c["role"] for c in doc["checks"])
    assert roles == ["address", "address", "dkim", "dmarc", "mx", "ptr", "ptr", "spf"]
    spf = by[("spf", "TXT", DOMAIN)]
    assert [(x["ip"], x["result"]) for x in spf["spf"]] == [(IP4, "pass"), (IP6, "pass")]
    assert "mx matched 203.0.113.5" in spf["spf"][0]["reason"]
    assert by[("dkim", "TXT", "mail._domainkey." + DOMAIN)]["found"] == [value]
    dmarc = by[("dmarc", "TXT", "_dmarc." + DOMAIN)]
    assert "move to p=quarantine" in dmarc["detail"] and "aligned" in dmarc["detail"]
    ptr = by[("ptr", "PTR", "5.113.0.203.in-addr.arpa")]
    assert ptr["found"] == [HOST] and "forward-confirmed" in ptr["detail"]
    # the text form, and the same verdict without --ip: myhostname's addresses
    r = postern("dns", "check", "-c", str(cf), "--domain", DOMAIN)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("all 8 records ok")
    assert "\nok        TXT   spf     example.com\n" in r.stdout


def test_missing_records(tmp_path, dns_server):
    key, _ = keygen(tmp_path)
    dns = dns_server(addresses={HOST: IP4}, txt={"other." + DOMAIN: "x"}, zones=PTR_ZONES)
    cf = config(tmp_path, dns)
    r, doc, by = check(cf, "--ip", IP4, "--key", str(key))
    assert r.returncode == 1, r.stdout + r.stderr
    assert doc["ok"] is False
    st = {c["role"]: c["status"] for c in doc["checks"]}
    assert st == {"mx": "missing", "address": "ok", "spf": "missing", "dkim": "missing",
                  "dmarc": "missing", "ptr": "missing"}
    assert by[("spf", "TXT", DOMAIN)]["expected"] == f"v=spf1 mx ip4:{IP4} -all"
    assert "no SPF record" in by[("spf", "TXT", DOMAIN)]["detail"]
    r = postern("dns", "check", "-c", str(cf), "--domain", DOMAIN, "--ip", IP4,
                "--key", str(key))
    assert r.returncode == 1
    assert "\nMISSING   TXT   dmarc   _dmarc.example.com\n" in r.stdout
    assert f"          expected: {DMARC}\n" in r.stdout
    assert "5 of 6 records to fix" in r.stdout


def test_wrong_records(tmp_path, dns_server):
    key, _ = keygen(tmp_path)
    _, other = keygen(tmp_path, selector="old")
    dns = dns_server(**good_zone(other, spf="v=spf1 ip4:198.51.100.1 -all",
                                 dmarc="v=DMARC1; p=rejet; rua=mailto:postmaster@example.com"))
    cf = config(tmp_path, dns)
    r, doc, by = check(cf, "--ip", IP4, "--key", str(key))
    assert r.returncode == 1, r.stdout + r.stderr
    dkim = by[("dkim", "TXT", "mail._domainkey." + DOMAIN)]
    assert dkim["status"] == "mismatch"
    assert dkim["detail"] == f"the published key is not the key in {key}"
    spf = by[("spf", "TXT", DOMAIN)]
    assert spf["status"] == "mismatch" and spf["spf"][0]["result"] == "fail"
    assert "-all matched 203.0.113.5" in spf["spf"][0]["reason"]
    dmarc = by[("dmarc", "TXT", "_dmarc." + DOMAIN)]
    assert dmarc["status"] == "invalid"
    assert "p=rejet: the policy is none, quarantine or reject" in dmarc["detail"]
    assert by[("mx", "MX", DOMAIN)]["status"] == "ok"


def test_spf_include_chain_and_loop(tmp_path, dns_server):
    zone = good_zone(None, spf="v=spf1 include:_spf.example.net -all")
    zone["txt"].update({
        "_spf.example.net": "v=spf1 include:_spf2.example.org ~all",
        "_spf2.example.org": "v=spf1 ip4:203.0.113.0/24 -all",
        "loop.example.net": "v=spf1 include:loop2.example.org -all",
        "loop2.example.org": "v=spf1 include:loop.example.net -all",
        "two.example.com": ["v=spf1 -all", "v=spf1 ip4:203.0.113.5 -all"],
    })
    dns = dns_server(**zone)
    cf = config(tmp_path, dns)
    r, doc, by = check(cf, "--ip", IP4)
    spf = by[("spf", "TXT", DOMAIN)]
    assert spf["status"] == "ok", r.stdout
    reason = spf["spf"][0]["reason"]
    assert "_spf2.example.org: ip4:203.0.113.0/24 matched 203.0.113.5" in reason
    assert "include:_spf.example.net → include:_spf2.example.org" in reason
    assert spf["spf"][0]["lookups"] == 2
    # no DKIM key: DMARC rests on SPF alone, and says so
    assert r.returncode == 0, r.stdout
    assert "no key for example.com" in by[("dmarc", "TXT", "_dmarc." + DOMAIN)]["detail"]

    for spfrec, why in (("v=spf1 include:loop.example.net -all", "more than 10 DNS lookups"),
                        ("v=spf1 redirect=two.example.com", "2 SPF records")):
        dns.stop()
        zone["txt"][DOMAIN] = spfrec
        dns = dns_server(**zone)
        cf = config(tmp_path, dns)
        r, doc, by = check(cf, "--ip", IP4)
        assert r.returncode == 1, r.stdout
        spf = by[("spf", "TXT", DOMAIN)]
        assert spf["status"] == "invalid" and spf["spf"][0]["result"] == "permerror"
        assert why in spf["spf"][0]["reason"]
        # no aligned pass left: DMARC fails too
        assert by[("dmarc", "TXT", "_dmarc." + DOMAIN)]["status"] == "mismatch"


def test_relayhost_provider_include(tmp_path, dns_server):
    key, value = keygen(tmp_path)
    zone = good_zone(value, spf="v=spf1 include:_spf.google.com ~all")
    zone["mx"] = {DOMAIN: [(1, "smtp.google.com")]}     # mailboxes elsewhere
    zone["txt"]["_spf.google.com"] = "v=spf1 ip4:192.0.2.0/24 ~all"
    dns = dns_server(**zone)
    cf = config(tmp_path, dns, "relayhost = [smtp.gmail.com]:587\n")
    r, doc, by = check(cf, "--ip", IP4, "--key", str(key))
    assert r.returncode == 0, r.stdout
    spf = by[("spf", "TXT", DOMAIN)]
    assert spf["status"] == "ok" and "includes _spf.google.com" in spf["detail"]
    mx = by[("mx", "MX", DOMAIN)]
    assert mx["status"] == "mismatch" and mx["required"] is False
    assert "informational" in mx["detail"]
    assert by[("ptr", "PTR", "5.113.0.203.in-addr.arpa")]["required"] is False

    dns.stop()
    zone["txt"][DOMAIN] = f"v=spf1 ip4:{IP4} -all"
    dns = dns_server(**zone)
    cf = config(tmp_path, dns, "relayhost = [smtp.gmail.com]:587\n")
    r, doc, by = check(cf, "--ip", IP4, "--key", str(key))
    assert r.returncode == 1
    assert "does not include:_spf.google.com" in by[("spf", "TXT", DOMAIN)]["detail"]


def test_temporary_failure_is_not_missing(tmp_path, dns_server):
    # dnsmasq answers for .com only: example.org's queries are REFUSED
    dns = dns_server(hosts={"mail.example.com": IP4}, zones=PTR_ZONES)
    cf = config(tmp_path, dns)
    r = postern("dns", "check", "-c", str(cf), "--domain", "example.org", "--ip", IP4,
                "--json")
    assert r.returncode == 75, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    st = {c["role"]: c["status"] for c in doc["checks"]}
    assert st["spf"] == "tempfail" and st["dmarc"] == "tempfail" and st["mx"] == "tempfail"
    assert st["address"] == "ok"
    assert all(c["status"] != "missing" for c in doc["checks"] if c["role"] != "ptr")


@pytest.mark.parametrize("args,message", [
    ([], "dns check needs --domain"),
    (["--domain", "example..com"], "not a domain name"),
    (["--domain", DOMAIN, "--ip", "2001:db8::1"], "not an IPv4 address"),
])
def test_bad_arguments(tmp_path, dns_server, args, message):
    dns = dns_server(hosts={HOST: IP4})
    r = postern("dns", "check", "-c", str(config(tmp_path, dns)), *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and r.stdout == ""
