"""bench/report.py: the arithmetic and the table, on made-up records (no timing, no servers)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import report  # noqa: E402


def test_percentile_nearest_rank():
    v = list(range(1, 101))           # 1..100
    assert report.percentile(v, 50) == 50
    assert report.percentile(v, 99) == 99
    assert report.percentile(v, 100) == 100
    assert report.percentile([7], 99) == 7
    assert report.percentile([3, 1, 2], 50) == 2       # unsorted input
    assert report.percentile([], 50) is None
    with pytest.raises(ValueError):
        report.percentile([1], 101)


def test_rate_ratio_cpu():
    assert report.rate(1000, 2.0) == 500
    assert report.rate(1000, 0) is None
    assert report.rate(None, 1) is None
    assert report.ratio(300, 100) == 3
    assert report.ratio(1, 0) is None
    assert report.ratio(None, 2) is None
    # 250 ticks at 100 Hz over 1000 messages = 2.5 ms each
    assert report.cpu_ms_per_msg(250, 100, 1000) == pytest.approx(2.5)
    assert report.cpu_ms_per_msg(250, 100, 0) is None


def test_formatting():
    assert report.fmt_num(None) == "—"
    assert report.fmt_num(12345.6) == "12,346"
    assert report.fmt_num(42.25) == "42.2" or report.fmt_num(42.25) == "42.3"
    assert report.fmt_num(0.5) == "0.50"
    assert report.fmt_ratio(2.0) == "2.00×"
    assert report.fmt_ratio(None) == "—"


def test_parse_record():
    kind, f = report.parse_record("run\tsrv=postern\tsent=20\taccept_s=0.5\terror=a b=c\n")
    assert kind == "run"
    assert f == {"srv": "postern", "sent": 20, "accept_s": 0.5, "error": "a b=c"}
    assert report.parse_record("  \n") is None
    with pytest.raises(ValueError):
        report.parse_record("run\tnovalue")


def test_derive_run_uses_delivered_for_end_to_end():
    f = {"srv": "postern", "scen": "reuse20", "sink": "up", "sent": 100, "accept_s": 0.5,
         "delivered": 80, "e2e_s": 2.0, "cpu_ticks": 40, "hz": 100}
    r = report.derive_run(f, latencies=[1.0] * 98 + [9.0, 10.0])
    assert r["accept_rate"] == 200
    assert r["e2e_rate"] == 40                 # what the sink counted, over the whole time
    assert r["all_delivered"] is False
    assert r["cpu_ms"] == pytest.approx(5.0)   # 0.4 s of CPU over 80 delivered
    assert r["p50"] == 1.0 and r["p99"] == 9.0


def _records(tmp_path):
    lat = tmp_path / "lat"
    lat.write_text("1000\n2000\n3000\n")
    recs = [
        ("server", {"srv": "postern", "status": "ok"}),
        ("server", {"srv": "postfix", "status": "ok"}),
        ("server", {"srv": "opensmtpd", "status": "not run: unshare -m is not permitted here"}),
        ("mem", {"srv": "postern", "idle_rss": 2048, "idle_pss": 1024}),
        ("mem", {"srv": "postfix", "idle_rss": 4096, "idle_pss": 4096}),
        ("idle", {"srv": "postfix", "want": 10000, "open": 10000, "greeted": 2000,
                  "rss": 1024 * 1000, "pss": 1024 * 500, "limit": "maxproc 2000"}),
    ]
    for srv, acc in (("postern", 2.0), ("postfix", 4.0)):
        recs.append(("run", {"srv": srv, "scen": "reuse20", "sink": "down", "sent": 1000,
                             "accept_s": acc, "cpu_ticks": 10, "hz": 100, "lat": str(lat)}))
    return [r for r in recs]


def test_table_ratios_and_not_run(tmp_path):
    res = report.Results(_records(tmp_path))
    table, notes = report.render_table(res)
    row = [l for l in table.splitlines() if l.startswith("| durable acceptance, sink stopped, 20")][0]
    cells = [c.strip() for c in row.strip("|").split("|")]
    # metric, unit, postern, Postfix, OpenSMTPD, ÷Postfix, ÷OpenSMTPD, better
    assert cells[2:8] == ["500", "250", "not run", "2.00×", "—", "higher"]
    assert any("OpenSMTPD not run: unshare -m is not permitted here" in n for n in notes)
    idle = [l for l in table.splitlines() if l.startswith("| RSS with 10,000 idle")][0]
    assert "¹" in idle and any("2000 of 10000 greeted; maxproc 2000" in n for n in notes)
    runs = report.render_runs(res)
    assert "| postern | reuse20 | down | 1000 |" in runs
    assert "2.00" in runs            # p50 of 1, 2, 3 ms


def test_main_writes_markdown(tmp_path):
    rec = tmp_path / "records"
    with open(rec, "w") as f:
        for kind, fields in _records(tmp_path):
            f.write("\t".join([kind] + ["%s=%s" % kv for kv in fields.items()]) + "\n")
        f.write("ceiling\tname=smtp-source\trate=10000\tunit=msgs/s\tnote=ceiling\n")
    md = tmp_path / "out.md"
    assert report.main([str(rec), "--md", str(md)]) == 0
    text = md.read_text()
    assert "postern ÷ Postfix" in text
    assert "**10,000 msgs/s**" in text
    assert "postern 5 %, Postfix 2 %" in text     # 500 and 250 msgs/s of 10,000
