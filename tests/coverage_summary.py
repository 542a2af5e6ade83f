#!/usr/bin/python3
"""Per-directory line and branch coverage from gcovr's JSON summary, plus the
files `make coverage` holds to a target (ckpt/ and the parsers: >= 90% of
lines).  Exit status 1 when a target is missed.

    gcovr --json-summary -o cov.json ... && tests/coverage_summary.py cov.json
"""
import json
import sys
from collections import defaultdict

TARGET = 90.0
# The parsers: every byte they read comes from outside.
PARSERS = ["data/idx.c", "data/csv.c", "train/config.c"]
PARSER_PREFIXES = ["formats/st_", "formats/pickle", "formats/pth"]
DIR_TARGETS = ["ckpt"]


def pct(covered, total):
    return 100.0 * covered / total if total else 100.0


def main(path):
    with open(path) as f:
        files = json.load(f)["files"]
    dirs = defaultdict(lambda: [0, 0, 0, 0])
    for f in files:
        d = dirs[f["filename"].split("/")[0]]
        d[0] += f["line_covered"]
        d[1] += f["line_total"]
        d[2] += f["branch_covered"]
        d[3] += f["branch_total"]
    total = [sum(d[i] for d in dirs.values()) for i in range(4)]
    print("%-8s %22s %22s" % ("dir", "lines", "branches"))
    for name in sorted(dirs) + ["TOTAL"]:
        lc, lt, bc, bt = total if name == "TOTAL" else dirs[name]
        print("%-8s %6.1f%% (%5d/%5d) %6.1f%% (%5d/%5d)" % (name, pct(lc, lt), lc, lt,
                                                          pct(bc, bt), bc, bt))
    missed = []
    for name in DIR_TARGETS:
        lc, lt = dirs[name][0], dirs[name][1]
        if pct(lc, lt) < TARGET:
            missed.append("%s/ %.1f%%" % (name, pct(lc, lt)))
    print("\nparsers (target %.0f%% of lines):" % TARGET)
    for f in sorted(files, key=lambda f: f["filename"]):
        name = f["filename"]
        if name in PARSERS or (name.endswith(".c") and
                               any(name.startswith(p) for p in PARSER_PREFIXES)):
            p = pct(f["line_covered"], f["line_total"])
            print("  %-24s %6.1f%% lines %6.1f%% branches" %
                  (name, p, pct(f["branch_covered"], f["branch_total"])))
            if p < TARGET:
                missed.append("%s %.1f%%" % (name, p))
    if missed:
        print("coverage: below %.0f%% of lines: %s" % (TARGET, ", ".join(missed)))
        return 1
    print("coverage: ckpt/ and every parser at or above %.0f%% of lines" % TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
