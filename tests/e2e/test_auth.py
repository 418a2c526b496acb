"""AUTH accounts and backends from the command line: `postern passwd`
(the users file: password from a terminal without echo or from stdin,
yescrypt, mode and owner kept, edits serialised by a lock) and `postern
sasl check` (postern's testsaslauthd) against the three backends: a users
file with yescrypt, bcrypt (`htpasswd -B`) and sha512-crypt hashes, a real
saslauthd (sasldb, started here on a private socket directory) and a real
Dovecot (auth only, started here with its own configuration).

Needs sasl2-bin, dovecot-core and apache2-utils (`make test-deps`): a
missing program fails the test, it is never skipped."""

import fcntl
import os
import pathlib
import pwd
import select
import shutil
import signal
import subprocess
import termios
import time

import pytest

from conftest import (POSTERN_BIN, binary_env, daemon_base_dir, require_binary,
                      sanitizer_report)

EX_TEMPFAIL, EX_CONFIG, EX_USAGE = 75, 78, 64
TIMEOUT = 60
SBIN_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def need(program):
    path = shutil.which(program, path=SBIN_PATH)
    if not path:
        pytest.fail(f"{program} is not installed (make test-deps installs sasl2-bin, "
                    "dovecot-core and apache2-utils)", pytrace=False)
    return path


def wait_until(cond, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout}s: {what}", pytrace=False)
        time.sleep(0.02)


@pytest.fixture
def base(request):
    b = daemon_base_dir(request)
    yield b
    if not os.environ.get("POSTERN_E2E_KEEP"):
        shutil.rmtree(b, ignore_errors=True)


def postern_bin(base):
    """The binary, or a copy anyone may run (for the unprivileged runs)."""
    d = base / "bin"
    if not d.exists():
        require_binary()
        d.mkdir()
        os.chmod(d, 0o755)
        shutil.copy2(POSTERN_BIN, d / "postern")
        os.chmod(d / "postern", 0o755)
    return str(d / "postern")


def postern(base, *args, input=None, user=None):
    """Run postern; CompletedProcess with text output. A sanitizer report
    fails the test."""
    argv = [postern_bin(base)] + [str(a) for a in args]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    if isinstance(input, str):
        input = input.encode("utf-8")
    proc = subprocess.run(argv, input=input if input is not None else b"",
                          capture_output=True, timeout=TIMEOUT, env=binary_env(), cwd="/")
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    rep = sanitizer_report(err)
    assert rep is None, f"sanitizer report from {argv}:\n{rep}"
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def ok(r):
    assert r.returncode == 0, f"{r.args} -> {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def config(base, name="postern.cf", **settings):
    settings.setdefault("queue_directory", str(base / "q"))
    path = base / name
    path.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
    os.chmod(path, 0o644)
    return path


def users_lines(path):
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


# --------------------------------------------------------------------------
# postern passwd


def test_passwd_from_stdin(base):
    users = base / "users"
    r = ok(postern(base, "passwd", "add", "app1", "-f", users, input="first pass\n"))
    assert r.stdout == "app1: added\n"
    st = users.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o600, 0, 0)
    [line] = users_lines(users)
    name, hash_ = line.split(":", 1)
    assert name == "app1" and hash_.startswith("$y$"), line
    assert "first pass" not in users.read_text()
    # the first line only, CRLF tolerated
    ok(postern(base, "passwd", "add", "app2", "-f", users, input="second pass\r\nignored\n"))
    assert ok(postern(base, "passwd", "check", "app2", "-f", users,
                      input="second pass\n")).stdout == "app2: password ok\n"
    r = postern(base, "passwd", "check", "app2", "-f", users, input="second pass\r\n")
    assert r.returncode == 0
    r = postern(base, "passwd", "check", "app1", "-f", users, input="second pass\n")
    assert r.returncode == 1 and "app1: wrong password" in r.stderr
    r = postern(base, "passwd", "check", "nobody", "-f", users, input="x\n")
    assert r.returncode == 1 and "unknown user" in r.stderr
    # a new password replaces the line in place
    old = users.read_text()
    r = ok(postern(base, "passwd", "add", "app1", "-f", users, input="new pass\n"))
    assert r.stdout == "app1: password changed\n"
    assert users.read_text() != old and len(users_lines(users)) == 2
    ok(postern(base, "passwd", "check", "app1", "-f", users, input="new pass\n"))
    assert ok(postern(base, "passwd", "list", "-f", users)).stdout == "app1\napp2\n"
    assert ok(postern(base, "passwd", "del", "app1", "-f", users)).stdout == "app1: removed\n"
    assert ok(postern(base, "passwd", "list", "-f", users)).stdout == "app2\n"
    r = postern(base, "passwd", "del", "app1", "-f", users)
    assert r.returncode == 1 and "app1: no such user" in r.stderr


