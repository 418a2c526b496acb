"""DKIM signing at delivery (docs/dkim.md), checked by three independent
verifiers (dkim_verify.py): dkimpy, OpenDKIM's library (rsa and ed25519)
and Perl's Mail::DKIM (rsa; Debian 12's has no ed25519), each handed the
test's public keys -- dkimpy through a dnsfunc, libopendkim through its
key file, Mail::DKIM through a dnsmasq on a loopback port serving the TXT
records.

Keys are made here with `openssl genpkey` (rsa 2048, ed25519), mode 600.
Relay cases go to an aiosmtpd upstream (upstream.py, plain, no AUTH); the
MX case to an aiosmtpd sink on port 25 of 127.0.0.23 found through a
dnsmasq MX record (dns_server.py; root, as test_mx.py).
"""
import base64
import os
import re
import subprocess
import time

import pytest

from conftest import POSTERN_BIN, binary_env, run_check
from dns_server import dns_server  # noqa: F401  (fixture)
from dkim_verify import dkimpy_verify, mail_dkim_verify, opendkim_verify, split_signatures
from upstream import test_ca, upstream  # noqa: F401  (fixtures)

DOMAIN = "dkim.test"
SENDER = f"app@{DOMAIN}"
RCPT = "user@dest.test"
MX_SINK = "127.0.0.23"


# --------------------------------------------------------------------------
# keys and records


