"""Start-up as root: the queue and capture directories are handed to
mail_owner without ever following a symbolic link or trusting a directory
someone else owns (Postfix's `postfix set-permissions` checks, done at
every start). A refusal is a clear error and exit status 1, and the file a
link pointed to is left exactly as it was."""
import os
import pwd
import subprocess

import pytest

from conftest import POSTERN_BIN, binary_env, require_binary

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: tests privilege drop")


def serve_fails(p, timeout=30):
    """Run `postern serve` on p's config; it must refuse to start."""
    require_binary()
    p.write_config()
    proc = subprocess.run([POSTERN_BIN, "serve", "-c", str(p.config_path)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                          env=binary_env())
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1, (proc.returncode, err)
    assert "AddressSanitizer" not in err and "runtime error:" not in err, err
    return err


def root_file(path, text="root:secret-hash:1::::::\n"):
    path.write_text(text)
    os.chown(path, 0, 0)
    os.chmod(path, 0o600)
    return path


def assert_untouched(path, text="root:secret-hash:1::::::\n"):
    st = os.lstat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o600)
    assert path.read_text() == text


@pytest.mark.parametrize("sub", ["hold", "queue", "state", "tmp", "quarantine"])
def test_queue_subdirectory_symlink_is_refused(make_postern, sub):
    """mail_owner replaced $queue_directory/SUB with a link to a root file:
    the next start refuses instead of chowning the target."""
    p = make_postern()
    p.stop()
    target = root_file(p.base / "shadow")
    d = p.queue_dir / sub
    if d.exists():
        os.rename(d, p.base / f"{sub}.old")
    os.symlink(target, d)
    err = serve_fails(p)
    assert f"{d} is a symbolic link" in err, err
    assert "use the real path" in err, err
    assert_untouched(target)


def test_symlinked_directory_target_is_not_chowned(make_postern):
    """A link to a root-owned directory (say /etc) is refused too: the
    directory keeps its owner."""
    p = make_postern()
    p.stop()
    victim = p.base / "etc"
    victim.mkdir()
    os.chmod(victim, 0o755)
    os.rename(p.queue_dir / "hold", p.base / "hold.old")
    os.symlink(victim, p.queue_dir / "hold")
    err = serve_fails(p)
    assert "is a symbolic link" in err, err
    st = os.stat(victim)
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o755)


def test_capture_directory_symlink_is_refused(make_postern):
    p = make_postern(start=False)
    target = p.base / "elsewhere"
    target.mkdir()
    os.symlink(target, p.mail_dir)
    err = serve_fails(p)
    assert f"{p.mail_dir} is a symbolic link" in err, err
    assert os.stat(target).st_uid == 0


def test_symlink_in_a_parent_component_is_refused(make_postern):
    real = None
    p = make_postern(start=False)
    real = p.base / "real"
    real.mkdir()
    os.symlink(real, p.base / "link")
    p.settings["queue_directory"] = str(p.base / "link" / "queue")
    err = serve_fails(p)
    assert f"{p.base / 'link'} is a symbolic link" in err, err
    assert not (real / "queue").exists()


def test_component_owned_by_another_user_is_refused(make_postern):
    """A directory on the path owned by someone who is neither root nor
    mail_owner could swap what lies below it."""
    nobody = pwd.getpwnam("nobody")
    p = make_postern(start=False)
    theirs = p.base / "theirs"
    theirs.mkdir()
    os.chown(theirs, nobody.pw_uid, nobody.pw_gid)
    p.settings["queue_directory"] = str(theirs / "queue")
    err = serve_fails(p)
    assert f"{theirs} is owned by uid {nobody.pw_uid}, not by root or the mail_owner" in err, err


def test_existing_directories_get_owner_and_safe_modes(make_postern):
    """Directories an admin made with the wrong owner or a loose mode are
    given to mail_owner, and group/other write is taken away."""
    owner = pwd.getpwnam("postern")
    p = make_postern(start=False)
    for d in (p.queue_dir, p.queue_dir / "hold", p.mail_dir):
        d.mkdir(parents=True)
        os.chmod(d, 0o777)
    p.start()
    for d in (p.queue_dir, p.queue_dir / "hold", p.mail_dir):
        st = os.stat(d)
        assert st.st_uid == owner.pw_uid, d
        assert st.st_mode & 0o022 == 0, (d, oct(st.st_mode))
    assert os.stat(p.queue_dir / "hold").st_mode & 0o077 == 0
    p.send("a@example.com", "b@example.com", b"Subject: x\r\n\r\nok\r\n")
    assert len(p.wait_for_maildir("b@example.com", 1)) == 1
