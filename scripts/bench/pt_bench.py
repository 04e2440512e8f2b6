#!/usr/bin/env python3
"""PyTorch CPU training / inference throughput of the tutorial CNNs: the reference figures cnnspec is compared with.

cnnspec's copy of ../shared/bench/pt_bench.py (run by scripts/bench-vs-pytorch), plus resnet18-cifar:
torchvision's resnet18(num_classes=10) with conv1 = 3x3 stride 1 padding 1 and maxpool = Identity,
batch 64, SGD momentum 0.9 (models/resnet18-cifar.yaml, configs/resnet18-cifar.yaml).

Usage:
  python pt_bench.py            # full default suite (python of a venv with torch installed)
  python pt_bench.py --only modelA --threads 1 --batch 16 --modes train

Reference setting: 2 threads and glibc malloc tuned so PyTorch does not page-fault every step:
  GLIBC_TUNABLES=glibc.malloc.mmap_threshold=2147483647:glibc.malloc.trim_threshold=2147483647 python pt_bench.py --only modelA --modes train

Synthetic in-memory random data (one fixed batch reused) -> only model compute is timed.
Per repeat: warm up 20 steps, then time >= MIN_STEPS steps and >= MIN_SEC seconds.
Median of 3 repeats reported.
"""
import argparse, statistics, sys, time
import torch
import torch.nn as nn

MIN_STEPS = 100
MIN_SEC = float(__import__("os").environ.get("MIN_SEC", "5.0"))
WARMUP = 20
REPEATS = 3


def lenet5(cin=1, pool=nn.AvgPool2d):
    return nn.Sequential(
        nn.Conv2d(cin, 6, 5), nn.ReLU(), pool(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), pool(2, 2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def modelA(pool=nn.MaxPool2d):
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), pool(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), pool(2),
        nn.Flatten(), nn.Linear(1568, 10))


def modelC():
    return nn.Sequential(
        nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(512, 10))


def dropout_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.ReLU(),
        nn.Conv2d(10, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout2d(0.25), nn.Flatten(),
        nn.Linear(2000, 100), nn.ReLU(),
        nn.Linear(100, 10), nn.ReLU())


def lenet_fashion():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(6, 16, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(256, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def resnet18_cifar():
    import torchvision  # only this model needs it
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def mobilenet_v2():
    import torchvision
    return torchvision.models.mobilenet_v2()  # 1000 classes, as models/mobilenet_v2.yaml


# name -> (builder, input shape CHW, batch, optimizer factory, optimizer description)
MODELS = {
    "lenet5":        (lambda: lenet5(1, nn.AvgPool2d), (1, 32, 32), 128, lambda p: torch.optim.SGD(p, lr=0.1), "SGD lr0.1"),
    "lenet5-max":    (lambda: lenet5(1, nn.MaxPool2d), (1, 32, 32), 64, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.5), "SGD lr0.01 m0.5"),
    "modelA":        (lambda: modelA(nn.MaxPool2d), (1, 28, 28), 100, lambda p: torch.optim.SGD(p, lr=0.01), "SGD lr0.01"),
    "modelB":        (lambda: modelA(nn.AvgPool2d), (1, 28, 28), 100, lambda p: torch.optim.SGD(p, lr=0.01), "SGD lr0.01"),
    "modelC":        (modelC, (1, 28, 28), 100, lambda p: torch.optim.SGD(p, lr=0.01), "SGD lr0.01"),
    "dropout-cnn":   (dropout_cnn, (1, 28, 28), 64, lambda p: torch.optim.SGD(p, lr=0.01), "SGD lr0.01"),
    "lenet-fashion": (lenet_fashion, (1, 28, 28), 64, lambda p: torch.optim.Adam(p), "Adam"),
    "lenet5-cifar":  (lambda: lenet5(3, nn.AvgPool2d), (3, 32, 32), 128, lambda p: torch.optim.SGD(p, lr=0.1), "SGD lr0.1"),
    "resnet18-cifar": (resnet18_cifar, (3, 32, 32), 64,
                       lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4), "SGD lr0.05 m0.9"),
    "mobilenet-v2-32": (mobilenet_v2, (3, 32, 32), 64,
                        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=4e-5), "SGD lr0.05 m0.9"),
}


