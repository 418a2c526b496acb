"""Packaging: `make install` (layout, a kept postern.cf, another mail
system's sendmail left alone), the manual pages (postern.cf(5) generated
from the parameter table) rendered by groff and man without a warning, and
the systemd unit: `systemd-analyze verify` and `security --offline`, and
its capability bounding set shown to be enough -- and each capability in it
needed -- by running the unit's command line under that set, with the file
system read-only but for the spool (ProtectSystem=strict, approximated with
a mount namespace: systemd is not PID 1 here, so the unit itself, its
seccomp filter included, is only run by `make test-container`)."""
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import smtplib
import subprocess

import pytest

from conftest import POSTERN_BIN, binary_env, require_binary, wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]
UNIT = ROOT / "docs" / "postern.service"


def unit_settings(key):
    """Every value of key= in the unit, in order."""
    return [line.split("=", 1)[1].strip() for line in UNIT.read_text().splitlines()
            if line.startswith(key + "=")]


def make_install(dest, *args):
    r = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "install",
                        f"DESTDIR={dest}", *args],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def link_target(path):
    assert path.is_symlink(), f"{path} is not a link"
    return os.readlink(path)


# -- make install -------------------------------------------------------------

def test_install_debian_layout(tmp_path):
    d = tmp_path / "root"
    out = make_install(d, "PREFIX=/usr")
    assert (d / "usr/sbin/postern").stat().st_mode & 0o777 == 0o755
    assert link_target(d / "usr/sbin/sendmail") == "postern"
    assert link_target(d / "usr/bin/mailq") == "../sbin/postern"
    assert (d / "usr/share/man/man8/postern.8").is_file()
    assert (d / "usr/share/man/man5/postern.cf.5").is_file()
    assert (d / "var/spool/postern").stat().st_mode & 0o777 == 0o700
    # the sample's capture_directory: ProtectSystem=strict keeps the daemon
    # from making it in /var/mail
    assert (d / "var/mail/postern").stat().st_mode & 0o777 == 0o700
    conf = d / "etc/postern/postern.cf"
    assert conf.read_text() == (ROOT / "docs/postern.cf.sample").read_text()
    unit = (d / "usr/lib/systemd/system/postern.service").read_text()
    assert "ExecStart=/usr/sbin/postern serve -c /etc/postern/postern.cf\n" in unit
    assert "user" in out and "add-mail-owner" in out  # DESTDIR: nothing done to this box

    # an admin's postern.cf survives a second install
    conf.write_text("myhostname = mine.example\n")
    out = make_install(d, "PREFIX=/usr")
    assert conf.read_text() == "myhostname = mine.example\n"
    assert "keeping" in out


def test_install_default_prefix_is_usr_local(tmp_path):
    d = tmp_path / "root"
    make_install(d)
    assert (d / "usr/local/sbin/postern").is_file()
    assert link_target(d / "usr/local/sbin/sendmail") == "postern"
    assert link_target(d / "usr/local/bin/mailq") == "../sbin/postern"
    unit = (d / "usr/local/lib/systemd/system/postern.service").read_text()
    assert "ExecStart=/usr/local/sbin/postern serve" in unit
    # /usr/local/lib/systemd/system is on systemd's unit path


