"""Upstreams by SMTP AUTH login (smtpd_sasl_login_relayhost_maps): two apps,
`sentry` and `gitlab`, log in to postern's submission listener over TLS
with their internal accounts; each app's mail leaves through its own
upstream (a real aiosmtpd server with AUTH), logs in there with its own
upstream account (smtp_sasl_password_maps keyed by the login, with
smtp_sender_dependent_authentication = yes) and carries that account as
its sender (the seed's sender rewriting, to the chosen upstream's account,
with the app's From: kept as Reply-To:). Mail without AUTH from the trusted
network goes by sender_dependent_relayhost_maps, then relayhost. The login
lives in the queue file: it survives a SIGKILL and a restart, and a queue
file of the format before it (no x-sasl_username line) still delivers."""
import os
import re
import smtplib
import subprocess

import pytest

from conftest import POSTERN_BIN, binary_env, free_port
from test_auth import base, ok  # noqa: F401 (fixture)
from test_auth import postern as postern_cli
from test_relay import message, relay_settings
from test_tls_server import client_ctx, tls_files
from upstream import (PASSWORD, UPSTREAM_WARNINGS, USER, password_map,  # noqa: F401
                      test_ca, upstream)

pytestmark = [pytest.mark.filterwarnings(w) for w in UPSTREAM_WARNINGS]

RCPT = "boss@customer.test"
APPS = {"sentry": "sentry-pa55 word", "gitlab": "gitlab-pa55", "other": "other-pa55"}
ACCOUNTS = {"sentry": ("alerts@company.test", "pw-alerts-1"),
            "gitlab": ("git@company.test", "pw-git-2")}
APP_FROM = "noreply@apps.local"
SEED_ACCOUNT = "account@example.com"        # what sender_canonical_maps makes of it
OUTSIDER = ("127.0.0.2", 0)                 # outside mynetworks: relays only with AUTH


def hop(up):
    return f"[127.0.0.1]:{up.port}"


@pytest.fixture
def setup(make_postern, upstream, test_ca, base):  # noqa: F811
    """factory(start_sentry_up=True) -> (daemon, submission port, upstreams)."""
    def factory(start_sentry_up=True):
        ups = {
            "relayhost": upstream(mode="starttls"),
            "sentry": upstream(mode="starttls", start=start_sentry_up,
                               user=ACCOUNTS["sentry"][0], password=ACCOUNTS["sentry"][1]),
            "gitlab": upstream(mode="starttls", user=ACCOUNTS["gitlab"][0],
                               password=ACCOUNTS["gitlab"][1]),
            "ops": upstream(mode="starttls", user="ops@trusted.test", password="pw-ops-3"),
        }
        users = base / "users"
        for name, pw in APPS.items():
            ok(postern_cli(base, "passwd", "add", name, "-f", users, input=pw + "\n"))
        p = make_postern(start=False)
        login_relay = password_map(p.base / "login_relay", {
            "sentry": hop(ups["sentry"]),
            "gitlab": hop(ups["gitlab"]),
        })
        sender_relay = password_map(p.base / "sender_relay", {
            "ops@trusted.test": hop(ups["ops"]),
        })
        canonical = password_map(p.base / "canonical", {"@apps.local": SEED_ACCOUNT})
        pw = password_map(p.base / "sasl_passwd", {
            "sentry": ":".join(ACCOUNTS["sentry"]),
            "gitlab": ":".join(ACCOUNTS["gitlab"]),
            "ops@trusted.test": "ops@trusted.test:pw-ops-3",
            # found only if the login were not searched first
            hop(ups["sentry"]): "nobody@company.test:wrong-pw-9",
            hop(ups["relayhost"]): f"{USER}:{PASSWORD}",
        })
        cert, key = tls_files(p.base, test_ca)
        sub = free_port()
        p.settings.update(relay_settings(
            ups["relayhost"], test_ca, pw,
            listen=f"smtp://127.0.0.1:{p.port}, submission://127.0.0.1:{sub}",
            mynetworks="127.0.0.1/32",
            smtpd_tls_cert_file=str(cert), smtpd_tls_key_file=str(key),
            smtpd_sasl_auth_enable="yes", smtpd_sasl_users=str(users),
            smtpd_sasl_login_relayhost_maps=f"texthash:{login_relay}",
            sender_dependent_relayhost_maps=f"texthash:{sender_relay}",
            smtp_sender_dependent_authentication="yes",
            sender_canonical_maps=f"texthash:{canonical}"))
        p.start()
        return p, sub, ups
    return factory


def submit(sub_port, ca, login, sender=APP_FROM, subject="app mail"):
    """Log in as login over STARTTLS and send one message; its queue id."""
    with smtplib.SMTP("localhost", sub_port, timeout=10, source_address=OUTSIDER) as s:
        s.ehlo("app.example")
        s.starttls(context=client_ctx(ca))
        s.ehlo("app.example")
        assert s.login(login, APPS[login])[0] == 235
        s.mail(sender)
        assert s.rcpt(RCPT)[0] == 250
        code, resp = s.data(message(subject=subject, sender=sender))
        assert code == 250, resp
        return resp.decode().rsplit(" ", 1)[1]


