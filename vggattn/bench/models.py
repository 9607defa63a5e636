"""Train-step and inference time of every attention variant of VGG16-BN, relative to the plain model.

    python -m vggattn.bench models                 # width 0.25, batch 32, CIFAR input 32x32
    python -m vggattn.bench models --width 1 --repeats 3

Times are medians over `--repeats` interleaved rounds (`vggattn.profiling.median_seconds`):
each round times every variant once, in turn, so a slow-down of the machine hits all variants
alike. Memory, two ways: the bytes of the parameters (x3: weights, gradients, SGD momentum) and of
the activations autograd saves for backward in one train step (tensors counted once per storage,
parameters excluded); and the peak resident memory of two train steps, measured in a fresh process
per variant (its peak RSS minus the RSS before the model was built; Linux and macOS).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vggattn.allocator import retain_freed_memory
from vggattn.inspection import count_flops, count_parameters
from vggattn.models import build_vgg
from vggattn.profiling import (
    in_fresh_process,
    inference,
    median_seconds,
    random_batch,
    saved_activation_bytes,
    sgd_for_timing,
    train_step,
)

# name -> build_vgg arguments on top of VGG16-BN with the CIFAR head
VARIANTS: dict[str, dict[str, object]] = {
    "plain": {},
    "se": {"attention": "se", "reduction": 16, "bias": False},
    "spatial": {"attention": "spatial", "kernel_size": 7},
    "cbam": {"attention": "cbam"},
    "dynamic": {"attention": "dynamic", "num_kernels": 4},
    "article_dynamic": {"attention": "article_dynamic", "reduction": 16},
}


@dataclass
class Variant:
    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer


def _max_rss_bytes() -> int:
    """This process's peak resident memory: VmHWM on Linux (ru_maxrss there survives exec, so a child would
    start at its parent's peak), else ru_maxrss (bytes on macOS)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # "VmHWM:  123456 kB"
    import resource  # not on Windows

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def measure_peak_train_memory(name: str, width: float, batch: int, threads: int) -> int:
    """In this process: bytes by which two train steps of variant `name` raise the peak RSS (malloc set as in `fit`)."""
    retain_freed_memory()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = random_batch(batch)
    before = _max_rss_bytes()
    model = build_vgg(16, True, width, head="cifar", **VARIANTS[name])
    optimizer = sgd_for_timing(model)
    for _ in range(2):  # the second step also holds the momentum buffers
        train_step(model, optimizer, x, y)
    return _max_rss_bytes() - before


def peak_train_memory(name: str, width: float, batch: int, threads: int) -> int | None:
    """`measure_peak_train_memory` in a fresh Python process (a process's peak only grows); None if unavailable."""
    try:
        return in_fresh_process("vggattn.bench.models:measure_peak_train_memory", name, width, batch, threads)
    except RuntimeError:  # e.g. no peak-RSS reading on this platform
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vggattn.bench models", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--width", type=float, default=0.25, help="channel multiplier (1 = full VGG16-BN)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (after one warm-up round)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--no-peak", action="store_true", help="skip the per-variant peak-memory processes")
    args = parser.parse_args(argv)
    if "plain" not in args.variants:
        parser.error("--variants must include plain: every ratio is relative to it")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    peaks = {
        name: None if args.no_peak else peak_train_memory(name, args.width, args.batch, torch.get_num_threads())
        for name in args.variants
    }  # first: each in a fresh process
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    variants = []
    for name in args.variants:
        model = build_vgg(16, True, args.width, head="cifar", **VARIANTS[name])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        variants.append(Variant(name, model, optimizer))

    print(
        f"VGG16-BN width {args.width}, batch {args.batch}, input 32x32, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats} rounds (+1 warm-up)"
    )
    actions = {}
    for variant in variants:  # one round: every variant's train step, then every variant's inference
        actions[("train", variant.name)] = lambda v=variant: train_step(v.model, v.optimizer, x, y)
    for variant in variants:
        actions[("infer", variant.name)] = lambda v=variant: inference(v.model, x)
    seconds = median_seconds(actions, args.repeats)
    train = {variant.name: seconds[("train", variant.name)] for variant in variants}
    infer = {variant.name: seconds[("infer", variant.name)] for variant in variants}
    plain_train, plain_infer = train["plain"], infer["plain"]
    header = (
        f"{'variant':<13}{'params':>13}{'GFLOP/img':>11}{'train ms':>11}{'x plain':>9}"
        f"{'infer ms':>11}{'x plain':>9}{'param MB x3':>13}{'saved act MB':>14}{'peak MB':>9}{'x plain':>9}"
    )
    print(header)
    print("-" * len(header))
    for variant in variants:
        params = count_parameters(variant.model)
        flops = count_flops(variant.model, (1, 3, 32, 32)) / 1e9
        activations = saved_activation_bytes(variant.model, x, y) / 2**20
        peak, plain_peak = peaks[variant.name], peaks["plain"]
        peak_text = (
            f"{peak / 2**20:>9.0f}{peak / plain_peak:>9.2f}"
            if peak is not None and plain_peak
            else f"{'n/a':>9}{'':>9}"
        )
        print(
            f"{variant.name:<13}{params:>13,}{flops:>11.3f}{train[variant.name] * 1e3:>11.1f}"
            f"{train[variant.name] / plain_train:>9.2f}{infer[variant.name] * 1e3:>11.1f}"
            f"{infer[variant.name] / plain_infer:>9.2f}{3 * params * 4 / 2**20:>13.1f}{activations:>14.1f}{peak_text}"
        )
    print(
        "param MB x3: weights, gradients and SGD momentum (float32); saved act MB: the tensors autograd "
        "keeps for backward in one train step; peak MB: the rise of a fresh process's peak RSS over two train steps"
    )
    if "dynamic" in train and "article_dynamic" in train:
        print(f"\narticle_dynamic / dynamic train step: {train['article_dynamic'] / train['dynamic']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
