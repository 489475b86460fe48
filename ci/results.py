#!/usr/bin/env python3
"""Write RUN_DIR/results.md and RUN_DIR/writeup.txt from a run folder's own files.

Every figure comes from the run's checks.json, CSV files and provenance.json; nothing is typed in by
hand. `make bench` runs this after the checks; README's "Results" section is a copy of results.md, and
the HTML report shows writeup.txt at the top.

Usage: ci/results.py RUN_DIR
"""
import csv
import json
import os
import sys




def short_commit(commit):
    """The commit's first 12 hex digits, keeping provenance's `-dirty` mark: a run built from a tree
    with uncommitted source changes must not read as the clean commit."""
    head, sep, rest = str(commit).partition("-")
    return head[:12] + (sep + rest if sep else "")

def verdict(c):
    """PASS, FAIL or INCONCLUSIVE (nothing failed, but a statistical decision could not be made)."""
    if c["pass"]:
        return "PASS"
    return "INCONCLUSIVE" if c.get("inconclusive") else "FAIL"

def sig(v, digits=3):
    """A CSV figure to `digits` significant digits ('' stays '')."""
    try:
        return f"{float(v):.{digits}g}"
    except (TypeError, ValueError):
        return v or ""


def load(run, name):
    p = os.path.join(run, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def rows(run, name):
    p = os.path.join(run, name)
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return list(csv.DictReader(f))


def ms(us):
    return f"{float(us) / 1000:.1f} ms"


def num(x, d=0):
    return f"{float(x):,.{d}f}"


def whole(md, run, name, title):
    """Append the whole of CSV `name` as a table under `title`, if the run wrote it."""
    rs = rows(run, name)
    if rs:
        cols = list(rs[0].keys())
        md.append(f"**{title}** (`{name}`):\n\n" + table(cols, [[r[c] for c in cols] for r in rs]))


def table(header, body):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(out)


def main():
    run = sys.argv[1]
    # Name the real folder, not the reports/latest link it may have been called through.
    real = os.path.relpath(os.path.realpath(run))
    prov = load(run, "provenance.json") or {}
    checks = load(run, "checks.json") or {"checks": []}
    by = {c["check"]: c for c in checks["checks"]}
    fig = lambda name: by.get(name, {}).get("figures", {})
    md = []

    host = prov.get("host", {})
    md.append(
        f"Run folder `{real}` — `{prov.get('command', '?')}` at commit `{short_commit(prov.get('commit', '?'))}`, "
        f"{prov.get('date', '?')}, host `{host.get('hostname', '?')}` ({host.get('cpu', '?')}, "
        f"{host.get('cpus', '?')} cpus), kernel {host.get('kernel', '?')}, {prov.get('filesystem', '?')}, "
        f"{prov.get('rustc', '?')}. Open `reports/latest/index.html` for every table."
    )
    md.append(
        "Verdicts: "
        + ", ".join(f"{c['check']} {verdict(c)}" for c in checks["checks"])
        + "."
    )
    contended = [c for c in checks["checks"] if c.get("cpu", {}).get("contended", 0) > 0]
    runs = sum(c.get("cpu", {}).get("runs", 0) for c in checks["checks"])
    if contended:
        md.append(
            "**CPU contention flagged** (another process used more than "
            f"{contended[0]['cpu']['threshold_cores']} cores during a measured run): "
            + "; ".join(f"{c['check']}: {c['cpu']['contended']} of {c['cpu']['runs']} runs (max {c['cpu']['max_other_cores']:.2} cores)" for c in contended)
            + "."
        )
    elif runs:
        md.append(f"CPU: no competing process flagged in any of the {runs} measured runs.")
    io = [c for c in checks["checks"] if c.get("cpu", {}).get("io_contended", 0) > 0]
    if io:
        md.append(
            "**I/O contention flagged** (other processes wrote more than "
            f"{io[0]['cpu'].get('threshold_io_bytes_per_s', 0) / 1e6:.0f} MB/s to storage during a measured run): "
            + "; ".join(
                f"{c['check']}: {c['cpu']['io_contended']} of {c['cpu']['runs']} runs "
                f"(max {c['cpu'].get('max_others_write_bytes_per_s', 0) / 1e6:.1f} MB/s)"
                for c in io
            )
            + "."
        )
    elif runs:
        md.append(f"I/O: no competing writer flagged in any of the {runs} measured runs.")

    ba = fig("before-after")
    whole(md, run, "before-after.csv", "Before / after")

    svf = rows(run, "sink-vs-fio.csv")
    if svf:
        md.append(
            "**Against the disk** (fio, same directory, same run; medians):\n\n"
            + table(
                ["measure", "fio", "ours", "ours / fio"],
                [[r["measure"], num(r["fio_median"]), num(r["ours_median"]), r["fraction_of_fio"]] for r in svf],
            )
        )

    whole(md, run, "load-latency.csv", "Where the SLO stops holding")
    whole(md, run, "window-contenders.csv", "The tuned window vs smart batching vs AIMD (same replay, same run)")
    wc = fig("window").get("contenders")
    if wc:
        md.append(
            f"Which wins where: lowest p99 — {wc.get('lowest_p99')}; fewest fdatasyncs per item — "
            f"{wc.get('fewest_fdatasyncs_per_item')}; most capacity — {wc.get('most_capacity')}."
        )

    ai = rows(run, "aimd-regret.csv")
    if ai:
        af = fig("aimd")
        md.append(
            f"**AIMD against the best static window of each regime** (the oracle; medians of repeated runs; "
            f"low = {num(af.get('low_rate', 0))} items/s (unbatched ceiling / 20), high = {num(af.get('high_rate', 0))} items/s; "
            f"the brownout stretches fdatasyncs {af.get('brownout_factor')}× for the middle third):\n\n"
            + table(
                ["regime", "objective", "contender", "p99", "fdatasyncs/item (whole run)", "scored from", "fdatasyncs/item (scored)", "SLO met", "oracle", "share of oracle"],
                [
                    [r["regime"], r["objective"], r["contender"], ms(r["p99_us"]), sig(r["fdatasyncs_per_item"]),
                     f'{float(r.get("scored_from_s") or 0):.2f} s', sig(r.get("scored_fdatasyncs_per_item")),
                     r["meets_slo"], "yes" if r["is_oracle"] == "true" else "", sig(r["share_of_oracle"])]
                    for r in ai
                ],
            )
        )
        beaten = af.get("statics_beaten_in") or []
        if beaten:
            md.append(
                "Where each static window loses (AIMD ≥ 2× better on the objective, or the SLO breached): "
                + "; ".join(f"{b['contender']}: {', '.join(b['regimes']) or 'nowhere'}" for b in beaten)
                + "."
            )

    whole(md, run, "ingest.csv", "Ingest of a generated NDJSON file")
    pj = load(run, "peers.json")
    if pj and pj.get("command"):
        md.append(f"**Peers** (`{pj['command']}` at commit `{short_commit(pj.get('commit', '?'))}`, {pj.get('date', '?')}, "
                  f"host `{pj.get('host', '?')}`, kernel {pj.get('kernel', '?')}; our pipeline measured again in the same invocation):")
    whole(md, run, "peers-vs.csv", "PostgreSQL group commit vs our pipeline at the same p99 (`make bench-peers`; ours = the highest rate of our open-loop sweep meeting that p99, a lower bound)")
    whole(md, run, "peers-sqlite.csv", "SQLite WAL (synchronous=FULL) vs our pipeline at the same batch size (`make bench-peers`)")
    for skip in ("peers-pg.skip", "peers-sqlite.skip"):
        p = os.path.join(run, skip)
        if os.path.exists(p):
            md.append(f"**Skipped** ({skip[:-5]}): " + open(p).read().strip())

    whole(md, run, "redrive.csv", "DLQ re-drive after the schema fix (ids reconciled by the check)")

    # Gates (bench.sh's gates.txt): a failed one is said above its table, and `make bench` failed.
    gates = {}
    gp = os.path.join(run, "gates.txt")
    if os.path.exists(gp):
        for line in open(gp):
            name, _, status = line.strip().partition(" ")
            gates[name] = status
    failed = [g for g, st in gates.items() if st == "FAIL"]
    skipped = [f"{g} ({st})" for g, st in gates.items() if st.startswith("skipped")]
    if failed:
        md.append("**Gates that FAILED in this run** (so `make bench` failed): " + ", ".join(failed) + ".")
    if skipped:
        md.append("**Gates that could not run on this machine**: " + ", ".join(skipped) + ".")

    # Where make bench's time went (bench.sh's timings.txt), against its 15-minute budget.
    tp = os.path.join(run, "timings.txt")
    if os.path.exists(tp):
        t = dict(line.split() for line in open(tp) if len(line.split()) == 2)
        done = "total" in t
        total = int(t.pop("total", sum(int(v) for v in t.values())))
        cj = load(run, "checks.json") or {}
        per_check = [f"{c['check']} {c['seconds']:.0f} s" for c in cj.get("checks", []) if "seconds" in c]
        md.append(
            (f"**Time**: `make bench` took {total / 60:.1f} min ({'within' if total <= 900 else '**over**'} its 15-minute budget): "
             if done else f"**Time** so far (the run had not finished): {total / 60:.1f} min: ")
            + ", ".join(f"{k} {int(v)} s" for k, v in t.items())
            + (f"; checks: {', '.join(per_check)}" if per_check else "")
            + "."
        )

    def gate_note(name):
        return " — **this gate FAILED in this run**" if gates.get(name) == "FAIL" else ""

    ic = rows(run, "icount.csv")
    if ic:
        md.append(
            f"**Instruction counts**{gate_note('icount')} (Callgrind via gungraun, vs the budgets committed in `ci/icount-budgets.tsv`):\n\n"
            + table(["bench", "budget Ir", "measured Ir", "delta"], [[r["bench"], num(r["budget_ir"]), num(r["measured_ir"]), r["delta_pct"] + " %"] for r in ic])
        )
    al = rows(run, "alloc.csv")
    if al:
        k0, k1 = list(al[0].keys())[:2]
        md.append(f"**Allocations**{gate_note('allocations')} on the steady-state path (NullSink): " + ", ".join(f"{r[k0]}: {r[k1]}" for r in al) + ".")

    # The write-up: from the figures, in one paragraph.
    w = []
    sp = ba.get("speedup")
    sat = ba.get("saturation_items_per_s", {})
    if sp and sat:
        un = sat.get("unbatched", {}).get("median") if isinstance(sat.get("unbatched"), dict) else None
        bt = sat.get("batched", {}).get("median") if isinstance(sat.get("batched"), dict) else None
        if un and bt:
            fio = fig("physical").get("fio_128_syncs_per_s", {}).get("median")
            fio_txt = f" (fio's 128 B append+fdatasync rate in the same run: {num(fio)}/s)" if fio else ""
            w.append(
                f"The fixed cost is the fdatasync: one per item holds the pipeline to {num(un)} items/s{fio_txt}; "
                f"the tuned window pays it once per batch and takes {num(bt)} items/s, {num(bt / un)}× more."
            )
            cd = ba.get("disk_ceiling_speedup_decision") or {}
            civ = cd.get("interval") or {}
            if civ.get("median") and civ.get("lo") is not None and civ.get("hi") is not None:
                w.append(
                    f"This disk's own ceiling on that ratio (fio's best append+fdatasync bandwidth over the bytes per item, "
                    f"against the same pairs' unbatched rate) was {num(civ['median'])}× (interval {num(civ['lo'])}–{num(civ['hi'])}×, "
                    f"{civ.get('n')} pairs): the 500× bar {'is within' if cd.get('outcome') == 'holds' else 'is past' if cd.get('outcome') == 'fails' else 'may or may not be within'} what it can show."
                )
    win = fig("window").get("chosen")
    if win:
        w.append(
            f"The window ({win['max_items']} items / {win['max_bytes'] // 1024} KiB / {win['linger_ms']} ms linger) was chosen by the sweep: "
            + (f"{fig('window')['rule']}." if fig("window").get("rule") else
               "the largest-capacity window whose size bound fills at peak and whose bursty p99 stays within "
               + (f"{fig('window')['slo_headroom'] * 100:.0f} % of the SLO." if fig("window").get("slo_headroom") else "the sweep's headroom under the SLO."))
        )
    a = fig("aimd")
    if a.get("regimes"):
        if by["aimd"]["pass"]:
            w.append(
                "An AIMD linger passes its check: in every regime it meets the SLO within 90 % of that regime's "
                "best static window, and every static window loses clearly somewhere (see the AIMD regret table)."
            )
        else:
            w.append(
                f"An AIMD linger does not pass its check in this run ({verdict(by['aimd'])}): see the AIMD regret "
                "table for the regimes where the best static window did better."
            )
    ov = fig("overflow").get("recommendation")
    if ov:
        first = ov.split(" All policies:")[0].rstrip(".") if isinstance(ov, str) else json.dumps(ov)
        w.append(f"Overflow — {first}; the trade-off of each policy is in the overflow table.")
    w.append(
        "Alert first on `ingest_items_dropped_total` + `ingest_items_rejected_total` rising (any increase is data lost or refused, "
        "by reason), then on `ingest_latency_seconds{quantile=\"0.99\"}` above the SLO: losses are irreversible, latency is not."
    )
    with open(os.path.join(run, "writeup.txt"), "w") as f:
        f.write(" ".join(w) + "\n")
    md.insert(2, "**Write-up.** " + " ".join(w))
    with open(os.path.join(run, "results.md"), "w") as f:
        f.write("\n\n".join(md) + "\n")


if __name__ == "__main__":
    main()
