#!/usr/bin/python3
"""Validate a DSN (RFC 3464 / RFC 6522) read from stdin with Python's email
package. Used by tests/unit/test_bounce.c; exit 0 when valid, 1 otherwise
with the reasons on stderr.

Options: --action failed|delayed   every recipient block has this Action
         --recipients N            exactly N per-recipient blocks
         --part3 TYPE              content type of the third part
"""
import argparse
import email
import email.policy
import re
import sys

STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
RECIPIENT = re.compile(r"^(rfc822|utf-8);\s*\S+")
errors = []


def check(cond, what):
    if not cond:
        errors.append(what)
    return cond


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--action", choices=["failed", "delayed"])
    ap.add_argument("--recipients", type=int)
    ap.add_argument("--part3", choices=["message/rfc822", "text/rfc822-headers"])
    args = ap.parse_args()
    data = sys.stdin.buffer.read()

    # raw form: CRLF everywhere, lines within RFC 5322's limit
    check(data.endswith(b"\r\n"), "does not end with CRLF")
    for n, line in enumerate(data.split(b"\r\n")[:-1], 1):
        check(b"\n" not in line and b"\r" not in line, f"line {n}: bare CR or LF")
        check(len(line) <= 998, f"line {n}: {len(line)} octets")

    msg = email.message_from_bytes(data, policy=email.policy.default)
    check(msg.get_content_type() == "multipart/report", "not multipart/report")
    check(msg.get_param("report-type") == "delivery-status", "report-type")
    check(msg.get_boundary(), "no boundary")
    check(msg["Date"] is not None and msg["Date"].datetime is not None, "Date")
    check("MAILER-DAEMON@" in str(msg["From"] or ""), "From")
    check(str(msg["Subject"] or "") in ("Undelivered Mail Returned to Sender",
                                        "Delayed Mail (still being retried)"), "Subject")
    check(msg["To"] is not None and len(msg["To"].addresses) == 1, "To")
    check(str(msg["Auto-Submitted"] or "") == "auto-replied", "Auto-Submitted")
    check(str(msg["MIME-Version"] or "") == "1.0", "MIME-Version")
    check(re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(msg["Message-ID"] or "")), "Message-ID")

    parts = msg.get_payload() if msg.is_multipart() else []
    if check(len(parts) == 3, f"{len(parts)} parts, not 3"):
        text, status, orig = parts
        check(text.get_content_type() == "text/plain", "part 1 type")
        check(text.get_content_charset() == "utf-8", "part 1 charset")
        check("This is the mail system at host" in text.get_content(), "part 1 text")

        check(status.get_content_type() == "message/delivery-status", "part 2 type")
        blocks = status.get_payload()
        if check(isinstance(blocks, list) and len(blocks) >= 2, "part 2 blocks"):
            per_msg, rcpts = blocks[0], blocks[1:]
            check(str(per_msg["Reporting-MTA"] or "").startswith("dns;"), "Reporting-MTA")
            check(per_msg["Arrival-Date"] is not None, "Arrival-Date")
            if args.recipients is not None:
                check(len(rcpts) == args.recipients,
                      f"{len(rcpts)} recipient blocks, not {args.recipients}")
            for i, r in enumerate(rcpts):
                check(RECIPIENT.match(str(r["Final-Recipient"] or "")),
                      f"rcpt {i}: Final-Recipient")
                action = str(r["Action"] or "")
                check(action in ("failed", "delayed"), f"rcpt {i}: Action")
                if args.action:
                    check(action == args.action, f"rcpt {i}: Action {action}")
                check(STATUS.match(str(r["Status"] or "")), f"rcpt {i}: Status")
                check(r["Last-Attempt-Date"] is not None, f"rcpt {i}: Last-Attempt-Date")
        try:
            status.as_bytes().decode("ascii")
        except UnicodeDecodeError:
            errors.append("part 2 is not ASCII")

        ctype = orig.get_content_type()
        check(ctype in ("message/rfc822", "text/rfc822-headers"), f"part 3 type {ctype}")
        if args.part3:
            check(ctype == args.part3, f"part 3 type {ctype}, not {args.part3}")
        if ctype == "message/rfc822":
            inner = orig.get_payload()
            check(isinstance(inner, list) and len(inner) == 1, "part 3 payload")

    for part in msg.walk():
        for d in part.defects:
            errors.append(f"defect in {part.get_content_type()}: {d!r}")

    for e in errors:
        print("dsn_parse:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
