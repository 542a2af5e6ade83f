#!/usr/bin/python3
"""report.py - turns run.sh's bench_raw.jsonl into bench.md and bench.svg.

    /usr/bin/python3 experiments/bench/report.py RAW.jsonl OUTDIR

Figures: for each configuration the windows of both runs of a side are pooled
and their median is the samples/s reported; "runs" gives the ratio of each
pair of runs (ctrain run i / torch run i), to show how much the load moved.
No third-party modules (matplotlib is not installed here): the SVG is written
by hand.
"""
import json
import statistics
import sys
from collections import defaultdict

MODELS = ["784,256,10", "784,1024,1024,10"]
OPTIMS = ["sgd", "adam"]
OPT_LABEL = {"sgd": "SGD-momentum", "adam": "Adam"}


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def key(r):
    return (r["layers"], r["optim"], r["batch"], r["threads"])


def quartiles(v):
    if len(v) < 2:
        return v[0], v[0]
    q = statistics.quantiles(v, n=4)
    return q[0], q[2]


def step_rows(recs):
    """One row per configuration, from duel.py's step/sgemm/pair records."""
    steps = defaultdict(dict)
    for r in recs:
        if r["kind"] == "step":
            side = "nondet" if r.get("deterministic", 1) == 0 else r["impl"]
            steps[key(r)][side] = r
        elif r["kind"] == "sgemm" and "optim" in r:
            steps[key(r)]["sgemm"] = r
        elif r["kind"] == "pair":
            steps[key(r)]["pair"] = r
    rows = []
    for k, d in steps.items():
        if not all(x in d for x in ("ctrain", "torch", "pair")):
            continue
        p = d["pair"]
        rows.append({"layers": k[0], "optim": k[1], "batch": k[2], "threads": k[3],
                     "ctrain": d["ctrain"]["median_sps"], "torch": d["torch"]["median_sps"],
                     "ratio": statistics.median(p["ratios"]), "iqr": quartiles(p["ratios"]),
                     "cpu_ratio": statistics.median(p["cpu_ratios"]),
                     "bound": d["sgemm"]["median_sps"] if "sgemm" in d else None,
                     "bound_frac": statistics.median(p["bound_ratios"]),
                     "nondet": d["nondet"]["median_sps"] if "nondet" in d else None})
    order = {m: i for i, m in enumerate(MODELS)}
    rows.sort(key=lambda r: (r["threads"], order.get(r["layers"], 9), r["layers"],
                             OPTIMS.index(r["optim"]), r["batch"]))
    return rows


def goal_of(r):
    """The issue's goal for a row (1 thread only), or None."""
    if r["threads"] != 1:
        return None
    if r["layers"] == "784,256,10":
        return {32: 1.5, 512: 1.05}.get(r["batch"])
    if r["layers"] == "784,1024,1024,10":
        return 1.0
    return None


def fmt(x):
    return f"{x:,.0f}" if x is not None else "-"


def cpu_time(s):
    m, sec = s.rstrip("s").split("m")
    return 60 * float(m) + float(sec)


def load_section(recs):
    """Uptime lines and the CPU other processes used while this ran."""
    mach = [r for r in recs if r["kind"] == "machine"]
    me = next((r for r in recs if r["kind"] == "self_cpu"), None)
    out = []
    if mach:
        m = mach[0]
        vm = {True: ", virtual machine", False: ""}.get(m.get("vm"), "")
        out.append(f"- CPU: {m['cpu']}, {m['nproc']} cores (`nproc`){vm}, {m['kernel']}, "
                   f"run on {m['date']}")
    for m in mach:
        out.append(f"- {m['when']}: `{m['uptime']}`")
    if len(mach) >= 2 and me:
        a = [int(x) for x in mach[0]["stat_cpu"].split()[1:]]
        b = [int(x) for x in mach[-1]["stat_cpu"].split()[1:]]
        d = [y - x for x, y in zip(a, b)]
        hz = 100.0
        busy = (d[0] + d[1] + d[2] + d[5] + d[6]) / hz
        steal = d[7] / hz if len(d) > 7 else 0.0
        total = sum(d[:8]) / hz / int(mach[0]["nproc"])
        ours = cpu_time(me["user"]) + cpu_time(me["sys"])
        others = max(0.0, busy - ours)
        out.append(f"- over the run ({total:.0f} s wall): this benchmark used {ours:.0f} CPU-s, "
                   f"other processes {others:.0f} CPU-s (on average {others / total:.2f} of "
                   f"{mach[0]['nproc']} cores busy with other work), hypervisor steal "
                   f"{steal:.0f} s")
    return out


