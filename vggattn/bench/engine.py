"""`python -m vggattn.bench engine`: the training engine against a bare hand-written loop on the same tensors.

Both train the same narrow VGG16-BN (same initial weights, optimizer, schedule and batches) for one
epoch; `fit` adds the loss check, accuracy bookkeeping, callbacks and checkpoint logic, the bare loop
only forward, backward and step. overhead = bare images/s / fit images/s - 1 (goal: under 5%).
The two alternate, so that a CPU shared with other work slows both alike; the best run of each is
compared, by wall clock and by the process's CPU time (steadier when other work shares the CPU).
`--baseline` also trains the baseline recipe once more (`BASELINE_RECIPE` on all the training images) and reports
its accuracy and time; it stores nothing (the stored baseline is the experiment store's `baseline`).
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F
from torch import nn

from vggattn.data import CifarTensors, batches, load_cifar10, load_cifar10_splits
from vggattn.finetune import BASELINE, BASELINE_RECIPE
from vggattn.models import build_vgg
from vggattn.profiling import timed
from vggattn.runtime import seed_everything
from vggattn.train import TrainConfig, build_optimizer, build_scheduler, fit


def bare_loop(model: nn.Module, data: CifarTensors, config: TrainConfig) -> None:
    """One epoch of the plainest training loop, with fit's optimizer, schedule and batches."""
    optimizer = build_optimizer(model, config)
    loader = batches(data, config.batch_size, train=True, seed=config.seed, epoch=1)
    scheduler = build_scheduler(optimizer, config, len(loader))
    model.train()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vggattn.bench engine", description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=float, default=BASELINE["width"], help="VGG16-BN width (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=128, help="default %(default)s")
    parser.add_argument(
        "--subset-per-class", type=int, default=300, help="training images per class (default %(default)s)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="runs of each, alternating (default %(default)s)")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads (default %(default)s)"
    )
    parser.add_argument("--data-root", help="CIFAR-10 folder (default $VGGATTN_DATA, then data/)")
    parser.add_argument(
        "--baseline", action="store_true", help="also train the baseline recipe once (stores nothing) and report it"
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    data = load_cifar10("train", args.data_root, subset_per_class=args.subset_per_class)
    held_out = load_cifar10("test", args.data_root, subset_per_class=1)  # fit evaluates after the epoch: 10 images
    seed_everything(0)
    initial = build_vgg(**{**BASELINE, "width": args.width})
    config = TrainConfig(epochs=1, lr=0.05, batch_size=args.batch_size)
    images = len(data) // args.batch_size * args.batch_size
    print(
        f"engine vs bare loop: VGG16-BN width {args.width}, batch {args.batch_size}, {images:,} images per run, "
        f"cpu, {args.threads} threads; {args.repeats} runs of each, alternating; images/s by wall clock and by "
        f"CPU time of this process"
    )
    print(f"{'run':>4}{'fit wall':>11}{'bare wall':>11}{'fit cpu':>11}{'bare cpu':>11}")
    speeds: dict[str, list[float]] = {"fit wall": [], "bare wall": [], "fit cpu": [], "bare cpu": []}
    for run in range(1, args.repeats + 1):
        fit_times = timed(
            lambda: fit(
                copy.deepcopy(initial),
                data,
                held_out,
                epochs=1,
                lr=config.lr,
                batch_size=config.batch_size,
                device="cpu",
                progress=False,
            )
        )
        bare_times = timed(lambda: bare_loop(copy.deepcopy(initial), data, config))
        for name, seconds in zip(speeds, (fit_times[0], bare_times[0], fit_times[1], bare_times[1])):
            speeds[name].append(images / seconds)
        print(f"{run:>4}" + "".join(f"{values[-1]:>11,.0f}" for values in speeds.values()))
    best = {name: max(values) for name, values in speeds.items()}  # the least disturbed run of each
    for clock in ("wall", "cpu"):
        overhead = best[f"bare {clock}"] / best[f"fit {clock}"] - 1
        print(
            f"best by {clock:>4}: fit {best[f'fit {clock}']:,.0f} img/s, bare {best[f'bare {clock}']:,.0f} img/s, "
            f"engine overhead {overhead:+.1%} (goal < 5%)"
        )
    print(
        "fit's time includes its setup and the evaluation of 10 test images. On a CPU shared with other work the "
        "wall clock is noisy: trust the CPU-time line, or rerun on an idle machine."
    )

    if args.baseline:
        train_data, test_data = load_cifar10_splits(args.data_root)
        history = fit(build_vgg(**BASELINE), train_data, test_data, BASELINE_RECIPE, progress=False)
        seconds = sum(record.seconds + record.eval_seconds for record in history)
        print(
            f"baseline recipe: test accuracy {history.final.test_acc:.2%} in {seconds:.0f} s "
            f"({len(train_data):,} training images)"
        )
    return 0
