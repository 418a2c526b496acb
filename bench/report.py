#!/usr/bin/env python3
"""bench/report.py — the relay-path half of bench/run's results: reads the records bench/run
wrote while it measured (one per line, "KIND<TAB>key=value<TAB>..."), prints one table with
postern's ratio to each peer, writes it as Markdown and draws a PNG chart (matplotlib).

Pure arithmetic (percentiles, rates, ratios, formatting) is in small functions tested by
bench/tests/test_report.py; the only I/O is in load_records(), write_chart() and main().

Record kinds (all values are plain numbers or text without tabs):
  server   srv= status=ok|"not run: reason" desc=
  run      srv= scen= sink=up|down sessions= conn=0|1 msgs= sent= accept_s= delivered= e2e_s=
           cpu_ticks= hz= lat= (file of microseconds) peak_rss= peak_pss= (KiB) error=
  mem      srv= idle_rss= idle_pss= (KiB)
  idle     srv= want= open= greeted= rss= pss= (KiB) limit= error=
  ceiling  name= rate= (msgs/s or records/s) p50_us= p99_us= note=
"""
import argparse
import math
import os
import sys

SERVERS = ("postern", "postfix", "opensmtpd")
TITLES = {"postern": "postern", "postfix": "Postfix", "opensmtpd": "OpenSMTPD"}
PEERS = ("postfix", "opensmtpd")

# The load shapes, in table order: (scenario name, sessions, connection per message)
SHAPES = (("reuse1", 1, 0), ("reuse20", 20, 0), ("reuse100", 100, 0), ("conn20", 20, 1))


# ---------------------------------------------------------------- arithmetic