def test_passwd_refusals(base):
    users = base / "users"
    # never from argv: a password argument is a usage error
    r = postern(base, "passwd", "add", "app1", "secret", "-f", users, input="secret\n")
    assert r.returncode == EX_USAGE and not users.exists()
    for name, why in (("a:b", "':'"), ("a\tb", "control character"), ("", "empty"),
                      ("#x", "comment")):
        r = postern(base, "passwd", "add", name, "-f", users, input="pw\n")
        assert r.returncode != 0 and why in r.stderr, (name, r.stderr)
    r = postern(base, "passwd", "add", "app1", "-f", users, input="")
    assert r.returncode != 0 and "no password on stdin" in r.stderr
    r = postern(base, "passwd", "add", "app1", "-f", users, input="\n")
    assert r.returncode != 0 and "empty password" in r.stderr
    r = postern(base, "passwd", "add", "app1", "-f", users, input="x" * 256 + "\n")
    assert r.returncode != 0 and "longer than 255" in r.stderr
    assert not users.exists()
    # a symbolic link is not followed
    (base / "real").write_text("")
    os.symlink(base / "real", base / "link")
    r = postern(base, "passwd", "add", "app1", "-f", base / "link", input="pw\n")
    assert r.returncode != 0 and "symbolic link" in r.stderr
    assert (base / "real").read_text() == ""
    # an edit that would leave a file the daemon refuses writes nothing...
    users.write_text("app9:$apr1$abcdefgh$0123456789012345678901\n")
    os.chmod(users, 0o600)
    r = postern(base, "passwd", "add", "app1", "-f", users, input="pw\n")
    assert r.returncode != 0 and "users:1: app9: MD5-crypt" in r.stderr
    assert "nothing changed" in r.stderr
    # ...but setting that account's password again mends it
    ok(postern(base, "passwd", "add", "app9", "-f", users, input="pw\n"))
    assert users_lines(users)[0].startswith("app9:$y$")


def test_passwd_keeps_mode_owner_and_other_lines(base):
    users = base / "users"
    ok(postern(base, "passwd", "add", "app1", "-f", users, input="pw1\n"))
    text = "# apps of the billing team\n" + users.read_text() + "\n# end\n"
    users.write_text(text)
    pw = pwd.getpwnam("postern")
    os.chown(users, 0, pw.pw_gid)
    os.chmod(users, 0o640)
    ino = users.stat().st_ino
    r = ok(postern(base, "passwd", "add", "app2", "-f", users, input="pw2\n"))
    assert f"warning: {users} is mode 0640: the daemon refuses" in r.stderr
    st = users.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o640, 0, pw.pw_gid)
    assert st.st_ino != ino, "not replaced by rename"
    new = users.read_text()
    assert new.startswith(text), new
    assert new[len(text):].startswith("app2:$y$")
    assert not [p for p in base.iterdir() if ".tmp" in p.name], list(base.iterdir())


