"""`postern dkim keygen|record` and `postern dns records`: the keys seed 002
makes with opendkim-genkey and the records it publishes by hand.

The p= of each record is checked against the key by openssl (`openssl pkey
-pubout`), and as a DKIM pair by dkimpy: a message signed with the private
key verifies against the printed record, and fails once changed. Keys made
by Debian's opendkim-genkey give the same p= as its own .txt. The zone
snippet of `dns records` is loaded by BIND's named-checkzone /
named-compilezone, and the TXT values read back from the compiled zone are
the expected ones."""
import base64
import json
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import POSTERN_BIN, binary_env, require_binary, sanitizer_report

import dkim

DOMAIN = "example.com"
MSG = (b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n"
       b"Subject: hello\r\nMessage-ID: <1@example.com>\r\n\r\nhello there\r\n")


def postern(*args, cwd=None):
    require_binary()
    r = subprocess.run([POSTERN_BIN, *args], capture_output=True, text=True, cwd=cwd,
                       env=binary_env(), timeout=120, stdin=subprocess.DEVNULL)
    rep = sanitizer_report(r.stderr)
    assert rep is None, rep
    return r


def tool(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    assert path, f"{name} is missing: make test-deps (opendkim-tools, bind9-utils)"
    return path


def openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def printed_value(out):
    m = re.search(r"^  value: (v=DKIM1; .*)$", out, re.M)
    assert m, out
    return m.group(1)


def joined_strings(text):
    """The TXT value of zone-file text: its quoted strings joined."""
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
    assert all(len(s) <= 255 for s in strings), strings
    return "".join(strings)


def tags(value):
    return dict(t.strip().split("=", 1) for t in value.split(";") if t.strip())


def spki_der(key):
    return openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER")


def test_keygen_rsa(tmp_path):
    r = postern("dkim", "keygen", "--domain", DOMAIN, "--selector", "mail", "--out",
                str(tmp_path / "keys"))
    assert r.returncode == 0, r.stderr
    key, txt = tmp_path / "keys" / "mail.private", tmp_path / "keys" / "mail.txt"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(txt.stat().st_mode) == 0o644
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")    # PKCS#8
    assert "Private-Key: (2048 bit" in openssl("pkey", "-in", str(key), "-noout",
                                                "-text").decode()
    value = printed_value(r.stdout)
    t = tags(value)
    assert value.startswith("v=DKIM1; k=rsa; p=") and t["k"] == "rsa"
    assert base64.b64decode(t["p"]) == spki_der(key)
    assert "  name:  mail._domainkey.example.com\n" in r.stdout
    # the .txt and the printed zone form hold the same value, in <=255-byte strings
    zone = txt.read_text()
    assert zone.startswith("mail._domainkey.example.com.\tIN\tTXT\t( ")
    assert joined_strings(zone) == value
    assert zone in r.stdout
    # a DKIM pair: dkimpy signs with the key and verifies with the record
    sig = dkim.sign(MSG, b"mail", DOMAIN.encode(), key.read_bytes())
    rec = value.encode()
    assert dkim.verify(sig + MSG, dnsfunc=lambda name, timeout=5: rec)
    assert not dkim.verify(sig + MSG.replace(b"there", b"thers"),
                           dnsfunc=lambda name, timeout=5: rec)


def test_keygen_ed25519_and_bits(tmp_path):
    r = postern("dkim", "keygen", "--domain", DOMAIN, "--selector", "ed", "--type", "ed25519",
                "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    key = tmp_path / "ed.private"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    value = printed_value(r.stdout)
    t = tags(value)
    assert t["k"] == "ed25519"
    raw = base64.b64decode(t["p"])
    assert len(raw) == 32 and spki_der(key).endswith(raw)   # RFC 8463: the raw key
    # dkimpy signs with the raw private key (the last 32 bytes of the DER)
    seed = openssl("pkey", "-in", str(key), "-outform", "DER")[-32:]
    sig = dkim.sign(MSG, b"ed", DOMAIN.encode(), base64.b64encode(seed),
                    signature_algorithm=b"ed25519-sha256")
    assert dkim.verify(sig + MSG, dnsfunc=lambda name, timeout=5: value.encode())

    r = postern("dkim", "keygen", "--domain", DOMAIN, "--selector", "big", "--bits", "4096",
                "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "Private-Key: (4096 bit" in openssl("pkey", "-in", str(tmp_path / "big.private"),
                                                "-noout", "-text").decode()
    assert joined_strings((tmp_path / "big.txt").read_text()) == printed_value(r.stdout)


@pytest.mark.parametrize("args,message", [
    (["--bits", "512"], "RSA keys of 1024 to 4096 bits"),
    (["--bits", "1023"], "RFC 8301"),
    (["--bits", "8192"], "RSA keys of 1024 to 4096 bits"),
    (["--type", "dsa"], "rsa or ed25519"),
    (["--type", "ed25519", "--bits", "2048"], "--bits is for RSA"),
    (["--domain", "exa mple.com"], "not a domain name"),
    (["--domain", "localhost"], "not a domain name"),
    (["--selector", "../etc/x"], "a DNS label"),
    (["--selector", "a_b"], "a DNS label"),
])
def test_keygen_refuses_bad_arguments(tmp_path, args, message):
    base = {"--domain": DOMAIN, "--selector": "mail"}
    argv = ["dkim", "keygen", "--out", str(tmp_path)]
    for k, v in base.items():
        if k not in args:
            argv += [k, v]
    r = postern(*argv, *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_keygen_never_overwrites_without_force(tmp_path):
    argv = ["dkim", "keygen", "--domain", DOMAIN, "--selector", "mail", "--out", str(tmp_path)]
    first = postern(*argv)
    assert first.returncode == 0, first.stderr
    key = tmp_path / "mail.private"
    before = key.read_bytes()
    r = postern(*argv)
    assert r.returncode == 1
    assert f"{key} exists; use -f to replace it" in r.stderr
    assert key.read_bytes() == before
    r = postern(*argv, "--force")
    assert r.returncode == 0, r.stderr
    assert key.read_bytes() != before and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert printed_value(r.stdout) != printed_value(first.stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mail.private", "mail.txt"]


def test_opendkim_genkey_keys_give_the_same_record(tmp_path):
    subprocess.run([tool("opendkim-genkey"), "-D", str(tmp_path), "-d", DOMAIN, "-s", "sel"],
                   check=True, timeout=60)
    key = tmp_path / "sel.private"
    theirs = tags(joined_strings((tmp_path / "sel.txt").read_text()))
    r = postern("dkim", "record", "--key", str(key), "--domain", DOMAIN)
    assert r.returncode == 0, r.stderr
    assert "  name:  sel._domainkey.example.com\n" in r.stdout     # selector from the name
    assert tags(printed_value(r.stdout))["p"] == theirs["p"]
    # the PKCS#1 form ("BEGIN RSA PRIVATE KEY") older opendkim-genkey writes
    pkcs1 = tmp_path / "old.key"
    openssl("rsa", "-in", str(key), "-traditional", "-out", str(pkcs1))
    os.chmod(pkcs1, 0o600)
    assert pkcs1.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    r = postern("dkim", "record", "--key", str(pkcs1), "--domain", DOMAIN, "--selector", "sel")
    assert r.returncode == 0, r.stderr
    assert tags(printed_value(r.stdout))["p"] == theirs["p"]


def test_record_refuses_unsafe_or_unusable_keys(tmp_path):
    key = tmp_path / "mail.private"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out",
            str(key))
    for mode in (0o640, 0o604, 0o620):
        os.chmod(key, mode)
        r = postern("dkim", "record", "--key", str(key), "--domain", DOMAIN)
        assert r.returncode == 1
        assert f"chmod 600 {key}" in r.stderr and "BEGIN" not in r.stderr
    os.chmod(key, 0o600)
    assert postern("dkim", "record", "--key", str(key), "--domain", DOMAIN).returncode == 0

    cases = {
        "short.private": (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:768"],
                          "768 bits is too short"),
        "ec.private": (["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                       "DKIM keys are RSA or Ed25519"),
        "enc.private": (["-algorithm", "RSA", "-aes256", "-pass", "pass:secret"],
                        "unencrypted"),
    }
    for name, (args, message) in cases.items():
        p = tmp_path / name
        openssl("genpkey", *args, "-out", str(p))
        os.chmod(p, 0o600)
        r = postern("dkim", "record", "--key", str(p), "--domain", DOMAIN)
        assert r.returncode == 1, name
        assert message in r.stderr, r.stderr
    r = postern("dkim", "record", "--key", str(tmp_path / "nokey.txt"), "--domain", DOMAIN)
    assert r.returncode == 2 and "--selector" in r.stderr


# --- dns records ---------------------------------------------------------

def config(tmp_path, extra=""):
    cf = tmp_path / "postern.cf"
    cf.write_text(f"myhostname = mail.example.com\n{extra}")
    return cf


def zone_load(tmp_path, snippet, origin=DOMAIN):
    """The snippet in a zone with SOA and NS, checked and compiled by BIND:
    (returncode, output of the check, {(name, type): [rdata...]})."""
    zf = tmp_path / "zone.db"
    zf.write_text(f"$ORIGIN {origin}.\n$TTL 3600\n"
                  f"@ IN SOA ns1.{origin}. hostmaster.{origin}. 1 7200 3600 1209600 3600\n"
                  f"@ IN NS ns1.{origin}.\nns1 IN A 192.0.2.53\n" + snippet)
    chk = subprocess.run([tool("named-checkzone"), origin, str(zf)], capture_output=True,
                         text=True, timeout=60)
    if chk.returncode != 0:
        return chk.returncode, chk.stdout + chk.stderr, {}
    comp = subprocess.run([tool("named-compilezone"), "-q", "-o", "-", origin, str(zf)],
                          capture_output=True, text=True, timeout=60)
    assert comp.returncode == 0, comp.stderr
    recs = {}
    for line in comp.stdout.splitlines():
        f = line.split(None, 4)
        if len(f) == 5:
            recs.setdefault((f[0], f[3]), []).append(f[4])
    return 0, chk.stdout, recs


def test_dns_records_zone_loads_in_bind(tmp_path):
    keys = tmp_path / "keys"
    rsa = postern("dkim", "keygen", "--domain", DOMAIN, "--selector", "mail", "--out", str(keys))
    ed = postern("dkim", "keygen", "--domain", DOMAIN, "--selector", "ed", "--type", "ed25519",
                 "--out", str(keys))
    assert rsa.returncode == 0 and ed.returncode == 0
    r = postern("dns", "records", "-c", str(config(tmp_path)), "--domain", DOMAIN,
                "--ip", "203.0.113.5", "--ipv6", "2001:DB8::5", "--key",
                str(keys / "mail.private"), "--key", str(keys / "ed.private"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "example.com.\tIN\tMX\t10 mail.example.com.\n" in out
    # the PTRs are to ask for, commented out: not records of this zone
    assert "\n; 5.113.0.203.in-addr.arpa.\tIN\tPTR\tmail.example.com.\n" in out
    assert ("\n; 5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
            "\tIN\tPTR\tmail.example.com.\n") in out
    assert "p=quarantine" in out

    rc, msg, recs = zone_load(tmp_path, out)
    assert rc == 0, msg

    def txt(name):
        return [joined_strings(v) for v in recs[(name, "TXT")]]

    assert recs[("example.com.", "MX")] == ["10 mail.example.com."]
    assert recs[("mail.example.com.", "A")] == ["203.0.113.5"]
    assert recs[("mail.example.com.", "AAAA")] == ["2001:db8::5"]
    assert txt("example.com.") == ["v=spf1 mx ip4:203.0.113.5 ip6:2001:db8::5 -all"]
    assert txt("mail._domainkey.example.com.") == [printed_value(rsa.stdout)]
    assert txt("ed._domainkey.example.com.") == [printed_value(ed.stdout)]
    assert txt("_dmarc.example.com.") == ["v=DMARC1; p=none; rua=mailto:postmaster@example.com"]
    assert not any(t == "PTR" for _, t in recs)
    # the check is a real one: a string of 256 bytes does not load
    rc, msg, _ = zone_load(tmp_path, 'x IN TXT "' + "a" * 256 + '"\n')
    assert rc != 0


@pytest.mark.parametrize("relayhost,spf,advice", [
    ("[smtp.gmail.com]:587", "v=spf1 include:_spf.google.com -all", "Google"),
    ("[smtp.office365.com]:587", "v=spf1 include:spf.protection.outlook.com -all",
     "Microsoft 365"),
    ("[smtp.163.com]:465", "v=spf1 include:spf.163.com -all", "NetEase"),
    ("[smtp.exmail.qq.com]:465", "v=spf1 include:spf.mail.qq.com -all", "Tencent Exmail"),
    ("[smtp.relay.example.net]:587", "v=spf1 a:smtp.relay.example.net -all",
     "ask the provider"),
])
def test_dns_records_spf_through_a_relayhost(tmp_path, relayhost, spf, advice):
    cf = config(tmp_path, f"relayhost = {relayhost}\n")
    r = postern("dns", "records", "-c", str(cf), "--domain", DOMAIN, "--ip", "203.0.113.5")
    assert r.returncode == 0, r.stderr
    assert f'example.com.\tIN\tTXT\t"{spf}"\n' in r.stdout
    assert advice in r.stdout.replace("\n; ", " ")     # the advice, unwrapped
    assert "no key given" in r.stdout and "postern dkim keygen" in r.stdout


def test_dns_records_json(tmp_path):
    postern("dkim", "keygen", "--domain", DOMAIN, "--selector", "mail", "--out", str(tmp_path))
    r = postern("dns", "records", "-c", str(config(tmp_path)), "--domain", "Example.COM.",
                "--ip", "203.0.113.5", "--selector", "mail", "--report-to",
                "dmarc@reports.example.net", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["domain"] == "example.com" and doc["warnings"] == []
    by_role = {}
    for rec in doc["records"]:
        by_role.setdefault(rec["role"], []).append(rec)
    assert by_role["mx"][0]["value"] == "10 mail.example.com."
    assert by_role["dkim"][0]["name"] == "mail._domainkey.example.com."
    p = tags(by_role["dkim"][0]["value"])["p"]
    assert base64.b64decode(p) == spki_der(tmp_path / "mail.private")
    dmarc = by_role["dmarc"][0]
    assert dmarc["value"] == "v=DMARC1; p=none; rua=mailto:dmarc@reports.example.net"
    assert "example.com._report._dmarc.reports.example.net" in dmarc["note"]
    assert [x["in_zone"] for x in by_role["ptr"]] == [False]
    assert by_role["ptr"][0]["name"] == "5.113.0.203.in-addr.arpa."


def test_dns_records_takes_the_keys_of_the_configuration(tmp_path):
    # the keys the signer uses (dkim_private_key, dkim_key_table): no --key
    keys = tmp_path / "keys"
    keys.mkdir()
    for sel, typ in (("mail", "rsa"), ("ed", "ed25519"), ("other", "rsa")):
        r = postern("dkim", "keygen", "--domain", DOMAIN, "--selector", sel, "--type", typ,
                    "--out", str(keys))
        assert r.returncode == 0, r.stderr
    table = tmp_path / "keytable"
    table.write_text(f"example.com ed {keys / 'ed.private'}\n"
                     f"example.net other {keys / 'other.private'}\n")
    cf = config(tmp_path, f"dkim_domain = example.com\ndkim_selector = mail\n"
                          f"dkim_private_key = {keys / 'mail.private'}\n"
                          f"dkim_key_table = texthash:{table}\n")
    r = postern("dns", "records", "-c", str(cf), "--domain", DOMAIN, "--ip", "203.0.113.5",
                "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    dkim = {rec["name"]: rec["value"] for rec in json.loads(r.stdout)["records"]
            if rec["role"] == "dkim"}
    assert set(dkim) == {"mail._domainkey.example.com.", "ed._domainkey.example.com."}
    p = tags(dkim["mail._domainkey.example.com."])["p"]
    assert base64.b64decode(p) == spki_der(keys / "mail.private")
    assert tags(dkim["ed._domainkey.example.com."])["k"] == "ed25519"


@pytest.mark.parametrize("args,rc,message", [
    (["--ip", "203.0.113"], 2, "not an IPv4 address"),
    (["--ip", "2001:db8::1"], 2, "not an IPv4 address"),
    (["--ip", "203.0.113.5", "--ipv6", "203.0.113.6"], 2, "not an IPv6 address"),
    (["--ip", "203.0.113.5", "--domain", "example..com"], 2, "not a domain name"),
    (["--ip", "203.0.113.5", "--report-to", "postmaster"], 2, "not an address for DMARC"),
    (["--ip", "203.0.113.5", "--selector", "nosuch"], 1, "nosuch.private: cannot open"),
    ([], 2, "needs --domain and the relay's public address"),
])
def test_dns_records_refuses_bad_input(tmp_path, args, rc, message):
    argv = ["dns", "records", "-c", str(config(tmp_path))]
    if "--domain" not in args:
        argv += ["--domain", DOMAIN]
    r = postern(*argv, *args, cwd=tmp_path)
    assert r.returncode == rc, r.stderr
    assert message in r.stderr
    assert r.stdout == ""


def test_dns_records_needs_a_real_myhostname(tmp_path):
    cf = tmp_path / "postern.cf"
    cf.write_text("myhostname = localhost\n")
    r = postern("dns", "records", "-c", str(cf), "--domain", DOMAIN, "--ip", "203.0.113.5")
    assert r.returncode == 1
    assert f"myhostname = localhost ({cf})" in r.stderr
    assert "set myhostname = mail.example.com" in r.stderr
