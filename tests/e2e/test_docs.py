"""The documentation lists every parameter the binary knows, with its
default: README's table and docs/config.md must not drift from the table
in src/config/config_params.c."""
import pathlib
import subprocess

from conftest import POSTERN_BIN, binary_env, require_binary

ROOT = pathlib.Path(__file__).resolve().parents[2]


def parameters():
    require_binary()
    r = subprocess.run([POSTERN_BIN, "check", "-d"], capture_output=True, text=True,
                       env=binary_env(), timeout=20)
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines()
             if line.strip() and line.split()[1] == "implemented"]
    assert len(names) > 50
    return names


def test_readme_and_reference_list_every_parameter():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ref = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    for name in parameters():
        assert f"| `{name}` |" in ref, f"docs/config.md lacks {name}"
        assert f"| `{name}` |" in readme, f"README.md's table lacks {name}"


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[:400]
    assert "make run" in head and "make test" in head
