"""`python -m vggattn.bench {allocator,data,dynamic,engine,models} [options]`."""

from __future__ import annotations

import argparse
import importlib
import sys

from vggattn.allocator import retain_freed_memory

BENCHMARKS = {
    "allocator": "train steps with glibc's default malloc vs retain_freed_memory() (fresh processes)",
    "data": "tensor pipeline vs per-sample torchvision DataLoader (images/s, ratio)",
    "dynamic": "DynamicConv2d's two exact paths vs a plain conv at each VGG16 dynamic position",
    "engine": "the training engine vs a bare hand-written loop on the same tensors",
    "models": "train-step and inference time of every attention variant relative to plain VGG16",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m vggattn.bench",
        description=__doc__,
        epilog="`python -m vggattn.bench NAME --help` lists a benchmark's own options.",
    )
    parser.add_argument(
        "benchmark", choices=sorted(BENCHMARKS), help="; ".join(f"{k}: {v}" for k, v in BENCHMARKS.items())
    )
    if not argv or argv[0].startswith("-"):
        parser.parse_args(argv)  # the top-level --help, or the usage error that lists the benchmarks
    args = parser.parse_args(argv[:1])  # the benchmark's name; the rest, --help included, is the benchmark's
    if args.benchmark != "allocator":  # that one compares the malloc settings itself, in fresh processes
        retain_freed_memory()  # time steps as training runs them (see vggattn.allocator)
    module = importlib.import_module(f"vggattn.bench.{args.benchmark}")
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    raise SystemExit(main())
