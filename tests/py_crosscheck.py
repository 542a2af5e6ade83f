"""Cross-checks of ctrain files against h5py and PyTorch (run by tests/e2e/e2e_python.sh
with /usr/bin/python3).  Each subcommand exits non-zero with a message on mismatch.

  ckpt_vs_export CKPT.h5 MODEL.safetensors   h5py reads the checkpoint; /model equals the export
  torch_logits MODEL.safetensors X.csv PRED.csv   torch loads it strictly; logits match ctrain predict
  make_pth OUT.pth LAYERS                     a torch.save'd state_dict (wrapped, prefixed, non-contiguous)
  pth_vs_st IN.pth OUT.safetensors            ctrain convert kept every tensor bit for bit
  parity_setup DIR LAYERS ROWS                DIR/data.csv (features, label last) and DIR/init.safetensors
                                              (torch's initial weights of an MLP, written by this script)
  parity_check DIR OPT LR MOMENTUM BATCH MODEL.safetensors
                                              torch trains one epoch over DIR/data.csv in file order from
                                              DIR/init.safetensors; its weights equal ctrain's within 1e-6
"""
import json
import struct
import sys

import numpy as np

DT = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def read_st(path):
    """A minimal independent safetensors reader (BF16 returned as raw uint16)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        dt = np.uint16 if t["dtype"] == "BF16" else DT[t["dtype"]]
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(t["shape"])
    return meta, out


def fail(msg):
    print("MISMATCH: " + msg, file=sys.stderr)
    sys.exit(1)


def ckpt_vs_export(ckpt, st):
    import h5py

    _, tensors = read_st(st)
    with h5py.File(ckpt, "r") as f:
        # format_version 2 strings are fixed-length: h5py gives bytes
        if f.attrs["format"] != b"ctrain-checkpoint":
            fail("root attribute format is %r" % f.attrs["format"])
        if int(f.attrs["format_version"]) != 2:
            fail("format_version %r" % f.attrs["format_version"])
        names = sorted(f["model"].keys())
        if names != sorted(tensors):
            fail("checkpoint /model has %s, export has %s" % (names, sorted(tensors)))
        for k in names:
            a = f["model"][k][()]
            if a.dtype != np.float32 or a.shape != tensors[k].shape or a.tobytes() != tensors[k].tobytes():
                fail("/model/%s differs from the export" % k)
        for g in ("optim", "rng", "data", "meta"):
            if g not in f:
                fail("group /%s missing" % g)
        print("h5py: %d tensors of %s equal the export; step %d" % (len(names), ckpt, int(f["meta/step"][()])))


def build_torch(meta, tensors):
    import torch

    sizes = [int(s) for s in meta["layers"].split(",")]
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "gelu": torch.nn.GELU}[meta["activation"]]

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
            self.act = act()

        def forward(self, x):
            for i, l in enumerate(self.layers):
                x = l(x)
                if i + 1 < len(self.layers):
                    x = self.act(x)
            return x

    m = MLP()
    if tensors is None:  # torch's own initialisation
        return m
    sd = {k: torch.from_numpy(v.astype(np.float32)) for k, v in tensors.items()}
    m.load_state_dict(sd, strict=True)  # raises on any missing/unexpected key or shape
    return m


def torch_logits(st, xcsv, predcsv):
    import torch

    meta, tensors = read_st(st)
    if meta.get("format") != "pt":
        fail("__metadata__ format is %r" % meta.get("format"))
    m = build_torch(meta, tensors)
    x = np.loadtxt(xcsv, delimiter=",", dtype=np.float32, ndmin=2)
    pred = np.loadtxt(predcsv, delimiter=",", skiprows=1, ndmin=2)
    with torch.no_grad():
        z = m(torch.from_numpy(x)).numpy()
    diff = np.abs(z - pred[:, 1:]).max()
    if diff > 1e-5:
        fail("max |torch - ctrain| logit difference %g > 1e-5" % diff)
    if (z.argmax(1) != pred[:, 0].astype(int)).any():
        fail("predicted classes differ")
    print("torch: load_state_dict(strict=True) ok; %d rows, max logit diff %.3g" % (len(x), diff))


def make_pth(out, layers):
    import collections

    import torch

    torch.manual_seed(0)
    sizes = [int(s) for s in layers.split(",")]
    sd = collections.OrderedDict()
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        w = torch.randn(a, b).t()  # non-contiguous [out, in]
        sd["module._orig_mod.layers.%d.weight" % i] = w
        sd["module._orig_mod.layers.%d.bias" % i] = torch.randn(b * 2)[::2]  # strided
    torch.save({"model_state_dict": sd, "epoch": 3}, out)


def pth_vs_st(pth, st):
    import torch

    sd = torch.load(pth)["model_state_dict"]
    _, tensors = read_st(st)
    for k, v in sd.items():
        name = k.replace("module.", "", 1).replace("_orig_mod.", "", 1)
        if name not in tensors:
            fail("%s missing after convert" % name)
        if tensors[name].tobytes() != v.contiguous().numpy().tobytes():
            fail("%s differs after convert" % name)
    if len(tensors) != len(sd):
        fail("convert wrote %d tensors, torch has %d" % (len(tensors), len(sd)))
    print("pth: %d tensors converted bit-exactly" % len(sd))


def write_st(path, tensors, meta):
    """A minimal safetensors writer: float32 tensors in the order given."""
    header, offset, blobs = {"__metadata__": meta}, 0, []
    for name, t in tensors.items():
        b = np.ascontiguousarray(t, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def parity_setup(d, layers, rows):
    import torch

    sizes = [int(s) for s in layers.split(",")]
    rows = int(rows)
    rng = np.random.RandomState(11)
    x = rng.randn(rows, sizes[0]).astype(np.float32)
    # labels from a random linear map: learnable, every class present, and the
    # file is in no particular order of class
    y = (x @ rng.randn(sizes[0], sizes[-1]).astype(np.float32)).argmax(1)
    with open(d + "/data.csv", "w") as f:
        for xi, yi in zip(x, y):
            f.write(",".join("%.9g" % v for v in xi) + ",%d\n" % yi)
    torch.manual_seed(5)
    meta = {"format": "pt", "layers": layers, "activation": "relu"}
    m = build_torch(meta, None)
    write_st(d + "/init.safetensors", {k: v.detach().numpy() for k, v in m.state_dict().items()}, meta)
    print("parity: %d rows, %d classes, torch init of %s" % (rows, len(set(y.tolist())), layers))


def parity_check(d, opt, lr, momentum, batch, model):
    import torch

    torch.set_num_threads(1)
    meta, init = read_st(d + "/init.safetensors")
    m = build_torch(meta, init)
    data = np.loadtxt(d + "/data.csv", delimiter=",", dtype=np.float64, ndmin=2)
    x = torch.from_numpy(data[:, :-1].astype(np.float32))
    y = torch.from_numpy(data[:, -1].astype(np.int64))
    if opt == "sgd":
        o = torch.optim.SGD(m.parameters(), lr=float(lr), momentum=float(momentum))
    else:
        o = torch.optim.Adam(m.parameters(), lr=float(lr))
    batch = int(batch)
    steps = 0
    for i in range(0, len(x), batch):  # file order, one epoch
        o.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x[i : i + batch]), y[i : i + batch])
        loss.backward()
        o.step()
        steps += 1
    _, ours = read_st(model)
    theirs = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    if sorted(ours) != sorted(theirs):
        fail("ctrain has %s, torch %s" % (sorted(ours), sorted(theirs)))
    diff = max(float(np.abs(ours[k] - theirs[k]).max()) for k in theirs)
    moved = max(float(np.abs(init[k] - theirs[k]).max()) for k in theirs)
    print("parity %s: %d steps in file order, weights moved up to %.3g, max |ctrain - torch| = %.3g"
          % (opt, steps, moved, diff), flush=True)
    if not diff <= 1e-6:
        fail("%s: max |ctrain - torch| weight difference %.3g > 1e-6" % (opt, diff))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"ckpt_vs_export": ckpt_vs_export, "torch_logits": torch_logits, "make_pth": make_pth, "pth_vs_st": pth_vs_st,
     "parity_setup": parity_setup, "parity_check": parity_check}[cmd](*args)
