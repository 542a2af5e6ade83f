#!/usr/bin/python3
"""Builds the states a power loss may leave of a directory, from the journal
that tests/powerloss.c recorded while a process wrote into it (and was then
stopped at some fsync).

usage: powerloss_rebuild.py JOURNAL ROOT OUT
  JOURNAL  the CTRAIN_PL_JOURNAL directory
  ROOT     the CTRAIN_PL_DIR directory (empty when the process started)
  OUT      prefix: writes OUT.fsync, OUT.zerofill and OUT.names, and prints
           one line per state: "<variant> <newest completed checkpoint step
           or -1> <sha256 of the state>"

Model: a file holds what its last fsync made durable; a directory lists what
it listed at its last fsync (one never fsynced lists nothing; one absent from
its parent's durable listing is absent with everything under it).
  fsync     exactly that.
  zerofill  the same names; each file as long as it was when the process
            stopped, the bytes past its durable contents zeros (a file system
            that persisted the size but not the data).
  names     every name as it was when the process stopped (creates, renames,
            unlinks all reached the disk; for a rename whose directory was not
            fsynced this is the new target where `fsync` keeps the old one),
            each file holding its durable contents (empty if never fsynced).
A checkpoint is completed once a durable listing of its directory holds it
(renamed, then its directory fsynced): every state must resume from it or a
later one.
"""
import hashlib
import os
import re
import sys

CKPT = re.compile(r"^ckpt-(\d{10})\.h5$")


def read_journal(jdir):
    content, listing, ckpt_listings = {}, {}, []
    log = os.path.join(jdir, "log")
    if not os.path.exists(log):
        return content, listing, ckpt_listings
    with open(log) as f:
        for line in f:
            n, kind, ino, path = line.rstrip("\n").split(" ", 3)
            rec = os.path.join(jdir, n)
            if kind == "F":
                content[int(ino)] = rec
                continue
            ents = []
            with open(rec) as r:
                for e in r:
                    i, k, name = e.rstrip("\n").split(" ", 2)
                    ents.append((int(i), k, name))
            listing[path] = ents
            if os.path.basename(path) == "checkpoints":
                ckpt_listings.append(ents)
    return content, listing, ckpt_listings


def live_entries(path):
    if not os.path.isdir(path):
        return []
    out = []
    for e in os.scandir(path):
        st = e.stat(follow_symlinks=False)
        out.append((st.st_ino, "d" if e.is_dir(follow_symlinks=False) else "f", e.name))
    return out


def live_sizes(root):
    sizes = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            sizes[st.st_ino] = st.st_size
    return sizes


def build(variant, root, out, content, listing, sizes):
    h = hashlib.sha256()

    def durable(ino):
        rec = content.get(ino)
        if rec is None:
            return b""
        with open(rec, "rb") as f:
            return f.read()

    def walk(path, dst, rel):
        os.mkdir(dst)
        ents = live_entries(path) if variant == "names" else listing.get(path, [])
        for ino, kind, name in sorted(ents, key=lambda t: t[2]):
            r = rel + "/" + name
            if kind == "d":
                h.update(("d " + r + "\n").encode())
                walk(os.path.join(path, name), os.path.join(dst, name), r)
                continue
            data = durable(ino)
            if variant == "zerofill":
                data += b"\0" * max(0, sizes.get(ino, 0) - len(data))
            with open(os.path.join(dst, name), "wb") as f:
                f.write(data)
            h.update(("f " + r + " " + hashlib.sha256(data).hexdigest() + "\n").encode())

    walk(root, out, "")
    return h.hexdigest()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    jdir, root, out = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3]
    content, listing, ckpt_listings = read_journal(jdir)
    completed = -1
    if ckpt_listings:
        for _, _, name in ckpt_listings[-1]:
            m = CKPT.match(name)
            if m:
                completed = max(completed, int(m.group(1)))
    sizes = live_sizes(root)
    for variant in ("fsync", "zerofill", "names"):
        digest = build(variant, root, out + "." + variant, content, listing, sizes)
        print(variant, completed, digest)


if __name__ == "__main__":
    main()
