"""A Postfix main.cf ports as written (issue 17): Postfix names postern
ignores warn (one line each, exit 0), the ones it maps are translated and
say so, the ones whose omission would weaken security or lose mail are
refused; a master.cf beside the main.cf gives the listeners; `postern check
--postfix DIR` prints the equivalent postern configuration.

The configurations are in tests/postfix/ (see its README): seed 001's
main.cf, Debian's stock main.cf and master.cf, and a typical relay. Each test
copies one to a temporary directory and points its host-specific paths
(/etc/mailname, certificates, tables) at files it makes there."""
import pathlib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import POSTERN_BIN, binary_env, free_port, require_binary, run_check, \
    sanitizer_report, wait_until
from upstream import test_ca  # noqa: F401

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "postfix"

# what a message that is not an error looks like
NOTE = re.compile(r"^postern: \S+?(:\d+)?: (warning: .*; ignored|.*: mapped to .*|"
                  r".*: the addresses of .*|default_transport = smtp: Postfix's default .*)$")


def copy_dir(name, dest, subst=None):
    """tests/postfix/NAME into dest, with the replacements of subst
    (old -> new) in its .cf files."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in (FIXTURES / name).iterdir():
        text = f.read_text(encoding="utf-8")
        if f.suffix == ".cf":
            for old, new in (subst or {}).items():
                text = text.replace(old, new)
        (dest / f.name).write_text(text, encoding="utf-8")
    return dest


def errors_and_notes(stderr):
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    notes = [ln for ln in lines if NOTE.match(ln)]
    errors = [ln for ln in lines if not NOTE.match(ln)]
    return errors, notes


def check_postfix(d):
    require_binary()
    proc = subprocess.run([POSTERN_BIN, "check", "--postfix", str(d)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=20,
                          env=binary_env(), text=True)
    rep = sanitizer_report(proc.stderr)
    assert rep is None, rep
    return proc


def tls_pair(d, ca):
    cert, key = d / "cert.pem", d / "key.pem"
    shutil.copyfile(ca.cert, cert)
    shutil.copyfile(ca.key, key)
    cert.chmod(0o644)
    key.chmod(0o600)
    return cert, key


# --------------------------------------------------------------------------
# seed 001


SEED001_IGNORED = ["biff", "append_dot_mydomain", "readme_directory", "mailbox_size_limit",
                   "initial_destination_concurrency", "local_destination_concurrency_limit",
                   "qmgr_message_recipient_limit", "qmgr_message_active_limit",
                   "duplicate_filter_limit", "command_time_limit", "deliver_lock_attempts",
                   "deliver_lock_delay", "fork_attempts", "fork_delay", "transport_retry_time",
                   "smtpd_sasl_local_domain"]


def test_seed001_main_cf_warnings_only(tmp_path):
    d = copy_dir("seed001", tmp_path / "postfix")
    r = run_check(d / "main.cf")
    errors, notes = errors_and_notes(r.stderr)
    # Its DNS restrictions (reject_unknown_client, reject_rbl_client,
    # reject_rhsbl_client, reject_unknown_sender_domain) exist; the one error
    # left is postern's refusal of an open mynetworks (0.0.0.0/0), which
    # would make any client a trusted one.
    assert r.returncode == 1
    assert len(errors) == 1 and re.match(
        r'postern: \S+main.cf:22: mynetworks entry "0.0.0.0/0" trusts a large part of the '
        r"Internet", errors[0]), r.stderr
    # one warning line each, in the order of the lines
    ignored = [re.match(r"postern: \S+main.cf:(\d+): warning: (\w+): ", n) for n in notes]
    ignored = [(int(m.group(1)), m.group(2)) for m in ignored if m]
    assert [name for _, name in ignored] == SEED001_IGNORED
    assert [line for line, _ in ignored] == sorted(line for line, _ in ignored)
    assert any(n.endswith("main.cf:10: warning: biff: postern has no local mailboxes to "
                          "notify; ignored") for n in notes)
    assert any(n.endswith("main.cf:26: inet_interfaces = all: mapped to listen = "
                          "smtp://0.0.0.0:25 smtp://[::]:25") for n in notes)
    assert any(n.endswith("main.cf:47: default_process_limit = 300: mapped to "
                          "smtpd_max_connections = 300") for n in notes)
    assert any("smtpd_sasl_type = cyrus (Postfix's default): mapped to smtpd_sasl_type = "
               "saslauthd" in n for n in notes)

    # the author's own networks instead: warnings only, exit 0
    text = (d / "main.cf").read_text().replace("mynetworks = 0.0.0.0/0,", "mynetworks = ")
    (d / "main.cf").write_text(text)
    r = run_check(d / "main.cf")
    errors, notes = errors_and_notes(r.stderr)
    assert r.returncode == 0 and errors == [], r.stderr
    assert len(notes) == len(SEED001_IGNORED) + 4   # + listen, connections, sasl, transport


def test_serve_logs_the_same_warnings(make_postern):
    p = make_postern(start=False, biff="no", qmgr_message_active_limit="20000",
                     append_dot_mydomain="no", content_filter="")
    p.start()
    p.wait_log(r"postern\.cf:\d+: warning: biff: postern has no local mailboxes to notify; "
               r"ignored")
    p.wait_log(r"postern\.cf:\d+: warning: qmgr_message_active_limit: Postfix tuning postern "
               r"does not need; ignored")
    p.wait_log(r"postern\.cf:\d+: warning: content_filter: empty, asks for nothing; ignored")
    # and it works: a message is accepted and captured
    msg = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\n\r\nhi\r\n"
    p.send("a@example.com", ["postmaster@" + p.hostname], msg)


def test_refused_lines_are_errors_naming_the_fix(tmp_path):
    cf = tmp_path / "main.cf"
    cf.write_text("biff = no\n"
                  "content_filter = amavis:[127.0.0.1]:10024\n"
                  "fork_attempts = 5\n"
                  "smtpd_milters = inet:localhost:8891\n"
                  "smtpd_timeout = lots\n")
    r = run_check(cf)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    # every message, each line's in the order of the lines
    got = [int(re.match(r"postern: \S+main.cf:(\d+):", ln).group(1)) for ln in lines
           if re.match(r"postern: \S+main.cf:\d+:", ln)]
    assert got == [1, 2, 3, 4, 5], r.stderr
    assert any('"content_filter" is a Postfix parameter that postern does not implement: '
               "content filters are not implemented" in ln for ln in lines)
    assert any('"smtpd_milters" is a Postfix parameter' in ln and "milters are not implemented"
               in ln for ln in lines)


def test_check_d_shows_the_class():
    require_binary()
    r = subprocess.run([POSTERN_BIN, "check", "-d"], capture_output=True, text=True,
                       env=binary_env(), timeout=20)
    assert r.returncode == 0
    cls = {ln.split()[0]: ln.split()[1] for ln in r.stdout.splitlines() if ln.strip()}
    assert cls["relayhost"] == "implemented"
    assert cls["inet_interfaces"] == "mapped"
    assert cls["biff"] == "ignored"
    assert cls["qmgr_*"] == "ignored"
    assert cls["content_filter"] == "refused"


# --------------------------------------------------------------------------
# Debian's stock configuration


def test_debian_stock_main_cf_and_master_cf(tmp_path, test_ca):  # noqa: F811
    d = tmp_path / "postfix"
    d.mkdir()
    cert, key = tls_pair(tmp_path, test_ca)
    (tmp_path / "mailname").write_text("mail.example.org\n")
    copy_dir("debian", d, {"/etc/mailname": str(tmp_path / "mailname"),
                           "/etc/ssl/certs/ssl-cert-snakeoil.pem": str(cert),
                           "/etc/ssl/private/ssl-cert-snakeoil.key": str(key)})
    r = run_check(d / "main.cf")
    errors, notes = errors_and_notes(r.stderr)
    assert r.returncode == 0 and errors == [], r.stderr
    for name in ("biff", "append_dot_mydomain", "readme_directory", "compatibility_level",
                 "smtp_tls_CApath", "smtp_tls_session_cache_database", "alias_maps",
                 "alias_database", "mailbox_size_limit", "recipient_delimiter"):
        assert any(re.search(rf"main.cf:\d+: warning: {name}: ", n) for n in notes), name
    # master.cf's one smtpd service on inet_interfaces = all, inet_protocols = all
    assert "listen = smtp://0.0.0.0:25 smtp://[::]:25\n" in r.stdout
    assert "myorigin = mail.example.org\n" in r.stdout
    assert "default_transport = smtp\n" in r.stdout

    # the admin turns on the commented-out submission and submissions
    # services of the stock master.cf: three listeners on each address
    lines = (d / "master.cf").read_text().splitlines(keepends=True)
    on = [ln[1:] if re.match(r"#(submissions?\s+inet|  -o )", ln) and i < 52 else ln
          for i, ln in enumerate(lines)]
    assert sum(a != b for a, b in zip(lines, on)) == 2 + 11 + 10
    (d / "master.cf").write_text("".join(on))
    r = run_check(d / "main.cf")
    errors, notes = errors_and_notes(r.stderr)
    assert r.returncode == 0 and errors == [], r.stderr
    listen = re.search(r"^listen = (.*)$", r.stdout, re.M).group(1).split()
    sub = ("?smtpd_tls_security_level=encrypt&smtpd_sasl_auth_enable=yes&smtpd_tls_auth_only="
           "yes&smtpd_reject_unlisted_recipient=no&smtpd_recipient_restrictions="
           "permit_sasl_authenticated+reject")
    subs = ("?smtpd_sasl_auth_enable=yes&smtpd_reject_unlisted_recipient=no&"
            "smtpd_recipient_restrictions=permit_sasl_authenticated+reject")
    assert listen == ["smtp://0.0.0.0:25", "smtp://[::]:25",
                      "submission://0.0.0.0:587" + sub, "submission://[::]:587" + sub,
                      "submissions://0.0.0.0:465" + subs, "submissions://[::]:465" + subs]
    assert "smtpd_sasl_type = saslauthd\n" in r.stdout

    # and its --postfix output is a postern configuration without warnings
    out = check_postfix(d)
    assert out.returncode == 0, out.stderr
    (tmp_path / "postern.cf").write_text(out.stdout)
    r = run_check(tmp_path / "postern.cf")
    assert r.returncode == 0 and r.stderr == "", r.stderr


# --------------------------------------------------------------------------
# a typical relay, its master.cf, --postfix


def relay_dir(tmp_path, ca):
    d = tmp_path / "postfix"
    d.mkdir()
    cert, key = tls_pair(tmp_path, ca)
    copy_dir("relay", d, {"/etc/postfix/cert.pem": str(cert),
                          "/etc/postfix/key.pem": str(key),
                          "/etc/postfix/": str(d) + "/"})
    (d / "sasl_passwd").chmod(0o600)
    return d


def test_relay_main_cf_with_master_cf_has_three_listeners(tmp_path, test_ca):  # noqa: F811
    d = relay_dir(tmp_path, test_ca)
    r = run_check(d / "main.cf")
    errors, notes = errors_and_notes(r.stderr)
    assert r.returncode == 0 and errors == [], r.stderr
    listen = re.search(r"^listen = (.*)$", r.stdout, re.M).group(1).split()
    assert listen == [
        "smtp://127.0.0.1:25",
        # $mua_relay_restrictions: expanded in the listener's own load
        "submission://127.0.0.1:587?smtpd_tls_security_level=encrypt&smtpd_sasl_auth_enable="
        "yes&smtpd_tls_auth_only=yes&smtpd_relay_restrictions=$$mua_relay_restrictions",
        "submissions://127.0.0.1:465?smtpd_sasl_auth_enable=yes&smtpd_relay_restrictions="
        "permit_sasl_authenticated+reject",
    ]
    assert any(re.search(r"master.cf:6: submission inet smtpd: mapped to listen", n)
               for n in notes)
    assert any("smtpd_sasl_path = private/auth: mapped to smtpd_sasl_path = "
               "/var/spool/postfix/private/auth" in n for n in notes)


def greeting(port, ctx=None):
    """The first bytes the server sends on port (through TLS with ctx)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        if ctx is None:
            return raw.recv(512)
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.recv(512)


