#!/usr/bin/python3
"""Cross-check of a ctrain checkpoint container from Python (run by
tests/unit/test_h5c.c): verifies the 32-byte trailer with an independent pure-Python
CRC-32C, then opens the file with h5py directly (it ignores the trailer) and
prints a canonical description that the C test compares byte for byte.

usage: h5py_check.py FILE
"""
import struct
import sys

import h5py
import numpy as np


def crc32c(data):
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def check_trailer(raw):
    if len(raw) < 32:
        sys.exit("file too short")
    t = raw[-32:]
    magic, image_len, image_crc, version, self_crc = struct.unpack("<8sQIIQ", t)
    if magic != b"CTRNCKPT":
        sys.exit("bad magic")
    if self_crc != crc32c(t[:24]):
        sys.exit("bad trailer checksum")
    if image_len != len(raw) - 32:
        sys.exit("bad image length")
    if image_crc != crc32c(raw[:image_len]):
        sys.exit("bad image checksum")
    print(f"trailer ok: version {version}, {image_len} bytes of image")


def show(value):
    if isinstance(value, bytes):  # a fixed-length string (numpy.bytes_)
        return f"fixed-length str {value.decode()!r}"
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {list(value.shape)} {value.tolist()}"
    if isinstance(value, np.generic):
        return f"{value.dtype} {value.item()!r}"
    if isinstance(value, str):
        return f"str {value!r}"
    return f"{type(value).__name__} {value!r}"


def describe(path):
    lines = []
    with h5py.File(path, "r") as f:
        def attrs(name, obj):
            for key in sorted(obj.attrs):
                lines.append(f"attr {name}@{key} {show(obj.attrs[key])}")

        def visit(name, obj):
            full = "/" + name
            if isinstance(obj, h5py.Dataset):
                if h5py.check_string_dtype(obj.dtype):
                    lines.append(f"dataset {full} str {obj.asstr()[()]!r}")
                else:
                    lines.append(f"dataset {full} {show(obj[()])}")
            attrs(full, obj)

        attrs("/", f)
        f.visititems(visit)
    for line in lines:
        print(line)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as fh:
        check_trailer(fh.read())
    describe(sys.argv[1])


if __name__ == "__main__":
    main()
