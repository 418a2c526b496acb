"""The container image, built from the Dockerfile with podman and run: the
seed-000 relay (an app's mail through an upstream mailbox over implicit
TLS, sender rewritten) from a mounted /etc/postern, no environment, as a
non-root user, the queue on a volume, the HEALTHCHECK passing, a clean
stop on SIGTERM.

Slow (it builds the image: about 30 s with podman's layer cache, two to
three minutes the first time, base image included): `make test-container` runs it (POSTERN_CONTAINER_TEST=1);
`make test`/`make e2e` skip it, saying so. Where the machine cannot run
containers (no podman, no base image and no way to make one, an OCI
runtime that cannot start here), it skips with podman's own words.

The base image, debian:12-slim, comes from a registry; where none is
reachable, scripts/container-base makes it with debootstrap from the
Debian mirror. Containers share the host's network (--network host): the
tests use loopback ports only, and need no CNI/netavark set-up."""
import os
import re
import pathlib
import shutil
import smtplib
import socket
import subprocess
import time
import uuid

import pytest

from conftest import free_port, wait_until
from upstream import (PASSWORD, UPSTREAM_WARNINGS, USER, password_map,  # noqa: F401
                      test_ca, upstream)

ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGE = "localhost/postern:test"
UID = 2525                      # the Dockerfile's POSTERN_UID
ACCOUNT = "relay-account@upstream.test"

pytestmark = [pytest.mark.filterwarnings(w) for w in UPSTREAM_WARNINGS] + [
    pytest.mark.skipif(os.environ.get("POSTERN_CONTAINER_TEST") != "1",
                       reason="builds the container image (over a minute): "
                              "run by `make test-container`"),
]


def podman_argv():
    """podman, with the OCI runtime that works here: crun refuses a
    cgroup v1/v2 hybrid host, runc does not."""
    argv = ["podman"]
    if shutil.which("runc"):
        argv += ["--runtime", "runc"]
    return argv


def run_flags():
    """Limits at or below this process's (podman asks for more than the
    hard limit, which needs CAP_SYS_RESOURCE), the host's network."""
    import resource
    nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 4096)
    return ["--network", "host", "--ulimit", f"nofile={nofile}:{nofile}",
            "--ulimit", f"nproc={nproc}:{nproc}"]


def podman(*args, timeout=120, check=True):
    r = subprocess.run(podman_argv() + list(args), capture_output=True, text=True, errors="replace",
                       timeout=timeout)
    if check:
        assert r.returncode == 0, f"podman {' '.join(args)}:\n{r.stdout}{r.stderr}"
    return r