def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence; None when empty."""
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError("percentile out of range: %r" % (p,))
    s = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(s)))
    return s[rank - 1]


def rate(count, seconds):
    """count / seconds, None when either is unknown or the time is not positive."""
    if count is None or seconds is None or seconds <= 0:
        return None
    return count / seconds


def ratio(mine, theirs):
    """mine / theirs, None when either is unknown or theirs is 0."""
    if mine is None or theirs is None or theirs == 0:
        return None
    return mine / theirs


def cpu_ms_per_msg(ticks, hz, msgs):
    if ticks is None or not hz or not msgs:
        return None
    return ticks * 1000.0 / hz / msgs


def fmt_num(v, unit=""):
    """Human figure: integers above 100, one decimal above 10, two below; '—' for unknown."""
    if v is None:
        return "—"
    if abs(v) >= 100:
        s = "{:,.0f}".format(v)
    elif abs(v) >= 10:
        s = "{:.1f}".format(v)
    else:
        s = "{:.2f}".format(v)
    return s + unit


def fmt_ratio(r):
    return "—" if r is None else "{:.2f}×".format(r)


def parse_record(line):
    """'kind\\tk=v\\tk=v' -> (kind, {k: v}); numbers become int/float; None for blank lines."""
    line = line.rstrip("\n")
    if not line.strip():
        return None
    parts = line.split("\t")
    fields = {}
    for p in parts[1:]:
        k, sep, v = p.partition("=")
        if not sep:
            raise ValueError("not key=value: %r" % (p,))
        fields[k] = to_number(v)
    return parts[0], fields


def to_number(v):
    try:
        return int(v)
    except ValueError:
        pass
    try:
        f = float(v)
        return f if math.isfinite(f) else v
    except ValueError:
        return v


def read_latencies(path):
    """Microsecond latencies, one per line, as milliseconds."""
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [int(x) / 1000.0 for x in f if x.strip()]


# ---------------------------------------------------------------- the model

class Results:
    def __init__(self, records):
        self.status = {s: "not run: not measured" for s in SERVERS}
        self.desc = {}
        self.runs = {}         # (srv, scen, sink) -> dict with derived figures
        self.mem = {}          # srv -> dict
        self.idle = {}         # srv -> dict
        self.ceilings = {}     # name -> dict
        for kind, f in records:
            if kind == "server":
                self.status[f["srv"]] = str(f.get("status", "ok"))
                self.desc[f["srv"]] = str(f.get("desc", ""))
            elif kind == "run":
                self.runs[(f["srv"], f["scen"], f["sink"])] = derive_run(f)
            elif kind == "mem":
                self.mem[f["srv"]] = f
            elif kind == "idle":
                self.idle[f["srv"]] = f
            elif kind == "ceiling":
                self.ceilings[f["name"]] = f

    def ran(self, srv):
        return self.status.get(srv) == "ok"

    def peak(self, srv, key):
        vals = [r[key] for (s, _, _), r in self.runs.items() if s == srv and r.get(key) is not None]
        return max(vals) if vals else None


def derive_run(f, latencies=None):
    """The figures of one run record: rates, CPU per message, latency percentiles."""
    r = dict(f)
    lat = read_latencies(f.get("lat")) if latencies is None else latencies
    sent = f.get("sent")
    r["accept_rate"] = rate(sent, f.get("accept_s"))
    delivered = f.get("delivered")
    if f.get("sink") == "up":
        r["e2e_rate"] = rate(delivered, f.get("e2e_s"))
        r["all_delivered"] = delivered is not None and sent is not None and delivered >= sent
    r["cpu_ms"] = cpu_ms_per_msg(f.get("cpu_ticks"), f.get("hz"),
                                 delivered if f.get("sink") == "up" else sent)
    r["p50"] = percentile(lat, 50)
    r["p99"] = percentile(lat, 99)
    return r


# ---------------------------------------------------------------- the table

def mib(kib):
    return None if kib is None else kib / 1024.0


def metric_rows(res):
    """[(label, unit, better, {srv: value}, {srv: note})] — the summary table's rows."""
    rows = []

    def run_metric(label, unit, better, scen, sink, key):
        vals = {s: (res.runs.get((s, scen, sink)) or {}).get(key) for s in SERVERS}
        notes = {}
        for s in SERVERS:
            r = res.runs.get((s, scen, sink))
            if r and key == "e2e_rate" and not r.get("all_delivered"):
                notes[s] = "only %s of %s by the deadline" % (r.get("delivered"), r.get("sent"))
            if r and key == "accept_rate" and r.get("msgs") and r.get("sent") != r.get("msgs"):
                notes[s] = "only %s of %s messages got a 2xx by the load deadline (%s)" % (
                    r.get("sent"), r.get("msgs"), str(r.get("error", ""))[:80])
        rows.append((label, unit, better, vals, notes))

    run_metric("durable acceptance, sink stopped, 20 sessions", "msgs/s", "higher", "reuse20", "down", "accept_rate")
    run_metric("durable acceptance, sink stopped, 100 sessions", "msgs/s", "higher", "reuse100", "down", "accept_rate")
    for scen, sess, conn in SHAPES:
        shape = "%d session%s%s" % (sess, "" if sess == 1 else "s", ", connection per message" if conn else "")
        run_metric("accepted, sink up, " + shape, "msgs/s", "higher", scen, "up", "accept_rate")
        run_metric("end-to-end delivered, " + shape, "msgs/s", "higher", scen, "up", "e2e_rate")
        run_metric("CPU per message end to end, " + shape, "ms", "lower", scen, "up", "cpu_ms")
        run_metric("end-of-data reply p50, " + shape, "ms", "lower", scen, "up", "p50")
        run_metric("end-of-data reply p99, " + shape, "ms", "lower", scen, "up", "p99")
    for label, key in (("idle RSS", "idle_rss"), ("idle PSS", "idle_pss")):
        rows.append((label, "MiB", "lower", {s: mib((res.mem.get(s) or {}).get(key)) for s in SERVERS}, {}))
    for label, key in (("peak RSS (relay runs)", "peak_rss"), ("peak PSS (relay runs)", "peak_pss")):
        rows.append((label, "MiB", "lower", {s: mib(res.peak(s, key)) for s in SERVERS}, {}))
    want = max([i.get("want", 0) for i in res.idle.values()] or [0])
    for label, key in (("RSS with %s idle connections" % "{:,}".format(want), "rss"),
                       ("PSS with %s idle connections" % "{:,}".format(want), "pss")):
        vals, notes = {}, {}
        for s in SERVERS:
            i = res.idle.get(s)
            vals[s] = mib(i.get(key)) if i else None
            if i and i.get("greeted") != i.get("want"):
                notes[s] = "%s of %s greeted%s" % (i.get("greeted"), i.get("want"),
                                                  ("; " + str(i["limit"])) if i.get("limit") else "")
        rows.append((label, "MiB", "lower", vals, notes))
    return rows