def one_message(up, subject):
    got = [m for m in up.messages if f"Subject: {subject}\r\n".encode() in m["content"]]
    assert len(got) == 1, (subject, up.port, [m["mail_from"] for m in up.messages])
    return got[0]


def assert_account(m, account):
    """Out through account: the login there, the envelope sender and From:
    rewritten to it, the app's From: kept as Reply-To:."""
    assert m["login"] == account and m["mail_from"] == account, (m["login"], m["mail_from"])
    assert f"From: <{account}>\r\n".encode() in m["content"], m["content"][:600]
    assert f"Reply-To: <{APP_FROM}>\r\n".encode() in m["content"], m["content"][:600]


def test_each_app_login_through_its_upstream_and_account(setup, test_ca):
    p, sub, ups = setup()
    q_sentry = submit(sub, test_ca, "sentry", subject="from sentry")
    q_gitlab = submit(sub, test_ca, "gitlab", subject="from gitlab")
    q_other = submit(sub, test_ca, "other", subject="from other")   # no entry: by sender
    # without AUTH, from mynetworks: the sender map, then relayhost
    q_ops = p.send("ops@trusted.test", RCPT, message(subject="from ops", sender="ops@trusted.test"))
    q_cron = p.send("cron@host.test", RCPT, message(subject="from cron", sender="cron@host.test"))
    p.wait_removed([q_sentry, q_gitlab, q_other, q_ops, q_cron], timeout=20)

    assert_account(one_message(ups["sentry"], "from sentry"), ACCOUNTS["sentry"][0])
    assert_account(one_message(ups["gitlab"], "from gitlab"), ACCOUNTS["gitlab"][0])
    m = one_message(ups["relayhost"], "from other")
    assert m["login"] == USER and m["mail_from"] == SEED_ACCOUNT
    m = one_message(ups["ops"], "from ops")
    assert m["login"] == "ops@trusted.test" and m["mail_from"] == "ops@trusted.test"
    m = one_message(ups["relayhost"], "from cron")
    assert m["login"] == USER and m["mail_from"] == "cron@host.test"
    assert [len(u.messages) for u in ups.values()] == [2, 1, 1, 1]

    log = p.log()
    assert re.search(rf"{q_sentry}: client=unknown\[127\.0\.0\.2\], sasl_method=PLAIN, "
                     r"sasl_username=sentry$", log, re.M), log[-3000:]
    assert (f"{q_sentry}: sasl_username=sentry, relayhost={hop(ups['sentry'])}, "
            f"account={ACCOUNTS['sentry'][0]}") in log
    assert f"{q_gitlab}: sasl_username=gitlab, relayhost={hop(ups['gitlab'])}" in log
    assert f"{q_other}: sasl_username=other, relayhost" not in log
    for secret in ("pw-alerts-1", "pw-git-2", "pw-ops-3", "wrong-pw-9", PASSWORD,
                   *APPS.values()):
        assert secret not in log


def queue_show(p, qid):
    r = subprocess.run([POSTERN_BIN, "queue", "-c", str(p.config_path), "show", qid],
                       capture_output=True, text=True, env=binary_env(), timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_login_survives_sigkill_and_old_queue_files_still_deliver(setup, test_ca):
    """sentry's upstream is down: two messages wait in the queue. One file is
    made exactly what the version before logins wrote (its x-sasl_username
    line taken out). SIGKILL, the upstream comes up, restart: the kept
    login still chooses sentry's upstream and account; the old file reads
    as "no login" and goes by its sender (rewritten by sender_canonical_maps,
    out through relayhost)."""
    p, sub, ups = setup(start_sentry_up=False)
    q_new = submit(sub, test_ca, "sentry", subject="kept login")
    q_old = submit(sub, test_ca, "sentry", subject="old format")
    for q in (q_new, q_old):
        p.wait_log(rf"{q}: to=<{RCPT}>, .*status=deferred")
    p.kill()                                        # SIGKILL, the whole group

    show = queue_show(p, q_new)
    assert "\nsasl_username: sentry\n" in show, show
    path = p.queue_dir / "queue" / q_old
    data = path.read_bytes()
    line = b"x-sasl_username sentry\n"
    assert data.count(line) == 1 and data.index(line) < data.index(b"\ncontent\n")
    st = os.stat(path)
    path.write_bytes(data.replace(line, b"", 1))   # same owner and mode: rewritten in place
    assert (os.stat(path).st_uid, os.stat(path).st_mode) == (st.st_uid, st.st_mode)
    assert "sasl_username" not in queue_show(p, q_old)

    ups["sentry"].start()
    p.start()
    p.wait_removed([q_new, q_old], timeout=30)
    assert_account(one_message(ups["sentry"], "kept login"), ACCOUNTS["sentry"][0])
    m = one_message(ups["relayhost"], "old format")
    assert m["login"] == USER and m["mail_from"] == SEED_ACCOUNT
    assert len(ups["sentry"].messages) == 1 and len(ups["relayhost"].messages) == 1
    assert "corrupt queue file" not in p.log()
