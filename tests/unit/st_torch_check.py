#!/usr/bin/python3
"""Cross-check of ctrain's safetensors files with PyTorch (run by
tests/unit/test_safetensors.c; exits non-zero on any mismatch).

  st_torch_check.py all OURS TAMPERED PT PT2
                                            what the C test runs, in one interpreter start:
                                            check OURS, check that TAMPERED (OURS with one
                                            byte changed) fails, write-pt PT, write-pt PT2
                                            --name-order.  Exit 77 if torch is missing.
  st_torch_check.py check FILE              FILE was written by ctrain's st_write from
                                            build_torch_set(): read it with a pure-python
                                            reader (json + struct + torch.frombuffer), check
                                            the layout rules and every value bit for bit
                                            (f16/bf16 against torch's own conversion), and
                                            with the safetensors package if it is installed.
  st_torch_check.py write-pt FILE [--name-order]
                                            write the same tensors the way the safetensors
                                            library does for PyTorch: data sorted by dtype
                                            (its enum order, descending) then name, metadata
                                            {"format":"pt"}, header padded with spaces to a
                                            multiple of 8.  --name-order lists the header
                                            entries by name instead (data order unchanged),
                                            as older writers did.
"""
import json
import struct
import sys

try:
    import torch
except ImportError:
    print("skipped: no torch")
    sys.exit(77)

DTYPES = {  # safetensors name -> (torch dtype, rank in the reference writer's Dtype enum)
    "BOOL": (torch.bool, 0), "U8": (torch.uint8, 1), "I8": (torch.int8, 2),
    "I16": (torch.int16, 5), "F16": (torch.float16, 7), "BF16": (torch.bfloat16, 8),
    "I32": (torch.int32, 9), "F32": (torch.float32, 11), "F64": (torch.float64, 12),
    "I64": (torch.int64, 13),
}
NAME_OF = {v[0]: k for k, v in DTYPES.items()}


def expected():
    """The same tensors as build_torch_set() in tests/unit/test_safetensors.c."""
    f32 = torch.float32
    hv = [1.0, -2.5, 65504.0, 0.1, 1.0 + 2.0**-11, 1e-5]
    bv = [1.0, -2.5, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8]
    return {
        "layers.0.weight": (torch.arange(12, dtype=f32) - 5).mul(0.375).reshape(3, 4),
        "layers.0.bias": torch.tensor([(i + 1) * 0.5 - 0.125 for i in range(3)], dtype=f32),
        "misc.f32": torch.tensor([0.1, -1e-8, 3.0e38, 1e-40], dtype=f32),
        "misc.half": torch.tensor(hv, dtype=f32).to(torch.float16),
        "misc.bhalf": torch.tensor(bv, dtype=f32).to(torch.bfloat16).reshape(2, 2),
        "misc.dbl": torch.tensor([0.1, -1e300], dtype=torch.float64),
        "misc.idx": torch.tensor([-1, 0, (1 << 40) + 7], dtype=torch.int64),
        "misc.scalar": torch.tensor(42.5, dtype=f32),
        "misc.empty": torch.zeros((0, 4), dtype=f32),
    }


def raw_bytes(t):
    """Little-endian bytes of a tensor (numpy has no bfloat16: go through int16)."""
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def same(a, b):
    return a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape) and raw_bytes(a) == raw_bytes(b)


class Mismatch(Exception):
    pass


def fail(msg):
    raise Mismatch(msg)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        fail("duplicate keys in %r" % keys)
    return dict(pairs)


def read_pure(path):
    """A strict little reader: returns (metadata, [(name, tensor)] in header order)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    if (8 + n) % 8 != 0:
        fail("8 + header length %d is not a multiple of 8" % n)
    text = blob[8:8 + n].decode("utf-8")
    body = text.rstrip(" ")
    if not body.startswith("{") or not body.endswith("}") or len(text) - len(body) > 7:
        fail("header is not an object padded with at most 7 spaces")
    pairs = json.loads(body, object_pairs_hook=lambda p: p)
    if pairs[0][0] != "__metadata__":
        fail("__metadata__ is not the first key")
    meta = no_duplicates(pairs[0][1])
    data = blob[8 + n:]
    pos, out = 0, []
    for name, info in pairs[1:]:
        info = no_duplicates(info)
        if sorted(info) != ["data_offsets", "dtype", "shape"]:
            fail("tensor %s has fields %r" % (name, sorted(info)))
        b, e = info["data_offsets"]
        if b != pos:
            fail("tensor %s starts at %d, expected %d (contiguous, in header order)" % (name, b, pos))
        dt = DTYPES[info["dtype"]][0]
        shape = info["shape"]
        if e == b:
            t = torch.zeros(shape, dtype=dt)
        else:
            t = torch.frombuffer(bytearray(data[b:e]), dtype=dt).reshape(shape)
        if t.numel() * t.element_size() != e - b:
            fail("tensor %s: size mismatch" % name)
        out.append((name, t))
        pos = e
    if pos != len(data):
        fail("data section is %d bytes, tensors cover %d" % (len(data), pos))
    return meta, out


def check(path):
    want = expected()
    meta, got = read_pure(path)
    if meta != {"format": "pt"}:
        fail("metadata %r" % meta)
    if [n for n, _ in got] != list(want):
        fail("tensor names/order %r" % [n for n, _ in got])
    for name, t in got:
        if not same(t, want[name]):
            fail("tensor %s differs:\n ours  %r\n torch %r" % (name, t, want[name]))
    try:
        from safetensors.torch import load_file
    except ImportError:
        print("st_torch_check: safetensors package not installed; pure-python reader only")
    else:
        lib = load_file(path)
        if set(lib) != set(want) or not all(same(lib[k], want[k]) for k in want):
            fail("safetensors.torch.load_file disagrees")
        print("st_torch_check: safetensors.torch.load_file agrees")
    print("st_torch_check: ok, %d tensors match bit for bit" % len(got))


def write_pt(path, name_order):
    tensors = expected()
    order = sorted(tensors, key=lambda k: (-DTYPES[NAME_OF[tensors[k].dtype]][1], k))
    entries, pos = {}, 0
    for k in order:
        t = tensors[k]
        nbytes = t.numel() * t.element_size()
        entries[k] = {"dtype": NAME_OF[t.dtype], "shape": list(t.shape),
                      "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
    header = {"__metadata__": {"format": "pt"}}
    for k in (sorted(entries) if name_order else order):
        header[k] = entries[k]
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for k in order:
            f.write(raw_bytes(tensors[k]))


def run_all(ours, tampered, pt, pt2):
    check(ours)
    try:
        check(tampered)
    except Mismatch as e:
        print("st_torch_check: tampered file rejected as expected (%s)" % str(e).split("\n")[0])
    else:
        fail("a file with a changed byte passed the check")
    write_pt(pt, False)
    write_pt(pt2, True)


def main(argv):
    try:
        return dispatch(argv)
    except Mismatch as e:
        print("st_torch_check: FAIL: %s" % e, file=sys.stderr)
        return 1


def dispatch(argv):
    if len(argv) == 6 and argv[1] == "all":
        run_all(*argv[2:])
    elif len(argv) >= 3 and argv[1] == "check":
        check(argv[2])
    elif len(argv) >= 3 and argv[1] == "write-pt":
        write_pt(argv[2], "--name-order" in argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
