#!/usr/bin/env python3
"""bench_torch.py: the PyTorch side of `rout bench`, printing the same table.

The same model (the paper's inception-28-small without batch norm, exactly as DESIGN.md and
net/models/inception28.toml describe it; MXNet's ceil max pool is nn.MaxPool2d(3, 2,
ceil_mode=True)), batch, optimiser and step: gather a batch from a synthetic uint8 set on the
GPU, centre-crop 32 -> 28, subtract a mean image, forward, summed cross-entropy, backward,
update, and in the randomout mode a plain PyTorch RandomOut after every update (per-filter L1
gradient norms of every conv layer, tau 1e-30, masked redraw from U(-0.01, 0.01), the optimiser
state of re-drawn filters zeroed; no host synchronisation).

Modes: eager with cudnn.benchmark, and torch.compile (skip with --no-compile). TF32 is off
unless --tf32. Timing: CUDA events around --steps steps, median of --repeats runs after
--warmup steps (torch.compile compiles during the warm-up).

With --pack K (K > 1) it times K runs trained at once, two ways: PyTorch's ensemble of K
models stacked with torch.func.stack_module_state and run through torch.func.vmap (one model's
code, K members' weights; each member's summed loss, one Adam or SGD step over the stacked
weights, RandomOut per member filter), and K processes each running the eager benchmark at the
same time. images/s counts every member's images; the peak memory PyTorch allocated is printed.

Usage (on the GPU machine):
  python3 scripts/bench_torch.py --batch 128 --optimizer adam
  .gpu/rout bench --batch 128 --optimizer adam          # rout's figures, same format
  python3 scripts/bench_torch.py --batch 128 --optimizer adam --pack 4 --no-compile

With --cpu it times instead the step of rout's CPU benchmark (net/bench_test.go's
BenchmarkTrainStep: forward, summed cross-entropy, backward, no update) on the CPU with --threads
threads, for inception28 or convnet-small (net/models/convnet-small.toml: three 3x3 pad-1 conv +
ReLU layers of 32, 64 and 128 filters, 2x2 max pools after the first two, a global average pool
and a dense layer), on a fixed uniform(0, 1) batch with labels i mod 10, and prints one line:
  torch cpu <model> bs<batch>: <images/s> img/s (median of --repeats runs of --steps steps)
scripts/bench-cpu.sh runs it beside rout's benchmark.
"""
import argparse
import copy
import statistics
import subprocess
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("bench_torch.py needs PyTorch (import torch failed): run it with a python3 that has torch")
import torch.nn as nn
import torch.nn.functional as F

PARAMS = 1_649_402  # DESIGN.md's count for inception28
FILTERS = 1_712


class Conv(nn.Module):
    """Conv + ReLU with bias: the paper's unit."""

    def __init__(self, cin, cout, k, stride=1, pad=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=True)

    def forward(self, x):
        return F.relu(self.conv(x))


class S(nn.Module):
    """S(a, b): concat of [1x1 conv a, 3x3 conv b pad 1]."""

    def __init__(self, cin, a, b):
        super().__init__()
        self.one, self.three = Conv(cin, a, 1), Conv(cin, b, 3, pad=1)
        self.out = a + b

    def forward(self, x):
        return torch.cat([self.one(x), self.three(x)], 1)


class D(nn.Module):
    """D(b): concat of [3x3 stride-2 conv b pad 1, 3x3 stride-2 max pool with the ceil rule]."""

    def __init__(self, cin, b):
        super().__init__()
        self.conv = Conv(cin, b, 3, stride=2, pad=1)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.out = b + cin

    def forward(self, x):
        return torch.cat([self.conv(x), self.pool(x)], 1)


