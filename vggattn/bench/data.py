"""`python -m vggattn.bench data`: the tensor data pipeline against a per-sample torchvision DataLoader.

On real CIFAR-10 (found by `find_data_root`), in one run:

1. decoding every image of both splits without the cache, then loading them from the cache;
2. images/s of one training epoch over the same N images: `batches(train=True)` (whole-batch crop,
   flip, normalise) against a DataLoader over a per-sample Dataset with `transforms.v2`
   (RandomCrop(32, padding=4), RandomHorizontalFlip, ToDtype, Normalize), and their ratio;
3. the pipeline's share of one training step of a VGG16-BN of width 0.25.

Goals: the tensor pipeline at least 10x the DataLoader's images/s, and under 5% of a training step.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from typing import TypeVar

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from vggattn.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CifarTensors,
    batches,
    find_data_root,
    load_cifar10,
    load_cifar10_splits,
)
from vggattn.paths import display_path
from vggattn.profiling import median_seconds, random_batch, sgd_for_timing, timed, train_step

SPEEDUP_GOAL = 10.0
STEP_SHARE_GOAL = 0.05
T = TypeVar("T")


class PerSampleDataset(Dataset):
    """The same uint8 images, transformed one at a time as a torchvision recipe does."""

    def __init__(self, data: CifarTensors) -> None:
        self.data = data
        self.transform = v2.Compose(
            [
                v2.RandomCrop(32, padding=4),
                v2.RandomHorizontalFlip(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(CIFAR10_MEAN, CIFAR10_STD),
            ]
        )

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.data.images[index]), int(self.data.labels[index])


def images_per_second(loader: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Images per second of one full pass over `loader` (worker start-up included)."""
    count = 0
    start = time.perf_counter()
    for _x, y in loader:
        count += len(y)
    return count / (time.perf_counter() - start)


def train_step_seconds(batch_size: int, steps: int) -> float:
    """Median seconds of forward + backward + SGD step of a VGG16-BN, width 0.25, on random batches."""
    from vggattn.models import build_vgg  # imported here: the data benchmark needs a model only for this

    model = build_vgg(depth=16, batch_norm=True, width=0.25, num_classes=10, head="cifar")
    optimizer = sgd_for_timing(model)
    x, y = random_batch(batch_size)
    return median_seconds({"train step": lambda: train_step(model, optimizer, x, y)}, steps)["train step"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vggattn.bench data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=10_000, help="training images per pipeline epoch (default 10000)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default 128)")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[0, 2], help="DataLoader num_workers to try (default 0 2)"
    )
    parser.add_argument("--steps", type=int, default=5, help="timed training steps (default 5)")
    parser.add_argument("--root", default=None, help="data root (default: $VGGATTN_DATA, then the project's data/)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's; 1 is steadier on a busy shared machine)",
    )
    args = parser.parse_args(argv)
    if min(args.images, args.batch_size, args.steps, args.threads or 1) <= 0 or min(args.workers) < 0:
        parser.error("--images, --batch-size, --steps and --threads must be positive, --workers not negative")

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    root, layout = find_data_root(args.root)
    print(
        f"CIFAR-10 data benchmark: {layout} copy at {display_path(root)}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch thread(s)"
    )

    decode_s, _, (train, test) = timed(
        lambda: (
            load_cifar10("train", root, cache=False, download=False),
            load_cifar10("test", root, cache=False, download=False),
        )
    )
    total = len(train) + len(test)
    load_cifar10_splits(root, download=False)  # writes the cache if it is missing or stale
    cache_s, _, _ = timed(lambda: load_cifar10_splits(root, download=False))
    print(f"decode without cache, {total} images: {decode_s:7.2f} s  ({total / decode_s:9,.0f} images/s)")
    print(f"load from cache,      {total} images: {cache_s:7.2f} s  ({total / cache_s:9,.0f} images/s)")

    if args.images > len(train):
        parser.error(f"--images {args.images} is more than the {len(train)} training images")
    chosen = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[: args.images]
    data = CifarTensors(train.images[chosen], train.labels[chosen], train.classes, train.source)
    print(f"\none training epoch of {len(data)} images, batch {args.batch_size}, crop + flip + normalise:")
    tensor_rate = images_per_second(batches(data, args.batch_size, train=True))
    print(f"  tensor pipeline, batches(train=True)       {tensor_rate:9,.0f} images/s")
    for workers in args.workers:
        loader = DataLoader(
            PerSampleDataset(data), batch_size=args.batch_size, shuffle=True, drop_last=True, num_workers=workers
        )
        rate = images_per_second(loader)
        ratio = tensor_rate / rate
        verdict = "met" if ratio >= SPEEDUP_GOAL else "NOT met"
        print(
            f"  DataLoader + transforms.v2, num_workers={workers} {rate:9,.0f} images/s"
            f"  -> tensor pipeline {ratio:5.1f}x faster (goal >= {SPEEDUP_GOAL:.0f}x: {verdict})"
        )

    step_s = train_step_seconds(args.batch_size, args.steps)
    pipeline_s = args.batch_size / tensor_rate
    share = pipeline_s / (pipeline_s + step_s)
    verdict = "met" if share < STEP_SHARE_GOAL else "NOT met"
    print(
        f"\ntraining step of VGG16-BN width 0.25, batch {args.batch_size} (median of {args.steps}): "
        f"{step_s * 1e3:8.1f} ms"
    )
    print(
        f"tensor pipeline per batch: {pipeline_s * 1e3:8.2f} ms = {share:.1%} of pipeline + step "
        f"(goal < {STEP_SHARE_GOAL:.0%}: {verdict})"
    )
    return 0