def render_table(res):
    """Markdown: one row per metric, a column per server, postern's ratio to each peer."""
    head = ["metric", "unit"] + [TITLES[s] for s in SERVERS] + \
           ["postern ÷ %s" % TITLES[p] for p in PEERS] + ["better"]
    lines = ["| " + " | ".join(head) + " |",
             "|---|---|" + "--:|" * (len(SERVERS) + len(PEERS)) + "---|"]
    notes = []
    for label, unit, better, vals, rnotes in metric_rows(res):
        cells = [label, unit]
        for s in SERVERS:
            if not res.ran(s):
                cells.append("not run")
                continue
            cell = fmt_num(vals.get(s))
            if s in rnotes:
                notes.append("%s, %s: %s" % (TITLES[s], label, rnotes[s]))
                cell += " ¹"
            cells.append(cell)
        for p in PEERS:
            cells.append(fmt_ratio(ratio(vals.get("postern"), vals.get(p))) if res.ran(p) else "—")
        cells.append(better)
        lines.append("| " + " | ".join(cells) + " |")
    for s in SERVERS:
        if not res.ran(s):
            notes.insert(0, "**%s not run: %s**" % (TITLES[s], res.status[s].replace("not run: ", "", 1)))
    return "\n".join(lines), notes


def render_runs(res):
    """Markdown: every run, the raw figures."""
    lines = ["| server | scenario | sink | sent | accept s | accepted msgs/s | delivered | e2e s | "
             "e2e msgs/s | CPU ms/msg | p50 ms | p99 ms | peak RSS MiB | peak PSS MiB |",
             "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    order = {s: i for i, s in enumerate(SERVERS)}
    for (s, scen, sink), r in sorted(res.runs.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][2], kv[0][1])):
        lines.append("| " + " | ".join([
            TITLES.get(s, s), scen, sink, str(r.get("sent", "—")), fmt_num(r.get("accept_s")),
            fmt_num(r.get("accept_rate")), str(r.get("delivered", "—")) if sink == "up" else "—",
            fmt_num(r.get("e2e_s")) if sink == "up" else "—", fmt_num(r.get("e2e_rate")),
            fmt_num(r.get("cpu_ms")), fmt_num(r.get("p50")), fmt_num(r.get("p99")),
            fmt_num(mib(r.get("peak_rss"))), fmt_num(mib(r.get("peak_pss")))]) + " |")
    return "\n".join(lines)


def render_ceilings(res):
    lines = []
    src = res.ceilings.get("smtp-source")
    base = src.get("rate") if src else None
    for name, c in res.ceilings.items():
        extra = ""
        if c.get("p50_us") is not None and c.get("p99_us") is not None:
            extra = ", end-of-data reply p50 %s ms / p99 %s ms" % (fmt_num(c["p50_us"] / 1000.0),
                                                                 fmt_num(c["p99_us"] / 1000.0))
        lines.append("- %s: **%s %s**%s%s" % (c.get("note", name), fmt_num(c.get("rate")),
                                            c.get("unit", "msgs/s"), extra, ""))
    if base:
        for scen, n in (("reuse20", 20), ("reuse100", 100)):
            parts = []
            for s in SERVERS:
                r = res.runs.get((s, scen, "down"))
                if res.ran(s) and r and r.get("accept_rate"):
                    parts.append("%s %.0f %%" % (TITLES[s], 100.0 * r["accept_rate"] / base))
            if parts:
                lines.append("- durable acceptance (sink stopped, %d sessions) as a share of the "
                             "smtp-source → smtp-sink ceiling: %s" % (n, ", ".join(parts)))
    return "\n".join(lines)


# ---------------------------------------------------------------- the chart