@pytest.fixture(scope="module")
def image():
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (Debian: podman runc; make test-container "
                    "installs them)")
    if os.geteuid() != 0:
        pytest.skip("rootful podman needed (run as root)")
    work = ROOT / "build" / "container"
    work.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([str(ROOT / "scripts" / "container-base"), str(work)],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        pytest.skip(f"no base image debian:12-slim: cannot pull it nor make it "
                    f"with debootstrap: {(r.stdout + r.stderr).strip()[-500:]}")
    probe = podman("run", "--rm", *run_flags(), "docker.io/library/debian:12-slim", "true",
                   check=False)
    if probe.returncode != 0:
        pytest.skip(f"this machine cannot run containers: {probe.stderr.strip()[-500:]}")
    # --format docker: an OCI image has no HEALTHCHECK
    start = time.monotonic()
    r = podman("build", "--format", "docker", "--network", "host",
               *run_flags()[2:], "-t", IMAGE, str(ROOT), timeout=1800, check=False)
    assert r.returncode == 0, f"the Dockerfile does not build:\n{r.stdout[-4000:]}{r.stderr[-2000:]}"
    print(f"image built in {time.monotonic() - start:.0f} s")
    yield IMAGE


class Container:
    def __init__(self, name):
        self.name = name

    def logs(self):
        r = podman("logs", self.name, check=False)
        return r.stdout + r.stderr

    def running(self):
        r = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return r.stdout.strip() == "true"


@pytest.fixture
def container(image):
    made = []

    def start(*args):
        name = f"postern-test-{uuid.uuid4().hex[:8]}"
        podman("run", "-d", "--name", name, *run_flags(), *args, image)
        c = Container(name)
        made.append(c)
        return c

    yield start
    for c in made:
        podman("rm", "-f", "-t", "0", c.name, check=False)


def wait_greeting(port, c, timeout=30):
    def greets():
        assert c.running(), f"the container exited:\n{c.logs()}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                return s.recv(512).startswith(b"220")
        except OSError:
            return False
    wait_until(greets, f"the container's SMTP greeting on port {port}", timeout=timeout)


def seed_files(conf, port, up, ca, http_port=None):
    """/etc/postern for the seed-000 relay: the blog post's settings, files
    only; the secret is mode 600 and belongs to the container's user."""
    conf.mkdir(mode=0o755)
    password_map(conf / "sasl_passwd", {f"[127.0.0.1]:{up.port}": f"{USER}:{PASSWORD}"})
    os.chown(conf / "sasl_passwd", UID, UID)
    (conf / "sender_canonical").write_text(f"/.*/ {ACCOUNT}\n")
    shutil.copy(ca.ca, conf / "ca.pem")
    for n in ("sender_canonical", "ca.pem"):
        os.chmod(conf / n, 0o644)
    (conf / "postern.cf").write_text(
        f"listen = smtp://127.0.0.1:{port}\n"
        "mynetworks = 127.0.0.0/8\n"
        "queue_directory = /var/spool/postern\n"
        "syslog_name =\n"
        "default_transport = smtp\n"
        f"relayhost = [127.0.0.1]:{up.port}\n"
        "smtp_tls_wrappermode = yes\n"
        "smtp_sasl_auth_enable = yes\n"
        "smtp_sasl_password_maps = hash:/etc/postern/sasl_passwd\n"
        "smtp_sasl_security_options = noanonymous\n"
        "sender_canonical_maps = regexp:/etc/postern/sender_canonical\n"
        "smtp_tls_CAfile = /etc/postern/ca.pem\n"
        "smtp_tls_security_level = verify\n"
        + (f"http_listen = 127.0.0.1:{http_port}\nreadiness_check_interval = 1s\n"
           if http_port else ""))
    os.chmod(conf / "postern.cf", 0o644)


def test_container_relays_seed000(container, upstream, test_ca, tmp_path):
    up = upstream(mode="implicit")
    port, http_port = free_port(), free_port()
    conf = tmp_path / "etc-postern"
    seed_files(conf, port, up, test_ca, http_port)
    volume = f"postern-spool-{uuid.uuid4().hex[:8]}"
    c = container("-v", f"{conf}:/etc/postern:ro", "-v", f"{volume}:/var/spool/postern")
    try:
        wait_greeting(port, c)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("grafana@monitor.internal", ["ops@customer.test"],
                       b"From: Grafana <grafana@monitor.internal>\r\nTo: ops@customer.test\r\n"
                       b"Subject: disk\r\n\r\n91% used\r\n")
        [m] = up.wait_messages(1)
        assert m["tls"] and m["login"] == USER
        assert m["mail_from"] == ACCOUNT and m["rcpt_tos"] == ["ops@customer.test"]

        # non-root: the daemon and every process in the container
        top = podman("top", c.name, "user", "huser", "args").stdout
        lines = [line for line in top.splitlines()[1:] if "postern" in line]
        assert lines and all(line.split()[0] in ("postern", str(UID)) for line in lines), top
        # no secret in the environment: the image sets none, we passed none
        env = podman("inspect", "--format", "{{json .Config.Env}}", c.name).stdout
        assert PASSWORD not in env and "PASS" not in env.upper(), env
        # the queue is on the volume, the container user's
        mount = podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout.strip()
        st = os.stat(os.path.join(mount, "queue"))
        assert st.st_uid == UID
        # the image's HEALTHCHECK, run now (podman has no systemd timer here):
        # /readyz, which needs the upstream's login to work
        h = podman("healthcheck", "run", c.name, check=False)
        assert h.returncode == 0, h.stdout + h.stderr
        up.stop()
        wait_until(lambda: podman("healthcheck", "run", c.name, check=False).returncode != 0,
                   "unhealthy once the upstream is gone", timeout=30, interval=0.5)

        podman("stop", "-t", "40", c.name, timeout=60)
        code = podman("inspect", "--format", "{{.State.ExitCode}}", c.name).stdout.strip()
        log = c.logs()
        assert code == "0", log
        assert "stopped" in log and "status=sent" in log
        assert PASSWORD not in log
    finally:
        podman("rm", "-f", "-t", "0", c.name, check=False)
        podman("volume", "rm", "-f", volume, check=False)


def test_container_healthcheck_fails_when_smtp_does_not_answer(container, tmp_path):
    """The check is not a constant: a configuration whose listener is
    another port than the one answering makes it fail."""
    port = free_port()
    conf = tmp_path / "etc-postern"
    conf.mkdir(mode=0o755)
    (conf / "postern.cf").write_text(f"listen = smtp://127.0.0.1:{port}\n"
                                     "queue_directory = /var/spool/postern\n"
                                     "capture_directory = /var/mail/postern\n")
    os.chmod(conf / "postern.cf", 0o644)
    c = container("-v", f"{conf}:/etc/postern:ro")
    wait_greeting(port, c)
    assert podman("healthcheck", "run", c.name, check=False).returncode == 0
    # the same check against a file naming a port nobody listens on
    other = tmp_path / "other.cf"
    other.write_text(f"listen = smtp://127.0.0.1:{free_port()}\n")
    os.chmod(other, 0o644)
    podman("cp", str(other), f"{c.name}:/tmp/other.cf")
    r = podman("exec", c.name, "/usr/lib/postern/healthcheck", "/tmp/other.cf", check=False)
    assert r.returncode != 0


# -- the systemd unit, under a real systemd -------------------------------------
#
# systemd is not PID 1 on this machine, but it can be in a container: this
# boots Debian's systemd in one, installs `make install`'s tree into it and
# runs postern.service for real, with the installed sample postern.cf (its
# port aside) -- the seccomp filter, ProtectSystem and the other mount
# namespace settings, the capability bounding set, KillMode, ExecReload.
# The container gets CAP_SYS_ADMIN, or systemd silently skips every mount
# namespace setting, and CAP_DAC_READ_SEARCH, which podman's default
# bounding set lacks; it may still not make IPC or UTS namespaces (systemd
# logs that it skips PrivateIPC= and ProtectHostname=).

def runtime_packages():
    """The run stage's apt-get packages: the systemd image gets the same."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    run_stage = text[text.rindex("\nFROM "):]
    m = re.search(r"apt-get install -y --no-install-recommends ([^&]+)&&", run_stage)
    return m.group(1).split()


@pytest.fixture(scope="module")
def systemd_image(image):
    ctx = ROOT / "build" / "container" / "systemd"
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Containerfile").write_text(
        "FROM docker.io/library/debian:12-slim\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends systemd systemd-sysv "
        + " ".join(runtime_packages()) + " && rm -rf /var/lib/apt/lists/*\n")
    podman("build", "--network", "host", *run_flags()[2:], "-t", "localhost/postern-systemd:test",
           str(ctx), timeout=1800)
    return "localhost/postern-systemd:test"


def sh(name, cmd, check=True, timeout=60):
    return podman("exec", name, "sh", "-c", cmd, check=check, timeout=timeout)


def low_port():
    for port in range(1023, 600, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free loopback port below 1024")


def test_systemd_unit_runs_confined(systemd_image, tmp_path):
    out = tmp_path / "out"
    r = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "install",
                        f"DESTDIR={out}", "PREFIX=/usr"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    port = low_port()
    conf = out / "etc/postern/postern.cf"
    sample = conf.read_text()
    assert "syslog_name = postern" in sample          # stderr and syslog both
    conf.write_text(re.sub(r"(?m)^listen = .*$", f"listen = smtp://127.0.0.1:{port}", sample))
    name = f"postern-systemd-{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, "--systemd=always",
           "--cap-add", "DAC_READ_SEARCH,SYS_ADMIN",
           *run_flags(), systemd_image, "/sbin/init")
    try:
        wait_until(lambda: sh(name, "systemctl is-system-running", check=False).stdout.strip()
                   in ("running", "degraded"), "systemd in the container to boot", timeout=60)
        tar = subprocess.run(["tar", "-C", str(out), "-c", "."], capture_output=True, check=True)
        r = subprocess.run(podman_argv() + ["exec", "-i", name, "tar", "-C", "/", "-x"],
                           input=tar.stdout, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        podman("cp", str(ROOT / "scripts" / "add-mail-owner"), f"{name}:/usr/local/sbin/")
        sh(name, "add-mail-owner postern && systemctl daemon-reload && systemctl start postern")

        def journal():
            return sh(name, "journalctl -u postern --no-pager -o cat").stdout
        wait_until(lambda: "daemon started" in journal(), "postern.service to start")
        main = sh(name, "systemctl show -p MainPID --value postern").stdout.strip()
        status = sh(name, f"cat /proc/{main}/status").stdout
        fields = dict(re.findall(r"^(\w+):\s+(.*)$", status, re.M))
        assert fields["Seccomp"] == "2", "SystemCallFilter= not applied"
        assert fields["NoNewPrivs"] == "1"
        caps = subprocess.run(["capsh", f"--decode={fields['CapBnd']}"], capture_output=True,
                              text=True, check=True).stdout
        assert caps.split("=", 1)[1].strip() == ("cap_chown,cap_dac_read_search,cap_fowner,"
                                                  "cap_kill,cap_setgid,cap_setuid,"
                                                  "cap_net_bind_service"), caps
        assert fields["Uid"].split()[0] == "0"        # the parent
        # ProtectSystem=strict: / read-only, the spool and the Maildirs not;
        # ProtectHome=, PrivateTmp=: other file systems over those
        mounts = {}
        for line in sh(name, f"cat /proc/{main}/mountinfo").stdout.splitlines():
            f = line.split()
            mounts[f[4]] = f[5].split(",")[0]
        assert mounts["/"] == "ro", mounts
        assert mounts["/var/spool/postern"] == "rw" and mounts["/var/mail/postern"] == "rw"
        assert "/home" in mounts and "/tmp" in mounts, mounts
        worker = sh(name, f"cat /proc/{main}/task/{main}/children").stdout.split()
        assert len(worker) == 1
        wst = dict(re.findall(r"^(\w+):\s+(.*)$",
                              sh(name, f"cat /proc/{worker[0]}/status").stdout, re.M))
        uid = sh(name, "id -u postern").stdout.strip()
        assert wst["Uid"].split() == [uid] * 4 and wst["CapEff"] == "0000000000000000"

        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("app@example.com", ["ops@localhost"], b"Subject: unit\r\n\r\nhi\r\n")
        wait_until(lambda: sh(name, "ls /var/mail/postern/*/new 2>/dev/null | grep -c vm || "
                                    "ls /var/mail/postern/*/new", check=False).stdout.strip()
                   not in ("", "0"), "the message in the capture Maildir")
        wait_until(lambda: "status=sent" in journal(), "the delivery log line")

        sh(name, "systemctl reload postern")
        wait_until(lambda: "reload: configuration /etc/postern/postern.cf" in journal(),
                   "the reload (ExecReload)")
        sh(name, "systemctl stop postern", timeout=60)
        assert sh(name, "systemctl show -p Result --value postern").stdout.strip() == "success"
        j = journal()
        assert j.count("daemon started") == 1, "each line once: syslog and stderr both go " \
                                               "to the journal\n" + j
        assert j.count("terminating on signal 15") == 1, "KillMode=mixed: one SIGTERM\n" + j
        assert "stopped" in j and "warning" not in j and "<6>" not in j, j
        assert "\ufffd" not in j, j
        # journald took the priority prefix: a warning would show as one
        prios = sh(name, "journalctl -u postern --no-pager -o json "
                         "--output-fields=PRIORITY,MESSAGE").stdout
        assert '"PRIORITY":"6"' in prios
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)
