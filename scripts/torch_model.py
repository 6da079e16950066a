#!/usr/bin/env python3
"""torch_model.py: build in PyTorch the network of a file `rout export` wrote, load its weights,
and (with --logits) check that its logits on a batch match rout's.

Usage:
  rout export runs/ro-3 --out model.safetensors
  rout eval runs/ro-3 --logits batch.safetensors      # the first test batch as the network saw it
  python3 scripts/torch_model.py model.safetensors --logits batch.safetensors

The network is built from the file's "graph" metadata (the model's layers with rout's settings
resolved); its modules are named as rout names the layers, so the file's tensors load with
load_state_dict(strict=True). The input must be prepared as rout prepares it: the file's
"preprocessing" metadata gives the rule and prep.* its tensors. Needs only PyTorch (Debian's
python3-torch); the safetensors format is read here directly.
"""
import argparse
import json
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": torch.float32}


def read_safetensors(path):
    """Returns ({name: tensor}, metadata) of a safetensors file of F32 tensors."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        sys.exit(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        sys.exit(f"{path}: header of {n} bytes in a file of {len(raw)}")
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, t in header.items():
        if t["dtype"] not in DTYPES:
            sys.exit(f"{path}: tensor {name} is {t['dtype']}, want F32")
        lo, hi = t["data_offsets"]
        buf = bytearray(data[lo:hi])
        tensors[name] = torch.frombuffer(buf, dtype=torch.float32).reshape(t["shape"]).clone()
    return tensors, meta


class Conv(nn.Module):
    """rout's conv layer: convolution, optional bias, optional batch norm, optional ReLU."""

    def __init__(self, g):
        super().__init__()
        k, c = g["filters"], g["in"][0]
        kh, kw = g["kernel"]
        self.weight = nn.Parameter(torch.empty(k, c, kh, kw))
        self.bias = nn.Parameter(torch.empty(k)) if g.get("bias") else None
        self.bn = nn.BatchNorm2d(k, eps=g["bn_eps"]) if g.get("bn") else None
        self.stride, self.pad, self.relu = tuple(g["stride"]), tuple(g["pad"]), g.get("relu", False)

    def forward(self, x):
        x = F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.pad)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class Dense(nn.Module):
    """rout's dense layer over the flattened (C, H, W) input."""

    def __init__(self, g):
        super().__init__()
        c, h, w = g["in"]
        self.weight = nn.Parameter(torch.empty(g["units"], c * h * w))
        self.bias = nn.Parameter(torch.empty(g["units"])) if g.get("bias") else None
        self.relu = g.get("relu", False)

    def forward(self, x):
        x = F.linear(torch.flatten(x, 1), self.weight, self.bias)
        return F.relu(x) if self.relu else x


class Pool(nn.Module):
    """rout's pooling: windows clipped to the input (padding never counts, as PyTorch's max pool
    and average pool with count_include_pad=False), MXNet's ceil rule when ceil is set."""

    def __init__(self, g):
        super().__init__()
        self.max = g["type"] == "maxpool"
        self.k, self.s, self.p, self.ceil = tuple(g["kernel"]), tuple(g["stride"]), tuple(g["pad"]), g.get("ceil", False)

    def forward(self, x):
        if self.max:
            return F.max_pool2d(x, self.k, self.s, self.p, ceil_mode=self.ceil)
        return F.avg_pool2d(x, self.k, self.s, self.p, ceil_mode=self.ceil, count_include_pad=False)


class ReLU(nn.Module):
    def forward(self, x):
        return F.relu(x)


class Concat(nn.Module):
    """An inception block: each branch reads the block's input; outputs stacked on channels. The
    branches' layers are the block's children, named as in rout (one namespace per block)."""

    def __init__(self, g):
        super().__init__()
        self.branches = []
        for br in g["branches"]:
            names = []
            for layer in br:
                self.add_module(layer["local"], build(layer))
                names.append(layer["local"])
            self.branches.append(names)

    def forward(self, x):
        outs = []
        for names in self.branches:
            y = x
            for n in names:
                y = getattr(self, n)(y)
            outs.append(y)
        return torch.cat(outs, 1)


def build(g):
    t = g["type"]
    if t == "conv":
        return Conv(g)
    if t == "dense":
        return Dense(g)
    if t in ("maxpool", "avgpool"):
        return Pool(g)
    if t == "relu":
        return ReLU()
    if t == "concat":
        return Concat(g)
    sys.exit(f"graph: layer {g.get('name')}: unknown type {t!r}")


class Network(nn.Module):
    def __init__(self, graph):
        super().__init__()
        self.order = []
        for g in graph:
            self.add_module(g["local"], build(g))
            self.order.append(g["local"])

    def forward(self, x):
        for n in self.order:
            x = getattr(self, n)(x)
        return torch.flatten(x, 1)


def load(path):
    """The network of a `rout export` file, with its weights, in evaluation mode."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != "rout-export/1":
        sys.exit(f"{path}: format {meta.get('format')!r}, want 'rout-export/1' (a file `rout export` wrote)")
    net = Network(json.loads(meta["graph"]))
    weights = {k: v for k, v in tensors.items() if not k.startswith("prep.")}
    state = net.state_dict()
    for k in state:  # batch norm's step counter is PyTorch's own
        if k.endswith("num_batches_tracked"):
            weights[k] = state[k]
    net.load_state_dict(weights, strict=True)
    return net.eval(), meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a file `rout export` wrote")
    ap.add_argument("--logits", help="a file `rout eval --logits` wrote: the batch and rout's logits to compare with")
    ap.add_argument("--rtol", type=float, default=1e-4, help="tolerance relative to the largest logit (default 1e-4)")
    a = ap.parse_args()
    net, meta = load(a.model)
    params = sum(p.numel() for p in net.parameters())
    print(f"{a.model}: {meta.get('input')} input, {len(json.loads(meta['classes']))} classes, {params} parameters, step {meta.get('step')}")
    if not a.logits:
        return
    batch, _ = read_safetensors(a.logits)
    with torch.no_grad():
        got = net(batch["input"])
    want = batch["logits"]
    if got.shape != want.shape:
        sys.exit(f"logits of shape {tuple(got.shape)}, rout's {tuple(want.shape)}")
    scale = max(1.0, want.abs().max().item())
    diff = (got - want).abs().max().item()
    same = (got.argmax(1) == want.argmax(1)).float().mean().item()
    print(f"{want.shape[0]} examples: largest logit difference {diff:.3g} (largest |logit| {scale:.3g}), same prediction on {100 * same:.1f}%")
    if diff > a.rtol * scale:
        sys.exit(f"FAIL: logits differ by {diff:.3g} > {a.rtol} x {scale:.3g}")
    print("ok: PyTorch's logits match rout's")


if __name__ == "__main__":
    main()