def build_section(recs):
    out = []
    for r in recs:
        if r["kind"] == "build":
            mod = ("an exported tree, not a git work tree" if r["modified_files"] < 0 else
                   f"{r['modified_files']} modified files under nn/ data/ ckpt/ train/ util/")
            out.append(f"- library measured: commit `{r['commit']}` ({mod}), bench program "
                       f"`{r['bench_step']}`")
    return out


def info_section(recs):
    out = []
    for r in recs:
        if r["kind"] != "info":
            continue
        if r["impl"] == "ctrain":
            out.append(f"- {r.get('threads', '?')} thread(s), ctrain: OpenBLAS core "
                       f"`{r['blas_core']}`, `{r['blas_config']}`, deterministic partition "
                       f"{r.get('deterministic', '?')}, openblas_get_num_threads() = "
                       f"{r['blas_threads']}")
        else:
            cfg = "; ".join(r["torch_config"])
            out.append(f"- {r['torch_threads']} thread(s), PyTorch {r['torch']}: "
                       f"torch.get_num_threads() = {r['torch_threads']}, "
                       f"OpenBLAS loaded: `{r['openblas_path']}` core `{r['blas_core']}` "
                       f"threads {r.get('blas_threads')}; config: {cfg}")
    return out


def step_table(rows):
    out = ["| model | optimizer | batch | threads | ctrain samples/s | torch samples/s "
           "| **ratio** | ratio, middle half of rounds | ratio by CPU time | goal "
           "| sgemm-bound samples/s | ctrain / bound | ctrain, deterministic=false |",
           "|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|"]
    for r in rows:
        g = goal_of(r)
        goal = "" if g is None else (f"≥ {g:g} " + ("met" if r["ratio"] >= g else "**not met**"))
        lo, hi = r["iqr"]
        out.append(f"| {r['layers']} | {OPT_LABEL[r['optim']]} | {r['batch']} | {r['threads']} "
                   f"| {fmt(r['ctrain'])} | {fmt(r['torch'])} | **{r['ratio']:.2f}** "
                   f"| {lo:.2f}–{hi:.2f} | {r['cpu_ratio']:.2f} | {goal} | {fmt(r['bound'])} "
                   f"| {r['bound_frac']:.0%} | {fmt(r['nondet'])} |")
    return out


def sgemm_lines(recs):
    out = []
    for r in recs:
        if r["kind"] == "sgemm" and "optim" not in r:
            out.append(f"- {r['layers']}, batch {r['batch']}, threads {r['threads']}: "
                       f"sgemm-only {fmt(r['median_sps'])} samples/s "
                       f"({r['gflops']:.1f} GFLOP/s; {fmt(r['median_sps_with_input_grad'])} "
                       "if the input's gradient were computed too)")
    return out


def ms(x):
    return f"{x * 1e3:.1f} ms"