def test_passwd_from_a_terminal(base):
    """Prompts on stderr, no echo, typed twice; ^C gives the terminal back."""
    import pty  # noqa: F401 (os.openpty is enough, pty documents the intent)
    users = base / "users"

    def session(lines):
        master, slave = os.openpty()
        proc = subprocess.Popen([postern_bin(base), "passwd", "add", "app1", "-f", str(users)],
                                stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=binary_env(), start_new_session=True)
        err = b""
        efd = proc.stderr.fileno()

        def stderr_has(text):
            nonlocal err
            while select.select([efd], [], [], 0)[0]:
                chunk = os.read(efd, 4096)
                if not chunk:
                    break
                err += chunk
            return text in err

        def echo_off():
            return not termios.tcgetattr(slave)[3] & termios.ECHO

        for prompt, line in lines:
            wait_until(lambda: stderr_has(prompt), f"prompt {prompt!r}")
            # the prompt is written just before echo goes off: write only then,
            # or the terminal's flush would eat the line
            wait_until(echo_off, "echo off")
            os.write(master, line)
            wait_until(lambda: stderr_has(prompt + b"\n") or proc.poll() is not None,
                       "the line taken")
        out, rest = proc.communicate(timeout=TIMEOUT)
        err += rest
        echoed = b""
        while select.select([master], [], [], 0)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            echoed += chunk
        restored = termios.tcgetattr(slave)[3]
        os.close(master)
        os.close(slave)
        assert sanitizer_report(err.decode("utf-8", "replace")) is None, err
        return proc.returncode, out.decode(), err.decode(), echoed, restored

    rc, out, err, echoed, lflag = session([(b"New password: ", b"tty pass\n"),
                                           (b"Retype new password: ", b"tty pass\n")])
    assert rc == 0, err
    assert out == "app1: added\n"
    assert b"tty pass" not in echoed
    assert lflag & termios.ECHO and lflag & termios.ISIG
    ok(postern(base, "passwd", "check", "app1", "-f", users, input="tty pass\n"))

    before = users.read_text()
    rc, out, err, echoed, lflag = session([(b"New password: ", b"one\n"),
                                           (b"Retype new password: ", b"two\n")])
    assert rc != 0 and "the passwords differ; nothing changed" in err
    assert users.read_text() == before

    rc, out, err, echoed, lflag = session([(b"New password: ", b"half\x03")])
    assert rc != 0 and "cancelled" in err
    assert lflag & termios.ECHO and lflag & termios.ISIG
    assert users.read_text() == before