def write_chart(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = [s for s in SERVERS if res.ran(s)]
    colors = {"postern": "#1f77b4", "postfix": "#ff7f0e", "opensmtpd": "#2ca02c"}
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))

    def bars(ax, groups, getter, title, ylabel, log=False):
        width = 0.8 / max(1, len(servers))
        for i, s in enumerate(servers):
            vals = [getter(s, g) or 0 for g, _ in groups]
            xs = [j + i * width for j in range(len(groups))]
            ax.bar(xs, vals, width, label=TITLES[s], color=colors[s])
            for x, v in zip(xs, vals):
                if v:
                    ax.text(x, v, fmt_num(v), ha="center", va="bottom", fontsize=7, rotation=90)
        ax.set_xticks([j + width * (len(servers) - 1) / 2 for j in range(len(groups))])
        ax.set_xticklabels([lbl for _, lbl in groups], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)

    def run_get(key, sink):
        return lambda s, scen: (res.runs.get((s, scen, sink)) or {}).get(key)

    thr = [("reuse20", "accept 20\n(sink stopped)"), ("reuse100", "accept 100\n(sink stopped)")]
    bars(axes[0][0], thr, run_get("accept_rate", "down"), "durable acceptance, relay config", "msgs/s")
    src = res.ceilings.get("smtp-source")
    if src and src.get("rate"):
        axes[0][0].axhline(src["rate"], color="grey", linestyle="--", linewidth=1)
        axes[0][0].text(0, src["rate"], " smtp-source → smtp-sink ceiling", fontsize=7, va="bottom")
    shapes = [(scen, "%s%d" % ("conn " if conn else "", sess)) for scen, sess, conn in SHAPES]
    bars(axes[0][1], shapes, run_get("e2e_rate", "up"), "end-to-end delivered to smtp-sink (sessions)", "msgs/s")
    bars(axes[1][0], shapes, run_get("p99", "up"), "p99 end-of-data reply latency (sessions)", "ms", log=True)
    memg = [("idle_pss", "idle PSS"), ("peak_pss", "peak PSS"), ("idle10k", "RSS, idle conns")]

    def mem_get(s, key):
        if key == "idle_pss":
            return mib((res.mem.get(s) or {}).get("idle_pss"))
        if key == "peak_pss":
            return mib(res.peak(s, "peak_pss"))
        return mib((res.idle.get(s) or {}).get("rss"))
    bars(axes[1][1], memg, mem_get, "memory (sum over the process tree)", "MiB", log=True)
    fig.suptitle("relay path: each server relays to smtp-sink on loopback (single run; see the results file)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------- main

def load_records(path):
    out = []
    with open(path) as f:
        for line in f:
            rec = parse_record(line)
            if rec:
                out.append(rec)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("records")
    ap.add_argument("--md", help="write the Markdown section here")
    ap.add_argument("--png", help="write the chart here")
    ap.add_argument("--png-link", help="how the Markdown refers to the chart")
    a = ap.parse_args(argv)
    res = Results(load_records(a.records))
    table, notes = render_table(res)
    ceil = render_ceilings(res)
    print(table)
    if notes:
        print()
        print("\n".join("¹ " + n if not n.startswith("**") else n for n in notes))
    print()
    print(ceil)
    chart_note = ""
    if a.png:
        try:
            write_chart(res, a.png)
            chart_note = "![relay chart](%s)\n\n" % (a.png_link or os.path.basename(a.png))
        except ImportError as e:
            chart_note = "(no chart: %s)\n\n" % e
            print("report: no chart: %s" % e, file=sys.stderr)
    if a.md:
        with open(a.md, "w") as f:
            f.write(table + "\n\n")
            if notes:
                f.write("\n".join("- " + n for n in notes) + "\n\n")
            f.write("Machine ceilings, measured in the same run:\n\n" + ceil + "\n\n")
            f.write(chart_note)
            f.write("Every run:\n\n" + render_runs(res) + "\n\n")
            for s in SERVERS:
                if res.desc.get(s):
                    f.write("- %s: %s\n" % (TITLES[s], res.desc[s]))
            for s in SERVERS:
                i = res.idle.get(s)
                if i:
                    f.write("- %s, %s idle connections: %s open, %s greeted%s%s\n" % (
                        TITLES[s], i.get("want"), i.get("open"), i.get("greeted"),
                        ("; " + str(i["limit"])) if i.get("limit") else "",
                        ("; client: " + str(i["error"])) if i.get("error") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