def test_install_leaves_another_mta_alone(tmp_path):
    """A box with Postfix keeps its /usr/sbin/sendmail and /usr/bin/mailq,
    and gets no /usr/local/sbin/sendmail in front of them on PATH either;
    INSTALL_SENDMAIL=yes replaces them, =no never links."""
    d = tmp_path / "root"
    for rel in ("usr/sbin/sendmail", "usr/bin/mailq"):
        (d / rel).parent.mkdir(parents=True)
        (d / rel).write_text("#!/bin/sh\necho postfix\n")
    out = make_install(d)
    assert not (d / "usr/local/sbin/sendmail").exists()
    assert not (d / "usr/local/bin/mailq").exists()
    out = make_install(d, "PREFIX=/usr")
    for rel in ("usr/sbin/sendmail", "usr/bin/mailq"):
        assert (d / rel).read_text() == "#!/bin/sh\necho postfix\n", rel
    assert "not replaced; INSTALL_SENDMAIL=yes" in out

    make_install(d, "PREFIX=/usr", "INSTALL_SENDMAIL=yes")
    assert link_target(d / "usr/sbin/sendmail") == "postern"
    assert link_target(d / "usr/bin/mailq") == "../sbin/postern"
    # and a later plain install keeps postern's own links
    make_install(d, "PREFIX=/usr")
    assert link_target(d / "usr/sbin/sendmail") == "postern"

    e = tmp_path / "none"
    make_install(e, "PREFIX=/usr", "INSTALL_SENDMAIL=no")
    assert not (e / "usr/sbin/sendmail").exists() and not (e / "usr/bin/mailq").exists()


# -- manual pages -------------------------------------------------------------

def cf5_text():
    require_binary()
    r = subprocess.run([POSTERN_BIN, "check", "-m"], capture_output=True, text=True,
                       env=binary_env(), timeout=20)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return r.stdout


def parameters():
    r = subprocess.run([POSTERN_BIN, "check", "-d"], capture_output=True, text=True,
                       env=binary_env(), timeout=20)
    assert r.returncode == 0, r.stderr
    return [line.split()[0] for line in r.stdout.splitlines()
             if line.strip() and line.split()[1] == "implemented"]


@pytest.mark.parametrize("page", ["postern.8", "postern.cf.5"])
def test_man_page_renders_without_warnings(tmp_path, page):
    path = tmp_path / page
    if page == "postern.cf.5":
        path.write_text(cf5_text())
    else:
        shutil.copy(ROOT / "docs" / page, path)
    # groff with every warning on, as man-db's lexgrog/`man --warnings` would
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", str(path)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = re.sub(r".\x08", "", r.stdout)     # man's overstrike bold
    if page == "postern.cf.5":
        names = parameters()
        assert f"There are {len(names)} parameters." in text
        for name in names:
            assert re.search(rf"^ {{7}}{re.escape(name)}\b", text, re.M), \
                f"postern.cf(5) does not list {name}"
        # the table's default, with its $references, as typed in a file
        assert "smtpd_relay_restrictions" in text and "permit_mynetworks," in text
    else:
        assert "postern.cf(5)" in text


def test_installed_cf5_is_the_generated_page(tmp_path):
    d = tmp_path / "root"
    make_install(d, "PREFIX=/usr")
    installed = (d / "usr/share/man/man5/postern.cf.5").read_text()
    # the installed page comes from build/postern, the test's binary may
    # be the ASan build: same table, same page
    assert installed == cf5_text()


# -- the systemd unit ---------------------------------------------------------

def analyze(*args):
    assert shutil.which("systemd-analyze"), "systemd-analyze missing (make test-deps: systemd)"
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          timeout=120)


def test_unit_verifies_cleanly(tmp_path):
    """No unknown key, no bad value (systemd-analyze verify exits 0 on
    those too: the test reads its messages), the commands exist."""
    require_binary()
    unit = tmp_path / "postern.service"
    # the command must exist where verify looks: point it at the test's binary
    unit.write_text(UNIT.read_text().replace("/usr/sbin/postern", POSTERN_BIN))
    r = analyze("verify", "--man=no", str(unit))
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r.stdout + r.stderr


def test_unit_security_exposure():
    r = analyze("security", "--offline=yes", "--no-pager", str(UNIT))
    m = re.search(r"Overall exposure level for postern\.service: (\d+\.\d+) (\w+)", r.stdout)
    assert m, r.stdout + r.stderr
    score = float(m.group(1))
    print(f"systemd-analyze security: {score} {m.group(2)}")
    # 2.8 with this unit; what is left is what a root parent that binds,
    # chowns and drops privileges needs (docs/install.md)
    assert score <= 3.0, r.stdout