def ckpt_section(recs):
    ck = [r for r in recs if r["kind"] == "ckpt"]
    out = ["| state | file | sync checkpoint | = take (small fields) | + image build | "
           "+ atomic write | plain write+fsync | ratio (goal ≤ 1.3) | checkpointer_save, sync, "
           "with retention |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in ck:
        out.append(
            f"| {r['layers']} {OPT_LABEL[r['optim']]} | {r['ckpt_bytes'] / 1e6:.1f} MB "
            f"| {ms(r['sync_sec'])} | {ms(r['take_sec'])} | {ms(r['serialize_sec'])} "
            f"| {ms(r['atomic_write_sec'])} | {ms(r['sync_plain_sec'])} "
            f"| **{r['sync_ratio']:.2f}** | {ms(r['checkpointer_sync_sec'])} |")
    out += ["", "| state | async stall | memcpy of state | ratio (goal ≤ 2) | background write "
            "| resume warm | resume cold | export (f32) | plain write+fsync | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in ck:
        out.append(
            f"| {r['layers']} {OPT_LABEL[r['optim']]} | {ms(r['async_stall_sec'])} "
            f"| {ms(r['memcpy_sec'])} | **{r['async_ratio']:.2f}** | {ms(r['async_write_sec'])} "
            f"| {ms(r['resume_warm_sec'])} | {ms(r['resume_cold_sec'])} "
            f"| {ms(r['export_sec'])} ({r['export_bytes'] / 1e6:.1f} MB) "
            f"| {ms(r['export_plain_sec'])} | {r['export_ratio']:.2f} |")
    return out


def goals_section(rows, recs):
    out = []
    one = [r for r in rows if goal_of(r) is not None]
    for r in one:
        ok = r["ratio"] >= goal_of(r)
        out.append(f"- {r['layers']} {OPT_LABEL[r['optim']]} batch {r['batch']}: "
                   f"{r['ratio']:.2f}× (goal ≥ {goal_of(r):g}×) — {'met' if ok else 'NOT met'}")
    for r in rows:
        if r["threads"] == 1 and r["layers"] == "784,1024,1024,10" and r["batch"] == 512:
            f = r["bound_frac"]
            out.append(f"- 784-1024-1024-10 {OPT_LABEL[r['optim']]} batch 512: {f:.0%} of the "
                       f"sgemm-bound rate (goal ≥ 85%) — {'met' if f >= 0.85 else 'NOT met'}")
    for r in recs:
        if r["kind"] == "ckpt":
            out.append(f"- checkpoint ({OPT_LABEL[r['optim']]} state): sync "
                       f"{r['sync_ratio']:.2f}× plain write+fsync (goal ≤ 1.3) — "
                       f"{'met' if r['sync_ratio'] <= 1.3 else 'NOT met'}; async stall "
                       f"{r['async_ratio']:.2f}× memcpy (goal ≤ 2) — "
                       f"{'met' if r['async_ratio'] <= 2 else 'NOT met'}")
    return out


def protocol(recs):
    """Rounds per configuration, from the data."""
    pairs = [r for r in recs if r["kind"] == "pair"]
    return len(pairs[0]["ratios"]) if pairs else 0


def markdown(recs, rows):
    nr = protocol(recs)
    md = ["# ctrain vs PyTorch on CPU: MLP training steps, side by side", "",
          "Written by `experiments/bench/run.sh` (`make bench`); raw figures in "
          "`bench_raw.jsonl`, chart in `bench.svg`.  For each configuration "
          "`experiments/bench/duel.py` keeps a warmed-up ctrain step (`bench_step serve`) and "
          "a warmed-up PyTorch step (`bench_torch.py serve`) in two processes and runs "
          f"{nr} rounds; a round is one timed window (≥ 0.5 s and ≥ 3 steps) of each, one "
          "after the other (only one runs at a time), plus one window of the step's sgemm "
          "calls alone; the order is reversed every other round.  **ratio** is the median over "
          "rounds of ctrain/torch within a round, so load from other processes that comes and "
          "goes hits both sides alike; samples/s are medians of each side's windows.  "
          "*ratio by CPU time* uses process CPU time instead of wall time (not inflated by "
          "preemption; meaningful for 1 thread).  `OPENBLAS_NUM_THREADS`, `OMP_NUM_THREADS`, "
          "`MKL_NUM_THREADS` equal the thread count for both programs, "
          "`OMP_WAIT_POLICY=PASSIVE`.  Both sides copy a shuffled batch from same-shaped "
          "random data (8192 rows) every step, compute the loss value, backward, update; "
          "PyTorch uses `nn.Sequential` of `Linear`/`ReLU`, `CrossEntropyLoss`, "
          "`zero_grad(set_to_none=True)` and the optimizers' defaults (SGD lr 0.01 momentum "
          "0.9, Adam lr 1e-3; for-loop implementations).",
          "", "## Machine", ""]
    md += build_section(recs) + load_section(recs) + info_section(recs)
    md += ["", "## Training throughput (samples/s, higher is better; ratio = ctrain / torch)",
           "", "ctrain runs as `ctrain train` does by default, `train.deterministic = true`: "
           "every product cut into a fixed row-block partition computed by ctrain's own pool "
           "with single-threaded OpenBLAS calls (same bytes for any thread count).  The last "
           "column is a third program in the same rounds: ctrain with `deterministic = false` "
           "(OpenBLAS's own threading), for 2 threads.", ""] + step_table(rows)
    md += ["", "sgemm-bound rate: the sgemm calls of one step alone (forward x·Wᵀ, dW = dYᵀ·X, "
           "dX = dY·W; no dX for the first layer, as in the step), same shapes, converted to "
           "samples/s.  The bound in the table is measured inside the rounds; standalone "
           "(5 windows, single OpenBLAS calls on OpenBLAS's threads) for the largest case:",
           ""] + sgemm_lines(recs)
    md += ["", "## Checkpoint, resume and export (784-1024-1024-10, 1 thread, medians)", "",
           "sync checkpoint = what `checkpoint.async = false` costs the loop, retention aside: "
           "`ckpt_fields_take_live` (copies the small fields; parameters and moments stay in "
           "the state), `ckpt_fields_serialize` (HDF5 metadata in memory, datasets referenced "
           "in place, CRC) and `atomic_write_iov` (temp file, one writev, fsync, rename, "
           "directory fsync), vs `open`+`write`+`fsync`+`close` of the same byte count in the "
           "same directory.  The last column is `checkpointer_save` in sync mode keeping 2 "
           "files: it also deletes the oldest checkpoint (an unlink of 22 MB) and fsyncs the "
           "directory.  async stall = time "
           "`checkpointer_save` blocks the loop in async mode (previous write finished) vs one "
           "`memcpy` of params+moments.  resume = `snapshot_read` + `snapshot_apply` (warm: file "
           "in page cache; cold: after `posix_fadvise(DONTNEED)`).  export = `ct_model_export` "
           "(safetensors f32).", ""] + ckpt_section(recs)
    md += ["", "## Goals of issue 8 (1 thread)", ""] + goals_section(rows, recs) + [""]
    return "\n".join(md)


def svg(rows):
    """Ratio bars: one panel per model, groups by batch, a bar per optimizer x threads."""
    W, H, top, left, ph = 920, 560, 60, 60, 180
    series = [(o, t) for o in OPTIMS for t in (1, 2)]
    colors = {("sgd", 1): "#1f77b4", ("sgd", 2): "#9ecae1",
              ("adam", 1): "#d62728", ("adam", 2): "#fc9e9e"}
    ymax = max([2.0] + [r["ratio"] * 1.1 for r in rows])
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<!-- bars: median per-round ratio; whiskers: middle half of the rounds -->',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">ctrain / PyTorch '
         f'training samples/s (above 1 = ctrain faster; whiskers: middle half of rounds)</text>']
    for mi, model in enumerate(MODELS):
        y0 = top + mi * (ph + 60)
        pw = W - left - 20

        def ypix(v, y0=y0):
            return y0 + ph - v / ymax * ph
        s.append(f'<text x="{left}" y="{y0 - 8}" font-size="13">{model}</text>')
        for tick in [x * 0.5 for x in range(int(ymax / 0.5) + 1)]:
            y = ypix(tick)
            s.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{"#000" if tick == 1 else "#ddd"}"/>')
            s.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
        batches = sorted({r["batch"] for r in rows if r["layers"] == model})
        gw = pw / max(1, len(batches))
        bw = gw * 0.8 / len(series)
        for bi, b in enumerate(batches):
            gx = left + bi * gw + gw * 0.1
            s.append(f'<text x="{gx + gw * 0.4:.1f}" y="{y0 + ph + 16}" '
                     f'text-anchor="middle">batch {b}</text>')
            for si, (o, t) in enumerate(series):
                r = next((r for r in rows if (r["layers"], r["batch"], r["optim"],
                                              r["threads"]) == (model, b, o, t)), None)
                if not r:
                    continue
                x, y = gx + si * bw, ypix(r["ratio"])
                s.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" '
                         f'height="{y0 + ph - y:.1f}" fill="{colors[(o, t)]}"/>')
                lo, hi = ypix(r["iqr"][0]), ypix(min(r["iqr"][1], ymax))
                xm = x + bw / 2 - 1
                s.append(f'<line x1="{xm:.1f}" x2="{xm:.1f}" y1="{lo:.1f}" y2="{hi:.1f}" '
                         f'stroke="#333"/>')
                s.append(f'<text x="{xm:.1f}" y="{min(y, hi) - 3:.1f}" text-anchor="middle" '
                         f'font-size="10">{r["ratio"]:.2f}</text>')
    ly = H - 22
    for si, (o, t) in enumerate(series):
        x = left + si * 200
        s.append(f'<rect x="{x}" y="{ly - 10}" width="12" height="12" fill="{colors[(o, t)]}"/>')
        s.append(f'<text x="{x + 16}" y="{ly}">{OPT_LABEL[o]}, {t} thread{"s" if t > 1 else ""}'
                 f'</text>')
    s.append("</svg>")
    return "\n".join(s) + "\n"


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: report.py RAW.jsonl OUTDIR")
    recs = load(sys.argv[1])
    rows = step_rows(recs)
    with open(f"{sys.argv[2]}/bench.md", "w") as f:
        f.write(markdown(recs, rows))
    with open(f"{sys.argv[2]}/bench.svg", "w") as f:
        f.write(svg(rows))
    for line in step_table(rows) + [""] + goals_section(rows, recs):
        print(line)


if __name__ == "__main__":
    main()
