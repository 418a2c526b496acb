"""`postern tls selfsigned`: the key and self-signed certificate that seed
002 makes by hand with `openssl req -x509`, made by postern: SAN = the host,
server usage, key mode 0600, never overwritten without -f; openssl reads the
certificate and Python's ssl loads the pair and completes a verified TLS
handshake with it."""
import os
import re
import socket
import ssl
import stat
import subprocess
import threading

from conftest import POSTERN_BIN, binary_env, require_binary

HOST = "smtp.example.com"


def selfsigned(*args):
    require_binary()
    return subprocess.run([POSTERN_BIN, "tls", "selfsigned", *args], capture_output=True,
                          text=True, env=binary_env(), timeout=60, stdin=subprocess.DEVNULL)


def openssl(*args, data=None):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, input=data,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def handshake(crt, key, server_hostname):
    """A TLS handshake over a socketpair: the server uses the pair, the
    client trusts only crt and checks the name. Returns the client's
    error, or None."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(crt, key)
    client_ctx = ssl.create_default_context(cafile=str(crt))
    a, b = socket.socketpair()
    a.settimeout(10)
    b.settimeout(10)

    def serve():
        try:
            with server_ctx.wrap_socket(a, server_side=True) as s:
                s.recv(1)
        except (ssl.SSLError, OSError):
            pass

    t = threading.Thread(target=serve)
    t.start()
    try:
        with client_ctx.wrap_socket(b, server_hostname=server_hostname) as c:
            c.sendall(b"x")
        return None
    except ssl.SSLError as e:
        b.close()
        return e
    finally:
        t.join(10)
        assert not t.is_alive()


def test_writes_a_key_and_a_server_certificate(tmp_path):
    out = tmp_path / "certs"            # made when missing
    r = selfsigned("--host", HOST, "--out", str(out), "--days", "30")
    assert r.returncode == 0, r.stderr
    key, crt = out / f"{HOST}.key", out / f"{HOST}.crt"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(crt.stat().st_mode) == 0o644
    assert f"smtpd_tls_cert_file = {crt}" in r.stdout
    assert f"smtpd_tls_key_file = {key}" in r.stdout
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")

    text = openssl("x509", "-noout", "-text", "-in", str(crt))
    assert "DNS:smtp.example.com" in text, text
    assert "Subject: CN = smtp.example.com" in text
    assert "Issuer: CN = smtp.example.com" in text
    assert "TLS Web Server Authentication" in text
    assert "CA:FALSE" in text
    assert "sha256WithRSAEncryption" in text
    assert "Public-Key: (2048 bit)" in text
    # 30 days: valid now, not in 31 days
    subprocess.run(["openssl", "x509", "-checkend", "86400", "-noout", "-in", str(crt)],
                   check=True, capture_output=True)
    assert subprocess.run(["openssl", "x509", "-checkend", str(31 * 86400), "-noout",
                           "-in", str(crt)], capture_output=True).returncode == 1
    # the key is the certificate's
    assert (openssl("pkey", "-pubout", "-in", str(key))
            == openssl("x509", "-pubkey", "-noout", "-in", str(crt)))
    fpr = openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", str(crt))
    assert fpr.strip().split("=", 1)[1] in r.stdout

    # Python's ssl loads the pair, and a client that trusts the certificate
    # completes a verified handshake for the host, but not for another name
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(crt, key)
    assert handshake(crt, key, HOST) is None
    err = handshake(crt, key, "other.example.com")
    assert isinstance(err, ssl.SSLCertVerificationError), err


def test_refuses_to_overwrite_without_f(tmp_path):
    r = selfsigned("--host", HOST, "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    key, crt = tmp_path / f"{HOST}.key", tmp_path / f"{HOST}.crt"
    before = (key.read_bytes(), crt.read_bytes())
    r = selfsigned("--host", HOST, "--out", str(tmp_path))
    assert r.returncode == 1
    assert f"{key} exists; use -f to replace it" in r.stderr
    assert (key.read_bytes(), crt.read_bytes()) == before
    # a certificate alone also counts
    key.unlink()
    r = selfsigned("--host", HOST, "--out", str(tmp_path))
    assert r.returncode == 1 and f"{crt} exists" in r.stderr
    assert not key.exists()
    r = selfsigned("--host", HOST, "--out", str(tmp_path), "-f")
    assert r.returncode == 0, r.stderr
    assert crt.read_bytes() != before[1]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == [f"{HOST}.crt", f"{HOST}.key"]   # no temp files


def test_an_ip_address_becomes_an_ip_san(tmp_path):
    r = selfsigned("--host", "127.0.0.1", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    text = openssl("x509", "-noout", "-text", "-in", str(tmp_path / "127.0.0.1.crt"))
    assert re.search(r"IP Address:127\.0\.0\.1\b", text), text


def test_bad_arguments(tmp_path):
    r = selfsigned("--out", str(tmp_path))
    assert r.returncode == 2 and "needs --host" in r.stderr
    for bad in ("../evil", "a b", "-x.example", "x..example", ""):
        r = selfsigned("--host", bad, "--out", str(tmp_path))
        assert r.returncode == 2, bad
    for days in ("0", "-5", "abc", "36501"):
        r = selfsigned("--host", HOST, "--days", days, "--out", str(tmp_path))
        assert r.returncode == 2 and "--days" in r.stderr, days
    assert os.listdir(tmp_path) == []