def free_low_port():
    """A free loopback port below 1024 (binding it needs
    CAP_NET_BIND_SERVICE)."""
    for port in range(1023, 600, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free loopback port below 1024")


def sandbox(base, caps):
    """The unit's confinement, approximated: a mount namespace where / is
    read-only but base (the spool's), and the capability bounding set caps
    with no_new_privs, exec'ing the daemon so that it is the main PID."""
    keep = ",".join(["-all"] + ["+" + c.lower().removeprefix("cap_") for c in caps])
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", 'mount --bind "$1" "$1" && mount -o remount,bind,ro / && shift '
            '&& exec "$@"', "sh", str(base),
            "setpriv", f"--bounding-set={keep}", "--inh-caps=-all", "--no-new-privs"]


needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root: the unit's root parent and its capabilities")

UNIT_CAPS = unit_settings("CapabilityBoundingSet")[0].split()


@needs_root
def test_unit_command_line_runs_with_the_units_capabilities(make_postern):
    """The unit's ExecStart, with the unit's capability bounding set and a
    read-only file system but for the spool: it binds a port below 1024,
    drops to mail_owner, delivers, reloads on SIGHUP to the main PID
    (ExecReload), and stops cleanly on SIGTERM to it (KillMode=mixed)."""
    for tool in ("unshare", "setpriv"):
        assert shutil.which(tool), f"{tool} missing (util-linux)"
    [start] = unit_settings("ExecStart")
    argv = shlex.split(start)
    assert argv[1:] == ["serve", "-c", "/etc/postern/postern.cf"], start
    assert unit_settings("Type") == ["exec"]
    assert unit_settings("ExecReload") == ["/bin/sh -c 'kill -HUP $MAINPID'"]
    assert unit_settings("KillMode") == ["mixed"]
    port = free_low_port()
    p = make_postern(start=False, listen=f"smtp://127.0.0.1:{port}", mail_owner="postern")
    p.port = port
    p.start(wrap=sandbox(p.base, UNIT_CAPS))
    p.wait_log(r"daemon started")
    # the foreground process is the main PID: the parent, not a launcher
    assert re.search(rf"postern\[{p.proc.pid}\]", p.log()) or \
        open(f"/proc/{p.proc.pid}/comm").read().strip() == "postern"
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("app@example.com", ["ops@localhost"],
                   b"Subject: sandboxed\r\n\r\nhello\r\n")
    p.wait_for_maildir("ops@localhost", 1)
    # the worker runs as mail_owner, not root
    st = os.stat(p.queue_dir / "queue")
    assert st.st_uid != 0
    os.kill(p.proc.pid, signal.SIGHUP)
    p.wait_log(r"reload: configuration ")
    p.stop()
    assert "warning" not in p.log(), p.log()


# what goes wrong without each capability of the set
WITHOUT = {
    "CAP_NET_BIND_SERVICE": r"fatal: listen smtp://127\.0\.0\.1:\d+: Permission denied",
    "CAP_SETUID": r"fatal: cannot become postern: Operation not permitted",
    "CAP_SETGID": r"fatal: cannot become postern: Operation not permitted",
    "CAP_CHOWN": r"fatal: chown/chmod \S+ to uid \d+: Operation not permitted",
    "CAP_FOWNER": r"fatal: chown/chmod \S+ to uid \d+: Operation not permitted",
    "CAP_DAC_READ_SEARCH": r"fatal: \S+: Permission denied",
    "CAP_KILL": r"cannot pass signal 15 on to the worker process \d+: Operation not "
                r"permitted \(the parent needs CAP_KILL\)",
}