def forward_flops(model, chw):
    """2*MACs of Conv2d and Linear layers for one image (bias adds ignored)."""
    flops = 0
    x = torch.zeros(1, *chw)
    hooks = []

    def conv_hook(m, inp, out):
        nonlocal flops
        cin = m.in_channels // m.groups
        kh, kw = m.kernel_size
        flops += 2 * out.numel() * cin * kh * kw

    def lin_hook(m, inp, out):
        nonlocal flops
        flops += 2 * m.in_features * m.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return flops


def time_loop(step, min_steps=None, min_sec=MIN_SEC):
    min_steps = MIN_STEPS if min_steps is None else min_steps
    for _ in range(WARMUP):
        step()
    n = 0
    t0 = time.perf_counter()
    while True:
        step()
        n += 1
        el = time.perf_counter() - t0
        if n >= min_steps and el >= min_sec:
            return n, el


def bench(name, batch=None, threads=2, modes=("train", "infer")):
    torch.set_num_threads(threads)
    builder, chw, default_batch, optf, optdesc = MODELS[name]
    bs = batch or default_batch
    torch.manual_seed(0)
    model = builder()
    fl = forward_flops(model, chw)
    x = torch.randn(bs, *chw)
    y = torch.randint(0, 10, (bs,))
    lossf = nn.CrossEntropyLoss()
    res = {"name": name, "batch": bs, "threads": threads, "opt": optdesc, "fwd_flops": fl}
    if "train" in modes:
        opt = optf(model.parameters())
        model.train()

        def tstep():
            out = model(x)
            loss = lossf(out, y)
            loss.backward()
            opt.step()
            opt.zero_grad()
        ips = []
        for _ in range(REPEATS):
            n, el = time_loop(tstep)
            ips.append(n * bs / el)
        res["train_ips_all"] = ips
        res["train_ips"] = statistics.median(ips)
    if "infer" in modes:
        model.eval()

        def istep():
            with torch.no_grad():
                model(x)
        ips = []
        for _ in range(REPEATS):
            n, el = time_loop(istep)
            ips.append(n * bs / el)
        res["infer_ips_all"] = ips
        res["infer_ips"] = statistics.median(ips)
    return res


def fmt(r):
    fl = r["fwd_flops"]
    s = f"{r['name']:<14} bs={r['batch']:<4} thr={r['threads']} opt={r['opt']:<16} fwdMFLOP/img={fl/1e6:8.3f}"
    if "train_ips" in r:
        t = r["train_ips"]
        s += f" | train {t:10.1f} img/s  ~{3*fl*t/1e9:6.2f} GFLOP/s  epoch60k={60000/t:7.2f}s  reps={[round(v,1) for v in r['train_ips_all']]}"
    if "infer_ips" in r:
        i = r["infer_ips"]
        s += f" | infer {i:10.1f} img/s  {fl*i/1e9:6.2f} GFLOP/s  pass60k={60000/i:6.2f}s  reps={[round(v,1) for v in r['infer_ips_all']]}"
    return s


def main():
    global MIN_STEPS, WARMUP
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--modes", nargs="*", default=["train", "infer"])
    ap.add_argument("--min-steps", type=int, default=MIN_STEPS, help="timed steps per repeat, at least")
    ap.add_argument("--warmup", type=int, default=WARMUP, help="untimed steps before each repeat")
    ap.add_argument("--suite", action="store_true", help="full suite incl. modelA scaling runs")
    a = ap.parse_args()
    MIN_STEPS, WARMUP = a.min_steps, a.warmup
    print(f"# torch {torch.__version__} capability={torch.backends.cpu.get_cpu_capability()} "
          f"mkldnn={torch.backends.mkldnn.is_available()} warmup={WARMUP} min_steps={MIN_STEPS} min_sec={MIN_SEC} repeats={REPEATS}", flush=True)
    if a.suite:
        for n in MODELS:
            print(fmt(bench(n, threads=2)), flush=True)
        print("# modelA scaling", flush=True)
        print(fmt(bench("modelA", threads=1)), flush=True)
        for bs in (1, 16, 256):
            print(fmt(bench("modelA", batch=bs, threads=2, modes=("train",))), flush=True)
        return
    for n in (a.only or MODELS):
        print(fmt(bench(n, batch=a.batch, threads=a.threads, modes=a.modes)), flush=True)


if __name__ == "__main__":
    main()