def test_master_cf_services_listen(make_postern, test_ca):  # noqa: F811
    """postern serve -c main.cf with a master.cf beside it listens on its
    services: plain SMTP, implicit TLS (smtpd_tls_wrappermode), and one whose
    relay restrictions are main.cf's user-defined $mua_relay_restrictions."""
    p = make_postern(start=False)       # its directories, readable by mail_owner
    cert, key = tls_pair(p.base, test_ca)
    d = p.base / "postfix"
    d.mkdir()
    ports = [free_port() for _ in range(3)]
    (d / "main.cf").write_text(
        "biff = no\n"
        "inet_interfaces = loopback-only\ninet_protocols = ipv4\n"
        f"queue_directory = {p.queue_dir}\ncapture_directory = {p.mail_dir}\n"
        "default_transport = capture\nmyhostname = relay.example.com\n"
        "dns_servers = 127.0.0.1:1\nsmtpd_peername_lookup = no\n"
        "mynetworks = 127.0.0.0/8\n"
        "mua_relay_restrictions = reject\n"
        f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n")
    (d / "master.cf").write_text(
        f"{ports[0]} inet n - y - - smtpd\n"
        f"{ports[1]} inet n - y - - smtpd\n  -o smtpd_tls_wrappermode=yes\n"
        f"{ports[2]} inet n - y - - smtpd\n  -o syslog_name=postfix/submission\n"
        "  -o smtpd_relay_restrictions=$mua_relay_restrictions\n"
        "pickup unix n - y 60 1 pickup\n")
    require_binary()
    log = p.base / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([POSTERN_BIN, "serve", "-c", str(d / "main.cf")],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                env=binary_env(), start_new_session=True)
    cctx = ssl.create_default_context(cafile=test_ca.ca)
    try:
        def serving():
            try:
                return greeting(ports[0]).startswith(b"220 ")
            except OSError:
                return False
        wait_until(serving, "the first listener's greeting")
        text = log.read_text(errors="replace")
        assert f"listening on smtp://127.0.0.1:{ports[0]}\n" in text
        assert f"listening on submissions://127.0.0.1:{ports[1]}\n" in text
        assert (f"listening on smtp://127.0.0.1:{ports[2]}?smtpd_relay_restrictions="
                "$mua_relay_restrictions\n" in text)
        assert re.search(r"main\.cf:1: warning: biff: ", text)
        # the implicit-TLS one speaks TLS first
        assert greeting(ports[1], cctx).startswith(b"220 ")
        # main.cf's relay restrictions (permit_mynetworks first) on the first,
        # $mua_relay_restrictions (reject) on the third
        for port, want in ((ports[0], 250), (ports[2], 554)):
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                c.ehlo("client.example.com")
                c.mail("app@relay.example.com")
                code, _ = c.rcpt("someone@elsewhere.example")
                assert code == want, (port, code)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    rep = sanitizer_report(log.read_text(errors="replace"))
    assert rep is None, rep


def test_postfix_output_is_a_config_check_accepts_without_warnings(tmp_path,
                                                                   test_ca):  # noqa: F811
    d = relay_dir(tmp_path, test_ca)
    r = check_postfix(d)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    # a comment for each mapped or ignored line, then the settings
    assert re.search(r"^#   \S+main.cf:\d+: warning: biff: ", out, re.M)
    assert re.search(r"^#   \S+master.cf:6: submission inet smtpd: mapped to listen", out, re.M)
    assert "\nlisten = smtp://127.0.0.1:25 submission://127.0.0.1:587?" in out
    assert "\nsmtpd_sasl_path = /var/spool/postfix/private/auth\n" in out
    # the user-defined parameter master.cf refers to
    assert "\nmua_relay_restrictions = permit_sasl_authenticated, reject\n" in out
    for name in ("biff", "inet_interfaces", "alias_maps", "compatibility_level"):
        assert not re.search(rf"^{name}\s*=", out, re.M), name
    cf = tmp_path / "postern.cf"
    cf.write_text(out)
    r = run_check(cf)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_postfix_hash_table_source_missing_only_db(tmp_path, test_ca):  # noqa: F811
    d = relay_dir(tmp_path, test_ca)
    (d / "sender_canonical").rename(d / "sender_canonical.db")
    r = check_postfix(d)
    assert r.returncode == 1 and r.stdout == ""
    assert (f"{d}/sender_canonical: no such file, only {d}/sender_canonical.db: postern "
            "reads the text file that postmap was run on") in r.stderr
