"""`python -m vggattn.bench allocator`: train steps with glibc's default malloc vs `retain_freed_memory()`.

Each run is a fresh Python process (the malloc setting is process-wide and cannot be undone), the two
settings alternate, and each process trains the baseline architecture on random tensors: warm-up
steps, then `--steps` timed steps. Reported per run: median milliseconds per step, images/s and minor
page faults per step (Linux `ru_minflt`); then the ratio of the best run of each setting.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from vggattn.allocator import retain_freed_memory
from vggattn.checks import check_int
from vggattn.models import build_vgg
from vggattn.profiling import in_fresh_process, random_batch, sgd_for_timing, train_step

SETTINGS = ("default", "retained")


def measure(retain: bool, width: float, batch: int, steps: int, threads: int) -> dict[str, float]:
    """In this process: median seconds per train step and minor page faults per step of VGG16-BN (CIFAR head)."""
    import resource  # Unix only; the benchmark is about glibc

    applied = retain_freed_memory() if retain else False
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_vgg(16, True, width, head="cifar").to(memory_format=torch.channels_last)
    optimizer = sgd_for_timing(model)
    x, y = random_batch(batch)
    x = x.to(memory_format=torch.channels_last)
    for _ in range(3):
        train_step(model, optimizer, x, y)
    # timed here, not with median_seconds: that would call retain_freed_memory() in the "default" process too
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        train_step(model, optimizer, x, y)
        seconds.append(time.perf_counter() - start)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return {"seconds": statistics.median(seconds), "faults": faults / steps, "applied": applied}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vggattn.bench allocator", description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=float, default=0.25, help="VGG16-BN width (default %(default)s)")
    parser.add_argument("--batch", type=int, default=256, help="default %(default)s (the baseline recipe's)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per process (default %(default)s)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="processes per setting, alternating (default %(default)s)"
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="default %(default)s")
    args = parser.parse_args(argv)
    for name in ("batch", "steps", "repeats", "threads"):
        check_int(f"--{name}", getattr(args, name))
    if not sys.platform.startswith("linux"):
        print("retain_freed_memory() changes glibc's malloc only: nothing to compare on this platform")
        return 0

    print(
        f"VGG16-BN width {args.width}, batch {args.batch}, channels_last, {args.threads} threads, "
        f"{args.steps} timed steps per process, {args.repeats} processes per setting, alternating"
    )
    print(f"{'run':>4}{'setting':>10}{'ms/step':>10}{'images/s':>10}{'faults/step':>13}")
    best: dict[str, float] = {}
    for run in range(1, args.repeats + 1):
        for setting in SETTINGS:
            result = in_fresh_process(
                "vggattn.bench.allocator:measure",
                setting == "retained",
                args.width,
                args.batch,
                args.steps,
                args.threads,
            )
            if setting == "retained" and not result["applied"]:
                print("retain_freed_memory() had no effect here (not glibc?): nothing to compare")
                return 0
            best[setting] = min(best.get(setting, float("inf")), result["seconds"])
            print(
                f"{run:>4}{setting:>10}{result['seconds'] * 1e3:>10.1f}{args.batch / result['seconds']:>10,.0f}"
                f"{result['faults']:>13,.0f}"
            )
    print(
        f"best run of each: default {args.batch / best['default']:,.0f} images/s, retained "
        f"{args.batch / best['retained']:,.0f} images/s: {best['default'] / best['retained']:.2f}x faster"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