def test_passwd_concurrent_edits(base):
    """Edits at the same time are applied one after the other: none lost."""
    users = base / "users"
    n = 12
    procs = [subprocess.Popen([postern_bin(base), "passwd", "add", f"app{i}", "-f", str(users)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=binary_env())
             for i in range(n)]
    for i, p in enumerate(procs):
        p.stdin.write(f"pass {i}\n".encode())
        p.stdin.close()
    for p in procs:
        assert p.wait(timeout=TIMEOUT) == 0, p.stderr.read()
        p.stdout.close()
        p.stderr.close()
    names = ok(postern(base, "passwd", "list", "-f", users)).stdout.split()
    assert sorted(names) == sorted(f"app{i}" for i in range(n))
    ok(postern(base, "passwd", "check", "app7", "-f", users, input="pass 7\n"))
    assert (users.stat().st_mode & 0o7777) == 0o600


def blocked_on_flock(pid):
    with open("/proc/locks") as f:
        return any("->" in line and "FLOCK" in line and f" {pid} " in line for line in f)


def test_passwd_waits_for_the_lock_and_rereads(base):
    """An edit waits for the lock, and if the file was replaced meanwhile
    (another editor's rename), it edits the new file, not the old one."""
    users = base / "users"
    ok(postern(base, "passwd", "add", "app0", "-f", users, input="pw0\n"))
    holder = os.open(users, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    proc = subprocess.Popen([postern_bin(base), "passwd", "add", "app1", "-f", str(users)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=binary_env())
    proc.stdin.write(b"pw1\n")
    proc.stdin.close()
    try:
        wait_until(lambda: blocked_on_flock(proc.pid), "passwd blocked on the lock")
        assert proc.poll() is None
        # another editor replaces the file while we hold the old one's lock
        tmp = base / "users.other"
        tmp.write_text(users.read_text() + users.read_text().replace("app0:", "manual:"))
        os.chmod(tmp, 0o600)
        os.rename(tmp, users)
    finally:
        os.close(holder)
    assert proc.wait(timeout=TIMEOUT) == 0, proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert ok(postern(base, "passwd", "list", "-f", users)).stdout == "app0\nmanual\napp1\n"


# --------------------------------------------------------------------------
# postern sasl check: the users file


def test_sasl_check_users_file(base):
    htpasswd = need("htpasswd")
    users = base / "users"
    ok(postern(base, "passwd", "add", "app1", "-f", users, input="yes pass\n"))
    bcrypt = subprocess.run([htpasswd, "-niB", "app2"], input=b"bcrypt pass\n",
                            capture_output=True, check=True).stdout.decode().strip()
    assert bcrypt.startswith("app2:$2y$"), bcrypt
    sha = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=b"sha pass\n",
                         capture_output=True, check=True).stdout.decode().strip()
    with open(users, "a") as f:
        f.write(f"{bcrypt}\napp3:{sha}\napp4:{sha}:disabled\n")
    cfg = config(base, smtpd_sasl_auth_enable="yes", smtpd_sasl_users=users)
    ok(postern(base, "check", "-c", cfg))
    for name, pw in (("app1", "yes pass"), ("app2", "bcrypt pass"), ("app3", "sha pass")):
        r = postern(base, "sasl", "check", "-c", cfg, name, input=pw + "\n")
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"{name}: authentication succeeded (postern, {users})\n"
        r = postern(base, "sasl", "check", "-c", cfg, name, input=pw + "!\n")
        assert r.returncode == 1 and "authentication failed" in r.stderr
        assert "wrong password" in r.stderr
    r = postern(base, "sasl", "check", "-c", cfg, "app4", input="sha pass\n")
    assert r.returncode == 1 and "account disabled" in r.stderr
    r = postern(base, "sasl", "check", "-c", cfg, "nobody", input="sha pass\n")
    assert r.returncode == 1 and "unknown user" in r.stderr
    # the daemon's rules: a hash file others can read is refused
    os.chmod(users, 0o644)
    r = postern(base, "sasl", "check", "-c", cfg, "app1", input="yes pass\n")
    assert r.returncode == EX_CONFIG and f"chmod 600 {users}" in r.stderr
    r = postern(base, "check", "-c", cfg)
    assert r.returncode == 1 and f"chmod 600 {users}" in r.stderr
    os.chmod(users, 0o600)
    # htpasswd's default (MD5) is refused with the way out, by line
    md5 = subprocess.run([htpasswd, "-nim", "app5"], input=b"md5 pass\n",
                         capture_output=True, check=True).stdout.decode().strip()
    with open(users, "a") as f:
        f.write(md5 + "\n")
    r = postern(base, "check", "-c", cfg)
    assert r.returncode == 1
    assert f"{users}:5: app5: MD5-crypt ($apr1$, htpasswd's default, or $1$) is too weak" \
        in r.stderr
    assert md5.split(":", 1)[1] not in r.stderr


# --------------------------------------------------------------------------
# postern sasl check: a real saslauthd


@pytest.fixture
def saslauthd(base):
    """saslauthd -a sasldb in the foreground on a private socket directory.
    saslauthd reads /etc/sasldb2 only: it runs in a mount namespace of its
    own where the test's database is bound over that path, so the system's
    file is never touched."""
    prog = need("saslauthd")
    saslpasswd2 = need("saslpasswd2")
    need("unshare")
    if not os.path.exists("/etc/sasldb2"):
        pytest.fail("/etc/sasldb2 is missing (sasl2-bin creates it)", pytrace=False)
    db = base / "sasldb2"
    subprocess.run([saslpasswd2, "-p", "-c", "-f", str(db), "-u", "example.com", "app1"],
                   input=b"sasl pass\n", check=True, timeout=TIMEOUT)
    sockdir = base / "saslauthd"
    sockdir.mkdir()
    os.chmod(sockdir, 0o755)
    log = open(base / "saslauthd.log", "wb")
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount --bind "$0" /etc/sasldb2 && exec "$1" -a sasldb -m "$2" -d -n 0',
         str(db), prog, str(sockdir)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)     # on SIGTERM it signals its whole process group
    mux = sockdir / "mux"
    try:
        wait_until(lambda: mux.is_socket() or proc.poll() is not None, "saslauthd's socket")
        assert proc.poll() is None, (base / "saslauthd.log").read_text()
        yield mux
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_sasl_check_saslauthd(base, saslauthd):
    mux = saslauthd
    cfg = config(base, smtpd_sasl_auth_enable="yes", smtpd_sasl_type="saslauthd",
                 smtpd_sasl_path=mux)
    ok(postern(base, "check", "-c", cfg))
    r = postern(base, "sasl", "check", "-c", cfg, "app1@example.com", input="sasl pass\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"app1@example.com: authentication succeeded (saslauthd, {mux})\n"
    r = postern(base, "sasl", "check", "-c", cfg, "app1@example.com", input="wrong\n")
    assert r.returncode == 1 and "saslauthd: NO" in r.stderr
    # the realm is part of the account in sasldb
    r = postern(base, "sasl", "check", "-c", cfg, "app1", input="sasl pass\n")
    assert r.returncode == 1
    log = (base / "saslauthd.log").read_text()
    assert "[user=app1] [service=smtp] [realm=example.com]" in log, log
    assert "sasl pass" not in log

    # seed 001, pitfall 1: postern looks where saslauthd does not listen
    other = config(base, "other.cf", smtpd_sasl_auth_enable="yes",
                   smtpd_sasl_type="saslauthd", smtpd_sasl_path=base / "run" / "mux")
    r = postern(base, "sasl", "check", "-c", other, "app1@example.com", input="sasl pass\n")
    assert r.returncode == EX_TEMPFAIL
    assert f"cannot connect to saslauthd server at {base}/run/mux: No such file or " \
           "directory; is saslauthd running, with this socket directory?" in r.stderr
    assert "saslauthd -m DIR listens on DIR/mux" in r.stderr

    # seed 001, pitfall 2: the daemon's user may not enter the socket directory
    os.chmod(mux.parent, 0o750)
    try:
        r = postern(base, "sasl", "check", "-c", cfg, "app1@example.com",
                    input="sasl pass\n", user="postern")
    finally:
        os.chmod(mux.parent, 0o755)
    assert r.returncode == EX_TEMPFAIL, r.stderr
    assert f"cannot connect to saslauthd server at {mux}: Permission denied; the daemon " \
           "runs as postern" in r.stderr
    assert "adduser postern sasl" in r.stderr
    # and once it may, it works as that user too
    r = postern(base, "sasl", "check", "-c", cfg, "app1@example.com", input="sasl pass\n",
                user="postern")
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------
# postern sasl check: a real Dovecot


@pytest.fixture
def dovecot(base):
    """Dovecot with no mail protocols: its auth service alone, a
    passwd-file, and a client listener where Postfix's private/auth would
    be (queue_directory/private/auth)."""
    prog = need("dovecot")
    d = base / "dovecot"
    (d / "base").mkdir(parents=True)
    (d / "state").mkdir()
    private = base / "q" / "private"
    private.mkdir(parents=True)
    sha = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=b"dove pass\n",
                         capture_output=True, check=True).stdout.decode().strip()
    (d / "users").write_text(f"app1@example.com:{{SHA512-CRYPT}}{sha}\n")
    conf = d / "dovecot.conf"
    conf.write_text(f"""
protocols =
base_dir = {d}/base
state_dir = {d}/state
instance_name = postern-e2e-{os.getpid()}
log_path = {d}/dovecot.log
ssl = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener {private}/auth {{
    mode = 0660
    user = postern
  }}
}}
""")
    err = open(d / "stderr", "wb")
    proc = subprocess.Popen([prog, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    sock = private / "auth"
    try:
        wait_until(lambda: sock.is_socket() or proc.poll() is not None, "Dovecot's auth socket")
        assert proc.poll() is None, (d / "stderr").read_text()
        yield sock
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()


def test_sasl_check_dovecot(base, dovecot):
    cfg = config(base, smtpd_sasl_auth_enable="yes", smtpd_sasl_type="dovecot",
                 smtpd_sasl_path="private/auth")
    ok(postern(base, "check", "-c", cfg))
    r = postern(base, "sasl", "check", "-c", cfg, "app1@example.com", input="dove pass\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"app1@example.com: authentication succeeded (dovecot, {dovecot})\n"
    # as the daemon's user, who owns the listener
    r = postern(base, "sasl", "check", "-c", cfg, "app1@example.com", input="dove pass\n",
                user="postern")
    assert r.returncode == 0, r.stderr
    # refusals last: Dovecot delays every later request after one (its auth penalty)
    r = postern(base, "sasl", "check", "-c", cfg, "app1@example.com", input="dove pass.\n")
    assert r.returncode == 1 and "dovecot: authentication failed" in r.stderr
    log = (base / "dovecot" / "dovecot.log").read_text()
    assert "dove pass" not in log
    # a socket that is not there
    other = config(base, "other.cf", smtpd_sasl_auth_enable="yes", smtpd_sasl_type="dovecot")
    os.unlink(dovecot)
    r = postern(base, "sasl", "check", "-c", other, "app1@example.com", input="dove pass\n")
    assert r.returncode == EX_TEMPFAIL
    assert f"cannot connect to Dovecot auth socket at {dovecot}: No such file or directory; " \
           "Dovecot must listen there" in r.stderr
