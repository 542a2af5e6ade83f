#!/usr/bin/python3
"""profile.py - where a ctrain training step spends its instructions / time.

    profile.py callgrind CALLGRIND.OUT STEPS       # callgrind --toggle-collect=run_steps
    profile.py perf PERF.DATA STEPS US_PER_STEP    # perf record -e cpu-clock --call-graph dwarf

Groups every function's self cost into the categories of issue 8 (sgemm
calls, bias/activation loops, softmax + cross-entropy, optimizer sweep, batch
copy, graph/dispatch overhead).  libc/libm functions (memset, memcpy, expf,
mutexes) are charged to their caller: OpenBLAS zeroing C through memset is
sgemm time, loader_next's memcpy is the batch copy.  Prints Markdown tables.
Callgrind counts instructions (exact, but a `rep stosb` memset counts one per
byte and memory stalls count nothing); perf samples wall time (noisy, honest).
"""
import re
import subprocess
import sys
from collections import defaultdict

CATS = [
    ("sgemm (OpenBLAS)", None),
    ("optimizer sweep", r"optim|sgd_step|adam_step"),
    # expf/logf with no caller recorded: the softmax (the models here use ReLU).
    ("softmax + cross-entropy", r"softmax|xent|^__expf|^__logf"),
    ("bias + activation loops", r"^act_|relu|bias|^linear_(forward|backward)"),
    ("batch copy + shuffle (loader_next)", r"loader|make_order|data_permutation|^rng_"),
    ("graph / dispatch overhead", r"^graph_|_node$|pool|gemm|^params_|^one_step|^run_steps"),
]


def is_passthrough(obj):
    """Library code charged to its caller."""
    return any(s in obj for s in ("libc.so", "libm.so", "[vdso]", "ld-linux", "[kernel"))


def category(name, obj, via=""):
    """via: the libc function charged to this caller, if any."""
    if "libopenblas" in obj or "libblas" in obj:
        return CATS[0][0]
    base = re.sub(r"\.(constprop|isra|part|cold)\.\d+$", "", name)
    if re.search(r"mem(cpy|move)", via) and re.search(r"gemm", base):
        return "bias + activation loops"  # ops.c copies the bias rows into C before sgemm
    for cat, pat in CATS[1:]:
        if re.search(pat, base):
            return cat
    return "other: " + base


# ---- callgrind -------------------------------------------------------------

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+([<*])\s+(.*?)(?: \(([\d,]+)x\))?"
                  r"(?: \[(.*)\])?$")


def split_name(s):
    """'file:function' -> function."""
    return s.split(":", 1)[1] if ":" in s else s


def callgrind_blocks(path):
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--tree=caller",
                          "--threshold=100", path], capture_output=True, text=True,
                         check=True).stdout
    block = []
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            block = []
            continue
        cost = int(m.group(1).replace(",", ""))
        # glibc functions sometimes come without [object]: their file is "./..."
        obj = m.group(5) or ("libc.so" if m.group(3).startswith("./") else "")
        entry = (m.group(2), cost, split_name(m.group(3)), obj)
        block.append(entry)
        if m.group(2) == "*":
            yield block[-1], block[:-1]
            block = []


def callgrind_costs(path):
    """Self cost per (category, label), libc/libm split over callers."""
    funcs = {}
    for (_, cost, name, obj), callers in callgrind_blocks(path):
        funcs[(name, obj)] = (cost, [(c, n, o) for _, c, n, o in callers])
    costs = defaultdict(float)

    def charge(name, obj, amount, depth=0, via=""):
        if is_passthrough(obj) and depth < 8:
            callers = funcs.get((name, obj), (0, []))[1]
            total = sum(c for c, _, _ in callers)
            if total:
                for c, n, o in callers:
                    charge(n, o, amount * c / total, depth + 1, via or name)
                return
        label = f"{via} ← {name}" if via else name
        costs[(category(name, obj, via), label)] += amount

    for (name, obj), (cost, _) in funcs.items():
        if is_passthrough(obj):
            if cost:
                charge(name, obj, cost)
        else:
            costs[(category(name, obj), name)] += cost
    return costs


# ---- perf ------------------------------------------------------------------

FRAME = re.compile(r"^\s+[0-9a-f]+\s+(.+?)\s+\((.*)\)$")


def perf_costs(path):
    out = subprocess.run(["perf", "script", "--no-inline", "-i", path, "-F", "ip,sym,dso"],
                         capture_output=True, text=True).stdout
    costs = defaultdict(float)
    for sample in out.split("\n\n"):
        frames = [FRAME.match(ln) for ln in sample.splitlines()]
        frames = [(m.group(1), m.group(2)) for m in frames if m]
        if not any("run_steps" in s for s, _ in frames):
            continue  # set-up, not a step
        via = ""
        for sym, dso in frames:
            name = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            if is_passthrough(dso):
                via = via or name
                continue
            label = f"{via} ← {name}" if via else name
            costs[(category(name, dso, via), label)] += 1
            break
    return costs


# ---- report ----------------------------------------------------------------

def table(costs, unit, per_step):
    total = sum(costs.values())
    by_cat = defaultdict(float)
    for (cat, _), v in costs.items():
        by_cat[cat] += v
    lines = [f"| category | share | {unit} per step |", "|---|---:|---:|"]
    for cat, v in sorted(by_cat.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {cat} | {v / total:.1%} | {v / total * per_step:,.1f} |")
    lines += ["", "| function (self, libc/libm charged to caller) | category | share |",
              "|---|---|---:|"]
    for (cat, name), v in sorted(costs.items(), key=lambda kv: -kv[1])[:16]:
        if v / total >= 0.001:
            lines.append(f"| `{name}` | {cat} | {v / total:.1%} |")
    return "\n".join(lines)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "callgrind":
        costs = callgrind_costs(sys.argv[2])
        steps = int(sys.argv[3])
        print(f"Total: {sum(costs.values()) / steps:,.0f} instructions per step "
              f"({steps} steps).\n")
        print(table(costs, "instructions", sum(costs.values()) / steps))
    elif len(sys.argv) >= 5 and sys.argv[1] == "perf":
        costs = perf_costs(sys.argv[2])
        print(f"Samples in run_steps: {sum(costs.values()):,.0f}; {float(sys.argv[4]):.1f} µs "
              f"per step.\n")
        print(table(costs, "µs", float(sys.argv[4])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
