"""Several apps, several upstream accounts: sender_dependent_relayhost_maps
chooses the relayhost by the envelope sender, and with
smtp_sender_dependent_authentication = yes the sasl_passwd table is searched
by the sender (address, then @domain) before the next-hop, as in Postfix."""
import pytest

from conftest import free_port
from test_relay import SENDER, message, relay_settings, sent_line
from upstream import (PASSWORD, UPSTREAM_WARNINGS, USER, password_map,  # noqa: F401
                      test_ca, upstream)

pytestmark = [pytest.mark.filterwarnings(w) for w in UPSTREAM_WARNINGS]

RCPT = "boss@customer.test"


def hop(up):
    return f"[127.0.0.1]:{up.port}"


def test_each_app_through_its_upstream_with_its_account(make_postern, upstream, test_ca):
    up0 = upstream(mode="starttls")                             # relayhost
    up1 = upstream(mode="starttls", user="app-a", password="secret-a-1")
    up2 = upstream(mode="starttls", user="app-b", password="secret-b-2")
    p = make_postern(start=False)
    relay = password_map(p.base / "sender_relay", {
        "a@appa.test": hop(up1),
        "@appb.test": hop(up2),
    })
    pw = password_map(p.base / "sasl_passwd", {
        "a@appa.test": "app-a:secret-a-1",
        "@appb.test": "app-b:secret-b-2",
        # found only if the sender were not searched first
        hop(up1): "nobody:wrong-pw-9",
        hop(up0): f"{USER}:{PASSWORD}",
    })
    p.settings.update(relay_settings(up0, test_ca, pw,
                                     sender_dependent_relayhost_maps=f"texthash:{relay}",
                                     smtp_sender_dependent_authentication="yes"))
    p.start()
    sends = [("a@appa.test", up1, "app-a"), ("x@appb.test", up2, "app-b"),
             ("y@appb.test", up2, "app-b"), ("other@example.com", up0, USER)]
    qids = [p.send(s, RCPT, message(sender=s)) for s, _, _ in sends]
    for qid in qids:
        p.wait_removed(qid)
    for sender, up, login in sends:
        got = [m for m in up.messages if m["mail_from"] == sender]
        assert len(got) == 1, (sender, up.port, up.messages)
        assert got[0]["login"] == login
    assert len(up0.messages) == 1 and len(up1.messages) == 1 and len(up2.messages) == 2
    log = p.log()
    for s in ("secret-a-1", "secret-b-2", PASSWORD, "wrong-pw-9"):
        assert s not in log


def test_fallback_relay_in_the_first_attempt(make_postern, upstream, test_ca):
    """relayhost refuses connections: the message goes through
    smtp_fallback_relay at once, in the same attempt, with the fallback's
    account; nothing is deferred."""
    down = free_port()                                         # nobody listens
    up = upstream(mode="starttls")
    p = make_postern(start=False)
    pw = password_map(p.base / "sasl_passwd", {hop(up): f"{USER}:{PASSWORD}"})
    s = relay_settings(up, test_ca, pw, smtp_fallback_relay=f"[127.0.0.1]:{free_port()}, {hop(up)}")
    s.update(relayhost=f"[127.0.0.1]:{down}",
             # a backoff would exceed the wait: only the first attempt counts
             minimal_backoff_time="300s", maximal_backoff_time="600s", queue_run_delay="300s")
    p.settings.update(s)
    p.start()
    qid = p.send(SENDER, RCPT, message())
    [m] = up.wait_messages(1, done=lambda: p.wait_removed(qid))
    assert m["login"] == USER and m["rcpt_tos"] == [RCPT]
    p.wait_log(sent_line(qid, RCPT, up))
    log = p.log()
    assert f"{qid}: [127.0.0.1]:{down}: connect to 127.0.0.1[127.0.0.1]:{down}" in log
    assert "trying smtp_fallback_relay" in log
    assert "status=deferred" not in log