class Keys:
    def __init__(self, d):
        self.dir = d
        os.chmod(d, 0o755)
        self.rsa = str(d / "rsa.pem")
        self.ed = str(d / "ed.pem")
        self.short = str(d / "short.pem")
        for path, args in ((self.rsa, ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"]),
                           (self.ed, ["-algorithm", "ed25519"]),
                           (self.short, ["-algorithm", "rsa", "-pkeyopt",
                                         "rsa_keygen_bits:768"])):
            subprocess.run(["openssl", "genpkey"] + args + ["-out", path], check=True,
                           capture_output=True)
            os.chmod(path, 0o600)
        rsa_der = subprocess.run(["openssl", "pkey", "-in", self.rsa, "-pubout", "-outform",
                                  "DER"], check=True, capture_output=True).stdout
        ed_der = subprocess.run(["openssl", "pkey", "-in", self.ed, "-pubout", "-outform",
                                 "DER"], check=True, capture_output=True).stdout
        self.records = {
            f"mail._domainkey.{DOMAIN}": "v=DKIM1; k=rsa; p=" + base64.b64encode(rsa_der).decode(),
            # the raw key: the last 32 bytes of the SubjectPublicKeyInfo
            f"ed._domainkey.{DOMAIN}": "v=DKIM1; k=ed25519; p=" +
                                       base64.b64encode(ed_der[-32:]).decode(),
        }
        self.keyfile = str(d / "opendkim.keys")
        with open(self.keyfile, "w") as f:
            for name, rec in self.records.items():
                f.write(f"{name} {rec}\n")
        self.table = d / "keytable"
        self.table.write_text(f"# domain selector keyfile\n{DOMAIN} mail {self.rsa}\n"
                              f"{DOMAIN} ed {self.ed}\n")

    def txt_args(self):
        """dnsmasq --txt-record options (strings of at most 255 bytes)."""
        out = []
        for name, rec in self.records.items():
            parts = [rec[i:i + 250] for i in range(0, len(rec), 250)]
            out.append(f"--txt-record={name}," + ",".join(parts))
        return out


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return Keys(tmp_path_factory.mktemp("dkim-keys"))


@pytest.fixture
def dns(dns_server, keys):  # noqa: F811
    return dns_server(mx={"dest.test": [(10, "mx.dest.test")]},
                      hosts={"mx.dest.test": MX_SINK}, extra_args=keys.txt_args())


def verify_all(msg, keys, dns, expect_selectors, expect_ok=True):
    """Every DKIM-Signature of msg by every verifier that knows its
    algorithm; returns {selector: [results]}."""
    sigs = split_signatures(msg)
    assert sorted(s for s, _ in sigs) == sorted(expect_selectors), msg[:2000]
    out = {}
    for sel, m in sigs:
        res = [("dkimpy", dkimpy_verify(m, keys.records)),
               ("opendkim",) + tuple(opendkim_verify(m, keys.keyfile))]
        if sel == "mail":
            r, detail = mail_dkim_verify(m, dns.port)
            res.append(("Mail::DKIM", r == "pass", detail))
        for name, ok, *why in res:
            assert ok == expect_ok, (f"{name} on the {sel} signature: {ok} {why}, expected "
                                     f"{expect_ok}\n{m[:3000]!r}")
        out[sel] = res
    return out


def tamper_checks(msg, keys, dns, selectors):
    """One body byte, or the Subject, changed after signing: every verifier
    fails every signature."""
    head, _, body = msg.partition(b"\r\n\r\n")
    i = len(body) // 2
    while body[i:i + 1] in (b"\r", b"\n", b" ", b"\t", b"="):
        i += 1
    flipped = bytes([body[i] ^ 0x01])
    verify_all(head + b"\r\n\r\n" + body[:i] + flipped + body[i + 1:], keys, dns, selectors,
               expect_ok=False)
    verify_all(re.sub(rb"\r\nSubject: ", b"\r\nSubject: Re: ", msg, count=1), keys, dns,
               selectors, expect_ok=False)


# --------------------------------------------------------------------------
# messages

FOLDED_TO = ",\r\n ".join(f"Person Number {i} <p{i}@dest.test>" for i in range(12))


def message(subject, body, extra=b"", ctype=b"text/plain; charset=utf-8", cte=b"8bit"):
    return (b"From: App <" + SENDER.encode() + b">\r\n"
            b"To: " + FOLDED_TO.encode() + b"\r\n"
            b"Subject: " + subject + b"\r\n"
            b"Date: Mon, 30 Nov 2026 01:00:00 +0000\r\n"
            b"Message-ID: <" + str(time.time_ns()).encode() + b"@dkim.test>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: " + ctype + b"\r\n"
            b"Content-Transfer-Encoding: " + cte + b"\r\n" + extra +
            b"\r\n" + body)


CHINESE = ("你好，世界！这是一封测试邮件，用于检查 DKIM 签名。\r\n"
           "第二行   有  多个   空格\t和制表符。  \r\n\r\n\r\n").encode()
LONG_SUBJECT = (b"A long subject that goes on and on so that it has to be folded\r\n"
                b"\tover more than one line, with\t tabs  and   runs of spaces")


def relay_postern(make_postern, up, keys, **kw):
    settings = dict(default_transport="smtp", relayhost=f"[127.0.0.1]:{up.port}",
                    smtp_tls_security_level="none", dkim_sign="yes")
    settings.update(kw)
    return make_postern(**settings)


def relayed(p, up, n=1):
    msgs = up.wait_messages(n, done=p.wait_queue_empty)
    return msgs[n - 1]["content"]


# --------------------------------------------------------------------------
# tests


def test_relay_relaxed_dual_rsa_ed25519(make_postern, upstream, keys, dns):  # noqa: F811
    up = upstream(mode="plain", auth=False)
    p = relay_postern(make_postern, up, keys, dkim_key_table=f"texthash:{keys.table}")
    p.send(SENDER, [RCPT], message(LONG_SUBJECT, CHINESE))
    got = relayed(p, up)
    assert got.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=dkim.test;")
    assert b"\r\nDKIM-Signature: v=1; a=ed25519-sha256;" in got
    assert b"h=from:from:to:subject:date:message-id:mime-version:content-type:" in got.replace(
        b"\r\n\t", b"")
    assert b" l=" not in got and re.search(rb" t=\d{10};", got)
    assert "你好".encode() in got          # 8BITMIME upstream: sent as it is
    verify_all(got, keys, dns, ["mail", "ed"])
    tamper_checks(got, keys, dns, ["mail", "ed"])
    p.wait_log(r"DKIM-Signature field added \(s=mail, d=dkim\.test; s=ed, d=dkim\.test\)")


def test_relay_not_signed_by_default(make_postern, upstream, keys):  # noqa: F811
    """dkim_sign = mx (the default): a relayhost signs for itself."""
    up = upstream(mode="plain", auth=False)
    p = relay_postern(make_postern, up, keys, dkim_sign=None, dkim_key_table=f"texthash:{keys.table}")
    p.send(SENDER, [RCPT], message(b"not signed", b"hello\r\n"))
    got = relayed(p, up)
    assert b"DKIM-Signature" not in got
    # a From: domain without a key is delivered unsigned, and says so
    p2 = relay_postern(make_postern, up, keys, dkim_key_table=f"texthash:{keys.table}")
    p2.send("x@other.test", [RCPT], b"From: x@other.test\r\nSubject: s\r\n\r\nbody\r\n")
    got = relayed(p2, up, 2)
    assert b"DKIM-Signature" not in got
    p2.wait_log(r": not DKIM-signed: no DKIM key for the From: domain")


def test_simple_simple_lf_input_from_sendmail(make_postern, upstream, keys, dns):  # noqa: F811
    up = upstream(mode="plain", auth=False)
    p = relay_postern(make_postern, up, keys, dkim_domain=DOMAIN, dkim_selector="mail",
                      dkim_private_key=keys.rsa, dkim_canonicalization="simple/simple")
    # a 1500-byte line: smtp_line_length_limit (998) breaks it, and what is
    # signed is what is sent
    lf = (message(LONG_SUBJECT, b"line one  \r\n\r\n.dot line\r\n" + b"x" * 1500 +
                  b"\r\ntrailing\t \r\n\r\n\r\n").replace(b"\r\n", b"\n"))
    r = subprocess.run([POSTERN_BIN, "sendmail", "-C", str(p.config_path), "-f", SENDER, RCPT],
                       input=lf, capture_output=True, timeout=30, env=binary_env())
    assert r.returncode == 0, r.stderr
    got = relayed(p, up)
    assert b"c=simple/simple" in got and b"\r\n.dot line\r\n" in got
    assert b"x" * 998 + b"\r\n x" in got
    verify_all(got, keys, dns, ["mail"])
    tamper_checks(got, keys, dns, ["mail"])


def test_8bitmime_downgrade_is_signed_as_sent(make_postern, upstream, keys, dns):  # noqa: F811
    up = upstream(mode="plain", auth=False, eightbitmime=False)
    p = relay_postern(make_postern, up, keys, dkim_key_table=f"texthash:{keys.table}",
                      dkim_canonicalization="relaxed/simple")
    p.send(SENDER, [RCPT], message(b"downgraded", CHINESE), mail_options=["BODY=8BITMIME"])
    got = relayed(p, up)
    assert b"Content-Transfer-Encoding: quoted-printable" in got
    assert max(got) < 0x80                  # 7-bit on the wire
    p.wait_log(r"8-bit content converted to 7-bit")
    verify_all(got, keys, dns, ["mail", "ed"])
    tamper_checks(got, keys, dns, ["mail", "ed"])


def test_5mb_attachment(make_postern, upstream, keys, dns):  # noqa: F811
    up = upstream(mode="plain", auth=False)
    p = relay_postern(make_postern, up, keys, dkim_key_table=f"texthash:{keys.table}",
                      message_size_limit="20m")
    blob = base64.encodebytes(os.urandom(5 * 1024 * 1024)).replace(b"\n", b"\r\n")
    body = (b"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            b"--b1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + blob + b"--b1--\r\n")
    p.send(SENDER, [RCPT], message(b"big", body, ctype=b'multipart/mixed; boundary="b1"',
                                   cte=b"7bit"))
    got = relayed(p, up)
    assert len(got) > 6 * 1024 * 1024
    verify_all(got, keys, dns, ["mail", "ed"])
    tamper_checks(got, keys, dns, ["mail", "ed"])


def test_mx_transport_signs_by_default(make_postern, keys, dns):
    from test_mx import Sink
    sink = Sink(MX_SINK).start()
    try:
        p = make_postern(default_transport="smtp", relayhost="", dns_servers=dns.server,
                         smtp_tls_security_level="none",
                         dkim_key_table=f"texthash:{keys.table}")
        p.send(SENDER, [RCPT], message(b"via MX", CHINESE))
        msgs = sink.wait(1, log=p.log)
        p.wait_queue_empty()
        got = msgs[0][2]
        verify_all(got, keys, dns, ["mail", "ed"])
        tamper_checks(got, keys, dns, ["mail", "ed"])
    finally:
        sink.stop()


def test_bad_keys_fail_the_check(tmp_path, keys):
    def check(**kw):
        cfg = tmp_path / "postern.cf"
        cfg.write_text("".join(f"{k} = {v}\n" for k, v in kw.items()))
        return run_check(cfg)
    open_key = tmp_path / "open.pem"
    open_key.write_bytes(open(keys.rsa, "rb").read())
    os.chmod(open_key, 0o644)
    r = check(dkim_domain=DOMAIN, dkim_selector="mail", dkim_private_key=open_key)
    assert r.returncode != 0
    assert f"dkim_private_key: {open_key} is readable by group or others (mode 0644): " \
           f"chmod 600 {open_key}" in r.stdout + r.stderr
    assert "PRIVATE KEY" not in r.stdout + r.stderr
    r = check(dkim_domain=DOMAIN, dkim_selector="mail", dkim_private_key=keys.short)
    assert r.returncode != 0 and "768 bits is too short" in r.stdout + r.stderr
    r = check(dkim_domain=DOMAIN, dkim_selector="mail", dkim_private_key=tmp_path / "none.pem")
    assert r.returncode != 0 and str(tmp_path / "none.pem") in r.stdout + r.stderr
    r = check(dkim_domain=DOMAIN, dkim_private_key=keys.rsa)
    assert r.returncode != 0 and "dkim_selector" in r.stdout + r.stderr
    bad = tmp_path / "table"
    bad.write_text(f"{DOMAIN} mail\n")
    r = check(dkim_key_table=f"texthash:{bad}")
    assert r.returncode != 0 and f"{bad}:1: expected" in r.stdout + r.stderr
    r = check(dkim_key_table=f"texthash:{keys.table}", dkim_sign="maybe")
    assert r.returncode != 0 and "dkim_sign = maybe" in r.stdout + r.stderr
    r = check(dkim_key_table=f"texthash:{keys.table}")
    assert r.returncode == 0, r.stdout + r.stderr
