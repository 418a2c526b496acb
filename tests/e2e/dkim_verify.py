"""Three independent DKIM verifiers for the signing tests (test_dkim.py),
each given the public keys directly -- no live DNS:

- dkimpy (python3-dkim): ``dkim.verify`` with a ``dnsfunc`` serving the
  records;
- OpenDKIM's library (libopendkim, from opendkim-tools), called through
  ctypes with its file query method (DKIM_QUERY_FILE: a file of
  ``selector._domainkey.domain record`` lines, what OpenDKIM's own tests
  use). ``opendkim-testmsg`` itself cannot be used: Debian 12's build
  refuses every message (``dkim_chunk(): Syntax error``), and it asks live
  DNS;
- Perl's Mail::DKIM (libmail-dkim-perl), with a Net::DNS resolver pointed
  at a dnsmasq on a loopback port (dns_server.py) serving the TXT records.

Each checks one signature at a time: ``split_signatures`` gives the
message once per DKIM-Signature field with the others removed (h= never
covers DKIM-Signature, so removing them changes nothing else).
"""
import ctypes
import ctypes.util
import os
import re
import subprocess

import dkim


def split_signatures(msg):
    """[(selector, message with only that DKIM-Signature field)]."""
    head, sep, body = msg.partition(b"\r\n\r\n")
    fields = re.split(rb"\r\n(?![ \t])", head)
    sigs = [f for f in fields if f.lower().startswith(b"dkim-signature:")]
    rest = [f for f in fields if not f.lower().startswith(b"dkim-signature:")]
    out = []
    for s in sigs:
        sel = re.search(rb"[; \t]s=([^;]+);", s).group(1).strip().decode()
        out.append((sel, b"\r\n".join([s] + rest) + sep + body))
    return out


def dkimpy_verify(msg, records):
    """records: {"sel._domainkey.dom": "v=DKIM1; k=...; p=..."}."""
    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        r = records.get(n.rstrip("."))
        return r.encode() if r else None
    return dkim.verify(msg, dnsfunc=dnsfunc)


# ---- libopendkim ----------------------------------------------------------

_lib = None


def _opendkim():
    global _lib
    if _lib is None:
        path = ctypes.util.find_library("opendkim") or "libopendkim.so.11"
        L = ctypes.CDLL(path)
        L.dkim_init.restype = ctypes.c_void_p
        L.dkim_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        L.dkim_options.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                                   ctypes.c_size_t]
        L.dkim_verify.restype = ctypes.c_void_p
        L.dkim_verify.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_int)]
        L.dkim_header.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        L.dkim_eoh.argtypes = [ctypes.c_void_p]
        L.dkim_body.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        L.dkim_eom.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        L.dkim_free.argtypes = [ctypes.c_void_p]
        L.dkim_close.argtypes = [ctypes.c_void_p]
        L.dkim_getresultstr.restype = ctypes.c_char_p
        L.dkim_getresultstr.argtypes = [ctypes.c_int]
        _lib = L
    return _lib


def opendkim_verify(msg, keyfile):
    """(ok, status text) of libopendkim verifying msg (CRLF) with the keys in
    keyfile (lines "sel._domainkey.dom v=DKIM1; k=...; p=...")."""
    L = _opendkim()
    lib = L.dkim_init(None, None)
    assert lib, "dkim_init failed"
    try:
        qtype = ctypes.c_int(1)             # DKIM_QUERY_FILE
        L.dkim_options(lib, 1, 6, ctypes.byref(qtype), ctypes.sizeof(qtype))
        path = keyfile.encode()
        buf = ctypes.create_string_buffer(path)
        L.dkim_options(lib, 1, 7, buf, len(path))
        st = ctypes.c_int(0)
        d = L.dkim_verify(lib, b"postern-test", None, ctypes.byref(st))
        assert d, f"dkim_verify failed: {st.value}"
        try:
            head, _, body = msg.partition(b"\r\n\r\n")
            for f in re.split(rb"\r\n(?![ \t])", head):
                s = L.dkim_header(d, f, len(f))
                if s != 0:
                    return False, "dkim_header: " + L.dkim_getresultstr(s).decode()
            s = L.dkim_eoh(d)
            if s != 0:
                return False, "dkim_eoh: " + L.dkim_getresultstr(s).decode()
            if body:
                s = L.dkim_body(d, body, len(body))
                if s != 0:
                    return False, "dkim_body: " + L.dkim_getresultstr(s).decode()
            s = L.dkim_eom(d, None)
            return s == 0, L.dkim_getresultstr(s).decode()
        finally:
            L.dkim_free(d)
    finally:
        L.dkim_close(lib)


# ---- Mail::DKIM -----------------------------------------------------------

PERL = r'''
use strict; use warnings;
use Mail::DKIM::Verifier; use Mail::DKIM::DNS; use Net::DNS::Resolver;
my ($port) = @ARGV;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(nameservers => ['127.0.0.1'],
    port => $port, recurse => 1, tcp_timeout => 5, udp_timeout => 5));
binmode STDIN;
my $v = Mail::DKIM::Verifier->new();
local $/; my $m = <STDIN>;
$v->PRINT($m); $v->CLOSE;
print $v->result, "\n";
print $v->result_detail, "\n";
'''


def mail_dkim_verify(msg, dns_port):
    """(result, detail) of Perl's Mail::DKIM: result is "pass", "fail",
    "invalid", "none", "temperror"..."""
    r = subprocess.run(["perl", "-e", PERL, str(dns_port)], input=msg, capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    lines = r.stdout.decode().splitlines()
    return lines[0], (lines[1] if len(lines) > 1 else "")
