"""`python -m vggattn.bench {allocator,data,dynamic,engine,models} [options]`."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "allocator": "train steps with glibc's default malloc vs retain_freed_memory() (fresh processes)",
    "data": "tensor pipeline vs per-sample torchvision DataLoader (images/s, ratio)",
    "dynamic": "DynamicConv2d's two exact paths vs a plain conv at each VGG16 dynamic position",
    "engine": "the training engine vs a bare hand-written loop on the same tensors",
    "models": "train-step and inference time of every attention variant relative to plain VGG16",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m vggattn.bench", description=__doc__)
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS), help="; ".join(f"{k}: {v}" for k, v in BENCHMARKS.items()))
    args, rest = parser.parse_known_args(argv)
    module = importlib.import_module(f"vggattn.bench.{args.benchmark}")
    return module.main(rest) or 0


if __name__ == "__main__":
    raise SystemExit(main())
