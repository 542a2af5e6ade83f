#!/usr/bin/python3
"""CSV load time and peak RSS: ctrain's csv_load (this tree, and optionally an
older commit's) against numpy.loadtxt, on the 100 MB CSV of issue 18
(100,000 rows x 100 float features + an integer label, "%.7g", page cache
warm, OPENBLAS_NUM_THREADS=1).

usage: /usr/bin/python3 experiments/bench/csv_bench.py [--reps N] [--old-ref REF]
                                                        [--rows N]

Builds experiments/bench/csv/csv_time.c against build/libctrain.a (run `make`
first) and, with --old-ref, against the libctrain.a of git commit REF (built
from `git archive REF` under $TMPDIR).  Each tool runs --reps times,
interleaved; the table shows the median seconds of the load call alone
(timed inside the process, so interpreter start-up and `import numpy` are not
counted against numpy), the median CPU seconds (user + sys) of the whole
process and its peak RSS.  csv_time also prints a hash of the floats and
labels: old and new must agree.  Writes everything under $TMPDIR and deletes
it.  Prints a Markdown table.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ap = argparse.ArgumentParser()
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--old-ref")
ap.add_argument("--rows", type=int, default=100_000)
args = ap.parse_args()
T = tempfile.mkdtemp(prefix="ctrain-csv-bench.", dir=os.environ.get("TMPDIR") or None)
env = dict(os.environ, OPENBLAS_NUM_THREADS="1", LC_ALL="C")


def sh(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def build_csv_time(lib, out):
    libs = sh(["pkg-config", "--libs", "openblas", "hdf5-serial", "jansson", "libzip", "zlib"]).split()
    sh(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-o", out,
        f"{ROOT}/experiments/bench/csv/csv_time.c", lib] + libs + ["-lpthread", "-lm"])




def run(argv):
    # os.wait4 gives the rusage of exactly this child
    pid = os.fork()
    if pid == 0:
        fd = os.open(f"{T}/out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.execve(argv[0], argv, env)
    _, status, ru = os.wait4(pid, 0)
    if status:
        sys.exit(f"{argv} failed with status {status}")
    with open(f"{T}/out") as f:
        out = f.read()
    return out, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


try:
    tools = {}
    build_csv_time(f"{ROOT}/build/libctrain.a", f"{T}/csv_time_new")
    tools["ctrain (this tree)"] = [f"{T}/csv_time_new"]
    if args.old_ref:
        src = f"{T}/old"
        os.mkdir(src)
        subprocess.run(f"git -C {ROOT} archive {args.old_ref} | tar -x -C {src}", shell=True, check=True)
        sh(["make", "-C", src, "-j2", "build/libctrain.a"])
        build_csv_time(f"{src}/build/libctrain.a", f"{T}/csv_time_old")
        tools[f"ctrain ({args.old_ref})"] = [f"{T}/csv_time_old"]
    py = ("import sys, time, json, numpy as np\n"
          "t = time.perf_counter()\n"
          "a = np.loadtxt(sys.argv[1], delimiter=',', dtype=np.float32)\n"
          "print(json.dumps({'seconds': time.perf_counter() - t, 'rows': a.shape[0]}))\n")
    tools["numpy.loadtxt (float32)"] = ["/usr/bin/python3", "-c", py]

    import numpy as np
    csv = f"{T}/d.csv"
    g = np.random.default_rng(0)
    X = g.standard_normal((args.rows, 100)).astype(np.float32)
    np.savetxt(csv, np.column_stack([X, np.arange(args.rows) % 10]), delimiter=",", fmt="%.7g")
    del X
    with open(csv, "rb") as f:  # page cache
        while f.read(1 << 24):
            pass
    size = os.path.getsize(csv)

    res = {k: [] for k in tools}
    hashes = {}
    for _ in range(args.reps):
        for name, argv in tools.items():
            out, cpu, rss = run(argv + [csv])
            j = json.loads(out.strip().splitlines()[-1])
            res[name].append((j["seconds"], cpu, rss))
            if "hash" in j:
                hashes.setdefault(name, set()).add(j["hash"])
    if len({h for s in hashes.values() for h in s}) != 1:
        sys.exit(f"the builds disagree on the loaded bytes: {hashes}")
    np_s = statistics.median(r[0] for r in res["numpy.loadtxt (float32)"])
    print(f"{size / 1e6:.1f} MB CSV, {args.rows:,} rows x 100 features + label; "
          f"median of {args.reps} runs; load bytes identical across ctrain builds "
          f"(hash {next(iter(next(iter(hashes.values()))))})\n")
    print("| reader | load seconds (median) | vs numpy.loadtxt | CPU seconds of the process | peak RSS |")
    print("| --- | --- | --- | --- | --- |")
    for name, rows in res.items():
        s = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        rss = max(r[2] for r in rows)
        print(f"| {name} | {s:.3f} (min {min(r[0] for r in rows):.3f}) | {np_s / s:.2f}x | "
              f"{cpu:.2f} | {rss:.0f} MB |")
finally:
    shutil.rmtree(T, ignore_errors=True)
