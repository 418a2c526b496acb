"""Seed 000 end to end: the blog post's Postfix configuration, unchanged
but for postern's file names, relaying an app's mail through an upstream
mailbox that demands AUTH over implicit TLS and accepts only its own
account as sender.

    relayhost = [smtp.example.com]:465
    smtp_tls_wrappermode = yes
    smtp_sasl_auth_enable = yes
    smtp_sasl_password_maps = hash:/etc/postern/sasl_passwd
    smtp_sasl_security_options = noanonymous
    sender_canonical_maps = regexp:/etc/postern/sender_canonical
"""
import email
import email.policy
import subprocess

import pytest

from conftest import POSTERN_BIN, binary_env
from upstream import (PASSWORD, UPSTREAM_WARNINGS, USER, password_map,  # noqa: F401
                      test_ca, upstream)

pytestmark = [pytest.mark.filterwarnings(w) for w in UPSTREAM_WARNINGS]

ACCOUNT = "relay-account@upstream.test"


def seed_config(p, up, ca):
    pw = password_map(p.base / "sasl_passwd", {f"[127.0.0.1]:{up.port}": f"{USER}:{PASSWORD}"})
    canon = p.base / "sender_canonical"
    canon.write_text(f"/.*/ {ACCOUNT}\n")
    canon.chmod(0o644)
    p.settings.update({
        "default_transport": "smtp",
        "relayhost": f"[127.0.0.1]:{up.port}",
        "smtp_tls_wrappermode": "yes",
        "smtp_sasl_auth_enable": "yes",
        "smtp_sasl_password_maps": f"hash:{pw}",
        "smtp_sasl_security_options": "noanonymous",
        "sender_canonical_maps": f"regexp:{canon}",
        # the test CA stands in for the public one the real upstream uses
        "smtp_tls_CAfile": ca.ca,
        "smtp_tls_security_level": "verify",
        "minimal_backoff_time": "1s",
        "maximal_backoff_time": "2s",
    })


def test_seed000_app_mail_reaches_upstream_rewritten(make_postern, upstream, test_ca):
    up = upstream(mode="implicit")
    p = make_postern(start=False)
    seed_config(p, up, test_ca)
    p.start()
    body = "告警：磁盘使用率 91%。\r\n详情见附件。\r\n".encode()
    msg = (b"From: Grafana <grafana@monitor.internal>\r\n"
           b"To: ops@customer.test\r\n"
           b"Subject: =?UTF-8?B?5ZGK6K2m?=\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
    qid = p.send("grafana@monitor.internal", ["ops@customer.test"], msg,
                 mail_options=["BODY=8BITMIME"])
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["tls"], "the upstream connection was not encrypted"
    assert m["login"] == USER
    assert m["mail_from"] == ACCOUNT
    assert m["rcpt_tos"] == ["ops@customer.test"]
    got = email.message_from_bytes(m["content"], policy=email.policy.default)
    assert got["From"] == f"Grafana <{ACCOUNT}>"
    assert got["Reply-To"] == "Grafana <grafana@monitor.internal>"
    assert m["content"].endswith(b"\r\n\r\n" + body)
    log = p.log()
    assert PASSWORD not in log
    assert "sender <grafana@monitor.internal> rewritten to <" + ACCOUNT + ">" in log
    assert "status=sent" in log


def test_seed000_config_checks_clean(make_postern, upstream, test_ca):
    up = upstream(mode="implicit", start=False)
    p = make_postern(start=False)
    seed_config(p, up, test_ca)
    p.write_config()
    r = subprocess.run([POSTERN_BIN, "check", "-c", str(p.config_path)], capture_output=True,
                       text=True, env=binary_env(), timeout=20)
    assert r.returncode == 0, r.stderr
    for name in ("relayhost", "smtp_tls_wrappermode", "smtp_sasl_auth_enable",
                 "smtp_sasl_password_maps", "sender_canonical_maps"):
        assert f"{name} = " in r.stdout
    # a world-readable password file is refused, naming the file
    (p.base / "sasl_passwd").chmod(0o644)
    r = subprocess.run([POSTERN_BIN, "check", "-c", str(p.config_path)], capture_output=True,
                       text=True, env=binary_env(), timeout=20)
    assert r.returncode == 1
    assert str(p.base / "sasl_passwd") in r.stderr and "chmod 600" in r.stderr
