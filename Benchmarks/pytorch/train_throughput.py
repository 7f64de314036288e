#!/usr/bin/env python3
"""PyTorch CPU training-throughput baseline for the CoCoFL engine's models.

Defines, in plain torch.nn, the CIFAR-style models our oneDNN engine builds
(structure follows the kuangliu/pytorch-cifar implementations):

  resnet8      conv1 3x3 16 + bn + relu; BasicBlock 16/s1, 32/s2, 64/s2;
               global avg pool; linear 64 -> classes
  resnet18     kuangliu ResNet18 (conv1 3x3 64, no maxpool, [2,2,2,2] blocks
               of 64/128/256/512 with strides 1/2/2/2, avg pool, linear)
  mobilenetv2  kuangliu MobileNetV2 for CIFAR (conv1 stride 1, cfg stage 2
               stride 1), ReLU everywhere (as in the reference CIFAR MobileNetV2 and our engine), conv2 1x1 320 -> 1280, linear

and times full training steps: forward, cross-entropy, backward, SGD step
(lr 0.1, momentum 0, weight decay 1e-3) on random data, BatchNorm in train
mode. After warm-up steps it runs several timed windows of several steps each
and reports the median window's ms/step and images/s (plus the best window,
which is robust to interference from other processes on a shared machine).

FLOPs/image is the forward-pass conv + linear multiply-accumulate count x 2,
counted with forward hooks (BN, ReLU, pooling, adds and bias are not counted).

Usage:
  python3 train_throughput.py                       # all models, 3x32x32, NCHW
  python3 train_throughput.py --channels-last       # channels_last instead
  python3 train_throughput.py --memory-format both --input all --json out.json
"""

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    """kuangliu-style CIFAR ResNet: 3x3 stem, no max-pool, global avg pool."""

    def __init__(self, widths, num_blocks, strides, in_channels=3, num_classes=10):
        super().__init__()
        self.in_planes = widths[0]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers = []
        for w, n, s in zip(widths, num_blocks, strides):
            layers.append(self._make_layer(w, n, s))
        # layer1 .. layerN attribute names as in kuangliu
        for i, layer in enumerate(layers, start=1):
            setattr(self, f"layer{i}", layer)
        self.num_layers = len(layers)
        self.linear = nn.Linear(widths[-1] * BasicBlock.expansion, num_classes)

    def _make_layer(self, planes, num_blocks, stride):
        blocks = []
        for s in [stride] + [1] * (num_blocks - 1):
            blocks.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes * BasicBlock.expansion
        return nn.Sequential(*blocks)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        for i in range(1, self.num_layers + 1):
            out = getattr(self, f"layer{i}")(out)
        out = F.adaptive_avg_pool2d(out, 1)
        out = torch.flatten(out, 1)
        return self.linear(out)


def resnet8(in_channels=3, num_classes=10):
    return ResNet([16, 32, 64], [1, 1, 1], [1, 2, 2], in_channels, num_classes)


def resnet18(in_channels=3, num_classes=10):
    return ResNet([64, 128, 256, 512], [2, 2, 2, 2], [1, 2, 2, 2], in_channels, num_classes)


class MBBlock(nn.Module):
    """expand (1x1) + depthwise (3x3) + project (1x1), ReLU."""

    def __init__(self, in_planes, out_planes, expansion, stride):
        super().__init__()
        self.stride = stride
        planes = expansion * in_planes
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, groups=planes, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = nn.Sequential()
        if stride == 1 and in_planes != out_planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, bias=False),
                nn.BatchNorm2d(out_planes),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.stride == 1:
            out = out + self.shortcut(x)
        return out


