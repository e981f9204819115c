#!/usr/bin/python3
"""PyTorch reference for hymenoptera/statedict: writes the test fixtures, and checks files written by Go.

Usage (always with Debian's /usr/bin/python3, which has torch 1.13):

  statedict_fixtures.py                  write the fixtures to <repo>/.fixtures/statedict/ (or $HYMENOPTERA_FIXTURES/statedict)
  statedict_fixtures.py dump FILE        print FILE's tensors (torch.load, or a hand-made safetensors reader) as JSON
  statedict_fixtures.py check-resnet18 FILE ORIGINAL
                                         load FILE into torchvision's resnet18(num_classes=2) with strict=True and
                                         compare every tensor with ORIGINAL; print the outcome as JSON
  statedict_fixtures.py time-load FILE   print the best of 5 torch.load(FILE) wall times as JSON

The fixtures hold known values in every format statedict.Load reads: torch's zip format, the legacy format
(_use_new_zipfile_serialization=False), safetensors (written by hand with json+struct, since the safetensors package
is not a dependency), and checkpoints that wrap a state dict under "state_dict" or "model". expected.json holds the
values as torch sees them, converted the way statedict converts them (floats to float32, integers and bools to int64).
"""

import argparse
import collections
import json
import os
import struct
import sys
import time

import torch
import torchvision

# Metadata key inside a state dict's _metadata[""] where statedict.SavePTH keeps its string map.
METADATA_KEY = "hymenoptera"

SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
TORCH_DTYPES = {v: k for k, v in SAFETENSORS_DTYPES.items()}


def repo_root():
    d = os.path.dirname(os.path.abspath(__file__))
    while not os.path.exists(os.path.join(d, "go.mod")):
        parent = os.path.dirname(d)
        if parent == d:
            sys.exit("statedict_fixtures.py: no go.mod above " + __file__)
        d = parent
    return d


def fixtures_dir():
    base = os.environ.get("HYMENOPTERA_FIXTURES") or os.path.join(repo_root(), ".fixtures")
    out = os.path.join(base, "statedict")
    os.makedirs(out, exist_ok=True)
    return out


def known_state_dict():
    """A small state dict covering every dtype, a 0-dim tensor and views sharing one storage."""
    g = torch.Generator().manual_seed(1)
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.randn(2, 3, 2, 2, generator=g)
    sd["bn.running_mean"] = torch.randn(3, generator=g)
    sd["bn.num_batches_tracked"] = torch.tensor(7)  # int64, 0-dim, as in BatchNorm
    sd["scalar"] = torch.tensor(3.5)  # float32, 0-dim
    # float16 with a subnormal, the largest finite value and values that float16 rounds.
    sd["half"] = torch.tensor([0.5, -2.0, 65504.0, 6e-8, 1e-4, 3.14159], dtype=torch.float16)
    sd["bfloat16"] = torch.tensor([1.0, -0.1, 3.0e38], dtype=torch.bfloat16)
    sd["double"] = torch.tensor([[1.0 / 3, -2.5e-8], [1e30, 0.1]], dtype=torch.float64)
    sd["int32"] = torch.tensor([-5, 0, 2**31 - 1], dtype=torch.int32)
    sd["uint8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    # Views of one storage: torch.save stores the storage once; the tensors carry offsets and strides.
    sd["base"] = base
    sd["transposed"] = base.t()  # non-contiguous, stride (1, 4)
    sd["slice"] = base[1:, 1:3]  # storage offset 5, stride (4, 1)
    # stride (0, 1), within a storage of 7 elements: a view may repeat elements but not hold more than its
    # storage (statedict refuses expand() blow-ups)
    sd["expanded"] = torch.tensor([1.5, -1.5, 0, 0, 0, 0, 0])[:2].expand(3, 2)
    sd["empty"] = torch.zeros(3, 0)
    return sd


def module_state_dict():
    """A real module's state dict with keep_vars=True: nn.Parameter values (torch._utils._rebuild_parameter) and
    the per-module _metadata versions that torch writes."""
    torch.manual_seed(2)
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    return m.state_dict(keep_vars=True)


def describe(sd):
    """The expected values of sd as statedict.Load returns them."""
    tensors = {}
    for k, t in sd.items():
        t = t.detach()
        if t.is_floating_point():
            values = t.float().flatten().tolist()
        else:
            values = t.long().flatten().tolist()
        tensors[k] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": values}
    metadata = getattr(sd, "_metadata", None) or {}
    return {"keys": list(sd.keys()), "tensors": tensors, "metadata": metadata.get("", {}).get(METADATA_KEY, {})}


def write_safetensors(path, sd, metadata):
    """Writes the safetensors format by hand: u64 header length, JSON header, then the tensors' bytes."""
    header = {"__metadata__": metadata}
    chunks, offset = [], 0
    for k, t in sd.items():
        data = t.detach().contiguous().flatten().view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[k] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                     "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for c in chunks:
            f.write(c)


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n), object_pairs_hook=collections.OrderedDict)
        data = f.read()
    metadata = header.pop("__metadata__", {})
    sd = collections.OrderedDict()
    for k, info in header.items():
        begin, end = info["data_offsets"]
        dtype = TORCH_DTYPES[info["dtype"]]
        raw = bytearray(data[begin:end])
        t = torch.frombuffer(raw, dtype=dtype) if raw else torch.zeros(0, dtype=dtype)
        sd[k] = t.reshape(info["shape"])
    sd._metadata = {"": {METADATA_KEY: metadata}}
    return sd