@needs_root
@pytest.mark.parametrize("cap", sorted(WITHOUT))
def test_unit_capabilities_each_needed(make_postern, cap):
    """The set is minimal: drop any one capability and the daemon fails,
    saying why."""
    assert sorted(UNIT_CAPS) == sorted(WITHOUT)
    port = free_low_port()
    p = make_postern(start=False, listen=f"smtp://127.0.0.1:{port}", mail_owner="postern")
    p.port = port
    p.start(wait=False, wrap=sandbox(p.base, [c for c in UNIT_CAPS if c != cap]))
    if cap == "CAP_KILL":
        p.wait_ready()
        os.kill(p.proc.pid, signal.SIGTERM)
        p.wait_log(WITHOUT[cap])
        p.kill()
        return
    wait_until(lambda: p.proc.poll() is not None, "the daemon to give up", timeout=20)
    assert p.proc.returncode == 1
    assert re.search(WITHOUT[cap], p.log()), p.log()


# -- the Dockerfile, without building it (test_container.py builds and runs it) --

def dockerfile_stages():
    """[(FROM line, [instructions])], continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            stages.append((line, []))
        elif stages:
            stages[-1][1].append(re.sub(r"\s+", " ", line))
    return stages


def test_dockerfile_installs_with_make_install():
    """The image gets exactly what `make install` puts in DESTDIR, and the
    user from the same script as on a host."""
    (build_from, build), (run_from, run) = dockerfile_stages()
    assert "debian:12-slim" in (ROOT / "Dockerfile").read_text()
    assert build_from.endswith(" AS build")
    assert any("make install DESTDIR=/out PREFIX=/usr" in i for i in build if i.startswith("RUN "))
    copies = [i for i in run if i.startswith("COPY --from=build")]
    assert copies == ["COPY --from=build /out/ /"], copies
    assert any("add-mail-owner postern" in i for i in run)


def installed_closure(pkgs):
    """pkgs and what they depend on, recursively, as installed here (dpkg)."""
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", p],
                           capture_output=True, text=True)
        if r.returncode != 0:
            continue
        for dep in re.split(r"[,|]", r.stdout):
            name = dep.strip().split(" ")[0].split(":")[0]
            if name:
                todo.append(name)
    return seen


def test_dockerfile_runtime_libraries_cover_the_binary():
    """Every library build/postern links comes from a package the run
    stage installs, or one those depend on (libcurl4 brings its own), or
    from the base image's essential ones."""
    binary = ROOT / "build" / "postern"
    if not binary.exists():
        pytest.skip("build/postern not built (make build/postern)")
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
    needed = set()
    for m in re.finditer(r"=> (/\S+)", ldd.stdout):
        for path in {m.group(1), os.path.realpath(m.group(1))}:
            r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if r.returncode == 0:
                needed.add(r.stdout.split(":")[0])
    assert needed, ldd.stdout
    base = {"libc6", "libcrypt1", "libgcc-s1"}     # in debian:12-slim (Essential)
    (_, _), (_, run) = dockerfile_stages()
    apt = " ".join(i for i in run if "apt-get install" in i).split()
    missing = sorted(needed - base - installed_closure(a for a in apt if a[0].isalnum()))
    assert not missing, f"the run stage lacks {missing}"


def test_dockerfile_runs_unprivileged_from_files():
    (_, _), (_, run) = dockerfile_stages()
    [user] = [i for i in run if i.startswith("USER ")]
    assert user == "USER ${POSTERN_UID}:${POSTERN_UID}" and "ARG POSTERN_UID=2525" in run
    assert 'VOLUME ["/var/spool/postern"]' in run
    [health] = [i for i in run if i.startswith("HEALTHCHECK ")]
    assert "/usr/lib/postern/healthcheck" in health
    assert not [i for i in run if i.startswith("ENV ")], "configuration comes from files"
    assert "build" in (ROOT / ".dockerignore").read_text().split()
    r = subprocess.run(["bash", "-n", str(ROOT / "docker" / "healthcheck")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_container_default_config_is_valid():
    require_binary()
    r = subprocess.run([POSTERN_BIN, "check", "-c", str(ROOT / "docker" / "postern.cf")],
                       capture_output=True, text=True, env=binary_env(), timeout=20)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "listen = smtp://0.0.0.0:2525" in r.stdout