class Inception28(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        layers, c = [Conv(3, 96, 3, pad=1)], 96
        for kind, *args in [("S", 32, 32), ("S", 32, 48), ("D", 80), ("S", 112, 48), ("S", 96, 64),
                            ("S", 80, 80), ("S", 48, 96), ("D", 96), ("S", 176, 160), ("S", 176, 160)]:
            m = S(c, *args) if kind == "S" else D(c, *args)
            layers.append(m)
            c = m.out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.avg_pool2d(self.features(x), 7)
        return self.fc(torch.flatten(x, 1))


class ConvNetSmall(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.c1, self.c2, self.c3 = Conv(3, 32, 3, pad=1), Conv(32, 64, 3, pad=1), Conv(64, 128, 3, pad=1)
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        x = F.max_pool2d(self.c1(x), 2)
        x = F.max_pool2d(self.c2(x), 2)
        x = self.c3(x).mean(dim=(2, 3))
        return self.fc(x)


def bench_cpu(a):
    """Times rout's CPU benchmark step (forward, summed cross-entropy, backward) on the CPU."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model, size = (Inception28(), 28) if a.model == "inception28" else (ConvNetSmall(), 32)
    x = torch.rand(a.batch, 3, size, size)
    y = torch.arange(a.batch) % 10
    loss_fn = nn.CrossEntropyLoss(reduction="sum")

    def run(steps):
        for _ in range(steps):
            model.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()

    run(a.warmup)
    rates = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        run(a.steps)
        rates.append(a.batch * a.steps / (time.perf_counter() - t0))
    print(f"torch cpu {a.model} bs{a.batch}: {statistics.median(rates):.1f} img/s "
          f"(median of {a.repeats} runs of {a.steps} steps, {a.threads} threads, torch {torch.__version__})")


def build(seed, device):
    torch.manual_seed(seed)
    model = Inception28().to(device)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.uniform_(-0.01, 0.01)
            else:
                p.zero_()
    n = sum(p.numel() for p in model.parameters())
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    filters = sum(c.out_channels for c in convs)
    if n != PARAMS or filters != FILTERS:
        sys.exit(f"bench_torch: the model has {n} parameters and {filters} conv filters, want {PARAMS} and {FILTERS}")
    return model, convs


def make_optimizer(name, model):
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def randomout(convs, opt, tau=1e-30, bound=0.01):
    """The plain PyTorch RandomOut: per conv layer, re-draw filters whose L1 gradient norm is below tau."""
    with torch.no_grad():
        for conv in convs:
            w = conv.weight
            dead = (w.grad.abs().sum(dim=(1, 2, 3)) < tau).view(-1, 1, 1, 1)
            fresh = torch.empty_like(w).uniform_(-bound, bound)
            w.copy_(torch.where(dead, fresh, w))
            for s in opt.state[w].values():
                if torch.is_tensor(s) and s.shape == w.shape:
                    s.masked_fill_(dead, 0)


def profile(steps_fn, steps):
    """Prints the CUDA kernels of steps_fn by total device time per step, with a conv subtotal,
    to set against `rout bench --plans` (which estimates rout's convolutions the same way)."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CUDA]) as prof:
        steps_fn()
        torch.cuda.synchronize()
    cuda = torch.autograd.DeviceType.CUDA
    kernels = [e for e in prof.key_averages()
               if e.device_time_total > 0 and getattr(e, "device_type", cuda) == cuda]
    kernels.sort(key=lambda e: -e.device_time_total)
    total = sum(e.device_time_total for e in kernels) / steps / 1e3
    conv = sum(e.device_time_total for e in kernels
               if any(k in e.key.lower() for k in ("conv", "wgrad", "dgrad", "fprop", "implicit", "winograd", "fft"))) / steps / 1e3
    print(f"torch eager profile: {total:.3f} ms of kernels per step, of which {conv:.3f} ms in kernels named like convolutions")
    print("| kernel | calls/step | ms/step |")
    print("|---|---:|---:|")
    for e in kernels[:25]:
        print(f"| {e.key[:90]} | {e.count / steps:.1f} | {e.device_time_total / steps / 1e3:.3f} |")
    print()


def randomout_stacked(weights, state, tau=1e-30, bound=0.01):
    """RandomOut on stacked conv weights (K x F x C x KH x KW): each member's filters decided alone."""
    with torch.no_grad():
        for w in weights:
            dead = (w.grad.abs().sum(dim=(2, 3, 4)) < tau).view(*w.shape[:2], 1, 1, 1)
            fresh = torch.empty_like(w).uniform_(-bound, bound)
            w.copy_(torch.where(dead, fresh, w))
            for s in state[w].values():
                if torch.is_tensor(s) and s.shape == w.shape:
                    s.masked_fill_(dead, 0)


def time_modes(run, a):
    """Median ms per step of the plain and randomout modes, alternating within each repeat."""
    run(a.warmup, True)
    torch.cuda.synchronize()
    times = {"plain": [], "randomout": []}
    for _ in range(a.repeats):
        for mode in ("plain", "randomout"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run(a.steps, mode == "randomout")
            end.record()
            end.synchronize()
            times[mode].append(start.elapsed_time(end) / a.steps)
    return {m: statistics.median(t) for m, t in times.items()}


def bench_vmap(a, dev, batch_fn):
    """K models as one: stack_module_state + vmap over the members, the batch shared."""
    from torch.func import functional_call, stack_module_state, vmap

    models = [build(a.seed + m, dev)[0] for m in range(a.pack)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))

    ensemble = vmap(one, in_dims=(0, 0, None))
    weights = list(params.values())
    conv_weights = [w for name, w in params.items() if name.endswith("conv.weight")]
    if a.optimizer == "adam":
        opt = torch.optim.Adam(weights, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    else:
        opt = torch.optim.SGD(weights, lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    state = {"step": 0}

    def run(steps, with_randomout):
        for _ in range(steps):
            x, y = batch_fn(state["step"])
            opt.zero_grad(set_to_none=False)
            logits = ensemble(params, buffers, x)  # K x batch x classes
            # The members' summed losses: each member's gradient is that of its own loss.
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.repeat(a.pack))
            loss.backward()
            opt.step()
            if with_randomout:
                randomout_stacked(conv_weights, opt.state)
            state["step"] += 1

    torch.cuda.reset_peak_memory_stats()
    ms = time_modes(run, a)
    peak = torch.cuda.max_memory_allocated()
    del models, params, buffers, opt
    torch.cuda.empty_cache()
    return ms, peak


def bench_processes(a):
    """K processes of this script's eager benchmark at once; each reports its own step time."""
    args = [sys.executable, sys.argv[0], "--pack", "1", "--no-compile", "--batch", str(a.batch), "--optimizer", a.optimizer,
            "--steps", str(a.steps), "--warmup", str(a.warmup), "--repeats", str(a.repeats)] + (["--tf32"] if a.tf32 else [])
    procs = [subprocess.Popen(args + ["--seed", str(a.seed + m)], stdout=subprocess.PIPE, text=True) for m in range(a.pack)]
    ms = {"plain": [], "randomout": []}
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            sys.exit(f"bench_torch: a process of --pack {a.pack} exited {p.returncode}:\n{out}")
        for line in out.splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == 4 and cells[0] == "torch eager" and cells[1] in ms:
                ms[cells[1]].append(float(cells[2]))
    if any(len(v) != a.pack for v in ms.values()):
        sys.exit(f"bench_torch: the {a.pack} processes did not all report both modes: {ms}")
    return ms


def main_pack(a, dev, batch_fn):
    ms, peak = bench_vmap(a, dev, batch_fn)
    procs = bench_processes(a)
    precision = "tf32" if a.tf32 else "fp32 (TF32 off)"
    print(f"torch bench: {a.model} ({PARAMS} parameters), {a.pack} runs of batch {a.batch}, {a.optimizer}, {precision}, "
          f"median of {a.repeats} runs of {a.steps} steps after {a.warmup} warm-up steps")
    print(f"device: cuda {torch.cuda.get_device_name(0)}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
    print(f"images/s counts the {a.pack} runs' images: {a.pack * a.batch} per step")
    print()
    print("| tool | mode | ms/step | images/s |")
    print("|---|---|---:|---:|")
    for mode in ("plain", "randomout"):
        print(f"| torch vmap, pack of {a.pack} | {mode} | {ms[mode]:.3f} | {a.pack * a.batch / (ms[mode] / 1e3):.0f} |")
    for mode in ("plain", "randomout"):
        # The processes ran side by side: their images/s add up; ms/step is their median.
        ips = sum(a.batch / (t / 1e3) for t in procs[mode])
        print(f"| torch eager, {a.pack} processes | {mode} | {statistics.median(procs[mode]):.3f} | {ips:.0f} |")
    print()
    print(f"RandomOut overhead (torch vmap): {100 * (ms['randomout'] / ms['plain'] - 1):+.2f}% step time")
    print(f"torch vmap: peak memory allocated {peak / 2**20:.1f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="inception28", choices=["inception28", "convnet-small"],
                    help="convnet-small with --cpu only")
    ap.add_argument("--cpu", action="store_true", help="time rout's CPU benchmark step on the CPU instead")
    ap.add_argument("--threads", type=int, default=1, help="with --cpu: torch threads")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    ap.add_argument("--steps", type=int, default=20, help="steps per timed run")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps first (at least 3 with torch.compile)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each mode (the median is reported)")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in cuDNN and cuBLAS (default: full fp32)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile modes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pack", type=int, default=1,
                    help="time this many runs at once: PyTorch's vmap ensemble and as many processes (see above)")
    ap.add_argument("--profile", action="store_true",
                    help="also profile --steps eager plain steps and print the CUDA kernels by total time")
    a = ap.parse_args()
    if a.batch < 1 or a.steps < 1 or a.repeats < 1 or a.warmup < 0 or a.pack < 1:
        ap.error("--batch, --steps, --repeats and --pack must be at least 1, --warmup at least 0")
    if a.cpu:
        if a.threads < 1:
            ap.error("--threads must be at least 1")
        bench_cpu(a)
        return
    if a.model != "inception28":
        ap.error("--model convnet-small needs --cpu")
    if not torch.cuda.is_available():
        sys.exit("bench_torch: no CUDA device is usable by this PyTorch")
    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.set_float32_matmul_precision("high" if a.tf32 else "highest")

    # Synthetic data as in rout bench: 8 batches of uint8 32x32 images and labels, on the device.
    g = torch.Generator(device="cpu").manual_seed(a.seed)
    count = 8 * a.batch
    pixels = torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=g).to(dev)
    labels = torch.randint(0, 10, (count,), generator=g).to(dev)
    order = torch.randperm(count, generator=g).to(dev)
    mean = torch.full((1, 3, 28, 28), 127.5, device=dev)

    def batch_fn(step):
        i = (step % 8) * a.batch
        idx = order[i:i + a.batch]
        return pixels[idx, :, 2:30, 2:30].float() - mean, labels[idx]

    if a.pack > 1:
        main_pack(a, dev, batch_fn)
        return

    rows = []
    tools = [("torch eager", False)] + ([] if a.no_compile else [("torch.compile", True)])
    for tool, compiled in tools:
        model, convs = build(a.seed, dev)
        opt = make_optimizer(a.optimizer, model)
        fwd = torch.compile(model) if compiled else model
        loss_fn = nn.CrossEntropyLoss(reduction="sum")
        state = {"step": 0}

        def run(steps, with_randomout):
            for _ in range(steps):
                i = (state["step"] % 8) * a.batch
                idx = order[i:i + a.batch]
                x = pixels[idx, :, 2:30, 2:30].float() - mean
                y = labels[idx]
                opt.zero_grad(set_to_none=False)
                loss = loss_fn(fwd(x), y)
                loss.backward()
                opt.step()
                if with_randomout:
                    randomout(convs, opt)
                state["step"] += 1

        run(a.warmup, True)
        torch.cuda.synchronize()
        times = {"plain": [], "randomout": []}
        for _ in range(a.repeats):
            for mode in ("plain", "randomout"):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                run(a.steps, mode == "randomout")
                end.record()
                end.synchronize()
                times[mode].append(start.elapsed_time(end) / a.steps)
        for mode in ("plain", "randomout"):
            rows.append((tool, mode, statistics.median(times[mode])))
        if a.profile and not compiled:
            profile(lambda: run(a.steps, False), a.steps)
        del model, opt, fwd
        torch.cuda.empty_cache()

    precision = "tf32" if a.tf32 else "fp32 (TF32 off)"
    print(f"torch bench: {a.model} ({PARAMS} parameters), batch {a.batch}, {a.optimizer}, {precision}, "
          f"median of {a.repeats} runs of {a.steps} steps after {a.warmup} warm-up steps")
    print(f"device: cuda {torch.cuda.get_device_name(0)}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
    print()
    print("| tool | mode | ms/step | images/s |")
    print("|---|---|---:|---:|")
    for tool, mode, ms in rows:
        print(f"| {tool} | {mode} | {ms:.3f} | {a.batch / (ms / 1e3):.0f} |")
    print()
    for tool, _ in tools:
        plain = next(ms for t, m, ms in rows if t == tool and m == "plain")
        ro = next(ms for t, m, ms in rows if t == tool and m == "randomout")
        print(f"RandomOut overhead ({tool}): {100 * (ro / plain - 1):+.2f}% step time")


if __name__ == "__main__":
    main()