def write_fixtures():
    out = fixtures_dir()
    sd = known_state_dict()
    classes = json.dumps(["ants", "bees"])
    torch.save(sd, os.path.join(out, "sd_zip.pth"))
    torch.save(sd, os.path.join(out, "sd_legacy.pth"), _use_new_zipfile_serialization=False)
    write_safetensors(os.path.join(out, "sd.safetensors"), sd, {"classes": classes})

    # Training checkpoints: the state dict sits next to objects statedict must skip over (an optimizer state with
    # tensors of its own, an argparse.Namespace, plain numbers).
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    checkpoint = {"epoch": 3, "state_dict": sd, "optimizer": optimizer.state_dict(),
                  "args": argparse.Namespace(lr=0.001, arch="resnet18")}
    torch.save(checkpoint, os.path.join(out, "wrapped_state_dict.pth"))
    torch.save({"model": sd, "best_acc": 0.9}, os.path.join(out, "wrapped_model_legacy.pth"),
               _use_new_zipfile_serialization=False)

    # Every float16 and bfloat16 bit pattern, with torch's float32 conversion of each as bits (NaN-safe in JSON).
    every = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16)
    halfs = collections.OrderedDict(float16=every.view(torch.float16), bfloat16=every.clone().view(torch.bfloat16))
    torch.save(halfs, os.path.join(out, "halfs.pth"))
    with open(os.path.join(out, "halfs.json"), "w") as f:
        json.dump({k: t.float().view(torch.int32).tolist() for k, t in halfs.items()}, f)

    # torch.save(model) pickles the module itself, which is not a state dict.
    module = torch.nn.Sequential(torch.nn.Linear(2, 2))
    torch.save(module, os.path.join(out, "whole_module.pth"))
    torch.save({"model": module, "epoch": 1}, os.path.join(out, "wrapped_whole_module.pth"))

    params = module_state_dict()
    torch.save(params, os.path.join(out, "module_params.pth"))

    # A full-size model, for the benchmark and the strict-loading round trip.
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(num_classes=2).state_dict(), os.path.join(out, "resnet18.pth"))

    expected = {"sd": describe(sd), "module_params": describe(params), "safetensors_metadata": {"classes": classes}}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("statedict fixtures written to", out)


def load(path):
    if path.endswith(".safetensors"):
        return read_safetensors(path)
    return torch.load(path)


def check_resnet18(path, original):
    sd = torch.load(path)
    result = {"metadata": sd._metadata.get("", {}).get(METADATA_KEY, {}) if hasattr(sd, "_metadata") else None}
    model = torchvision.models.resnet18(num_classes=2)
    try:
        model.load_state_dict(sd, strict=True)
        result["strict"] = "ok"
    except RuntimeError as e:
        result["strict"] = str(e)
    want = torch.load(original)
    result["keys_equal"] = list(sd.keys()) == list(want.keys())
    result["mismatched"] = [k for k in want if k not in sd or sd[k].dtype != want[k].dtype
                            or sd[k].shape != want[k].shape or not torch.equal(sd[k], want[k])]
    return result


def time_load(path):
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        torch.load(path)
        best = min(best, time.perf_counter() - start)
    return {"seconds": best}


def main():
    args = sys.argv[1:]
    if not args:
        write_fixtures()
    elif args[0] == "dump" and len(args) == 2:
        print(json.dumps(describe(load(args[1]))))
    elif args[0] == "check-resnet18" and len(args) == 3:
        print(json.dumps(check_resnet18(args[1], args[2])))
    elif args[0] == "time-load" and len(args) == 2:
        print(json.dumps(time_load(args[1])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