class MobileNetV2(nn.Module):
    # (expansion, out_planes, num_blocks, stride); CIFAR variant: stage 2 stride 1
    cfg = [(1, 16, 1, 1),
           (6, 24, 2, 1),
           (6, 32, 3, 2),
           (6, 64, 4, 2),
           (6, 96, 3, 1),
           (6, 160, 3, 2),
           (6, 320, 1, 1)]

    def __init__(self, in_channels=3, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.layers = self._make_layers(in_planes=32)
        self.conv2 = nn.Conv2d(320, 1280, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(1280)
        self.linear = nn.Linear(1280, num_classes)

    def _make_layers(self, in_planes):
        layers = []
        for expansion, out_planes, num_blocks, stride in self.cfg:
            for s in [stride] + [1] * (num_blocks - 1):
                layers.append(MBBlock(in_planes, out_planes, expansion, s))
                in_planes = out_planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.relu(self.bn2(self.conv2(out)))
        out = F.adaptive_avg_pool2d(out, 1)
        out = torch.flatten(out, 1)
        return self.linear(out)


def mobilenetv2(in_channels=3, num_classes=10):
    return MobileNetV2(in_channels, num_classes)


MODELS = {"resnet8": resnet8, "resnet18": resnet18, "mobilenetv2": mobilenetv2}
INPUTS = {"3x32x32": (3, 32, 32), "1x28x28": (1, 28, 28)}


# --------------------------------------------------------------------------
# FLOP counting (conv + linear MACs x 2, forward, per image)
# --------------------------------------------------------------------------

def count_forward_flops(model, shape):
    macs = [0]

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        macs[0] += out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m, inp, out):
        macs[0] += out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return 2 * macs[0]


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def bench(name, shape, channels_last, args):
    torch.manual_seed(0)
    model = MODELS[name](in_channels=shape[0], num_classes=args.classes)
    flops = count_forward_flops(model, shape)
    params = sum(p.numel() for p in model.parameters())
    model.train()
    x = torch.randn(args.batch, *shape)
    y = torch.randint(0, args.classes, (args.batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.0, weight_decay=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    warm_s = (time.perf_counter() - t0) / max(args.warmup, 1)

    # steps per window: fixed, or chosen so one window lasts ~window_seconds
    if args.steps_per_window > 0:
        spw = args.steps_per_window
    else:
        t0 = time.perf_counter()
        step()
        one = time.perf_counter() - t0
        spw = max(1, min(200, round(args.window_seconds / max(one, 1e-6))))

    window_ms = []
    for _ in range(args.windows):
        t0 = time.perf_counter()
        for _ in range(spw):
            loss = step()
        loss.item()
        window_ms.append((time.perf_counter() - t0) * 1000.0 / spw)

    ms = statistics.median(window_ms)
    return {
        "model": name,
        "input": "x".join(map(str, shape)),
        "memory_format": "channels_last" if channels_last else "contiguous",
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "ms_per_step": ms,
        "images_per_s": args.batch * 1000.0 / ms,
        "window_ms_per_step": window_ms,
        "min_ms_per_step": min(window_ms),
        "steps_per_window": spw,
        "windows": args.windows,
        "warmup_steps": args.warmup,
        "warmup_ms_per_step": warm_s * 1000.0,
        "forward_flops_per_image": flops,
        "params": params,
        "final_loss": float(loss.item()),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet8,resnet18,mobilenetv2",
                   help="comma-separated subset of: " + ",".join(MODELS))
    p.add_argument("--input", default="3x32x32", choices=list(INPUTS) + ["all"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3, help="warm-up steps (default 3)")
    p.add_argument("--windows", type=int, default=5, help="timed windows (median reported)")
    p.add_argument("--steps-per-window", type=int, default=0,
                   help="steps per window; 0 = auto from --window-seconds")
    p.add_argument("--window-seconds", type=float, default=2.0)
    p.add_argument("--channels-last", action="store_true",
                   help="use channels_last memory format (same as --memory-format channels_last)")
    p.add_argument("--memory-format", choices=["contiguous", "channels_last", "both"], default=None)
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help="write results as JSON to FILE (or stdout if no FILE)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    fmt = args.memory_format or ("channels_last" if args.channels_last else "contiguous")
    formats = {"contiguous": [False], "channels_last": [True], "both": [False, True]}[fmt]
    shapes = list(INPUTS.values()) if args.input == "all" else [INPUTS[args.input]]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}")

    info = {
        "torch_version": torch.__version__,
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "num_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
    }
    to_stdout_json = args.json == "-"
    log = sys.stderr if to_stdout_json else sys.stdout
    print(f"torch {info['torch_version']}  mkldnn available: {info['mkldnn_available']}  "
          f"threads: {info['num_threads']}  cpu: {info['processor']}", file=log)

    results = []
    for shape in shapes:
        for name in models:
            for cl in formats:
                r = bench(name, shape, cl, args)
                results.append(r)
                print(f"  done {r['model']:<12} {r['input']:<8} {r['memory_format']:<13} "
                      f"{r['ms_per_step']:9.1f} ms/step  windows={['%.1f' % w for w in r['window_ms_per_step']]}",
                      file=log, flush=True)

    hdr = f"{'model':<12} {'input':<8} {'mem format':<13} {'batch':>5} {'thr':>3} {'img/s':>9} {'ms/step':>9} {'best img/s':>10} {'best ms':>8} {'MFLOPs/img (fwd)':>17} {'params':>10}"
    print("", file=log)
    print(hdr, file=log)
    print("-" * len(hdr), file=log)
    for r in results:
        print(f"{r['model']:<12} {r['input']:<8} {r['memory_format']:<13} {r['batch']:>5} {r['threads']:>3} "
              f"{r['images_per_s']:9.1f} {r['ms_per_step']:9.1f} "
              f"{r['batch'] * 1000.0 / r['min_ms_per_step']:10.1f} {r['min_ms_per_step']:8.1f} "
              f"{r['forward_flops_per_image'] / 1e6:17.2f} "
              f"{r['params']:>10}", file=log)

    if args.json is not None:
        doc = {"info": info, "results": results}
        if to_stdout_json:
            json.dump(doc, sys.stdout, indent=2)
            print()
        else:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=2)
                f.write("\n")
            print(f"\nwrote {args.json}", file=log)


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
