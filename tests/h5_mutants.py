#!/usr/bin/python3
"""Structure-blind mutants of a ctrain checkpoint (tests/e2e/e2e_h5_mutants.sh,
ckpt/README.md "Hostile files"): 1-4 random bytes of the HDF5 image replaced,
80% of them in its first 4 KB where HDF5 keeps its metadata, then the
32-byte trailer (magic, image length, CRC-32C of the image, version, CRC-32C
of the trailer) recomputed, so that every mutant passes the checksum and
reaches libhdf5.  Fixed seed: the same arguments give the same files.

usage: h5_mutants.py CHECKPOINT OUTDIR COUNT SEED   (writes OUTDIR/m0000.h5 ...)
"""
import random
import struct
import sys

TABLE = []
for b in range(256):
    for _ in range(8):
        b = (b >> 1) ^ (0x82F63B78 if b & 1 else 0)
    TABLE.append(b)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = (crc >> 8) ^ TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def with_trailer(image):
    t = struct.pack("<8sQII", b"CTRNCKPT", len(image), crc32c(image), 1)
    return image + t + struct.pack("<Q", crc32c(t))


def mutate(image, rng):
    b = bytearray(image)
    for _ in range(rng.randint(1, 4)):
        end = min(4096, len(b)) if rng.random() < 0.8 else len(b)
        b[rng.randrange(end)] = rng.randrange(256)
    return bytes(b)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as fh:
        image = fh.read()[:-32]
    rng = random.Random(int(sys.argv[4]))
    for i in range(int(sys.argv[3])):
        with open(f"{sys.argv[2]}/m{i:04d}.h5", "wb") as fh:
            fh.write(with_trailer(mutate(image, rng)))


if __name__ == "__main__":
    main()
