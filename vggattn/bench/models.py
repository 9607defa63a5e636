"""Train-step and inference time of every attention variant of VGG16-BN, relative to the plain model.

    python -m vggattn.bench models                 # width 0.25, batch 32, CIFAR input 32x32
    python -m vggattn.bench models --width 1 --repeats 3

Times are medians over `--repeats` rounds; each round times every variant once, in turn, so a
slow-down of the machine hits all variants alike. Memory is not the process's peak (one process
cannot give a peak per variant): it is the bytes of the parameters (x3: weights, gradients, SGD
momentum) and of the activations autograd saves for backward in one train step (tensors counted
once per storage, parameters excluded).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vggattn.inspection import count_flops, count_parameters
from vggattn.models import build_vgg

# name -> build_vgg arguments on top of VGG16-BN with the CIFAR head
VARIANTS: dict[str, dict[str, object]] = {
    "plain": {},
    "se": {"attention": "se", "reduction": 16, "bias": False},
    "spatial": {"attention": "spatial", "kernel_size": 7},
    "cbam": {"attention": "cbam"},
    "dynamic": {"attention": "dynamic", "num_kernels": 4},
    "seed_dynamic": {"attention": "seed_dynamic", "reduction": 16},
}


@dataclass
class Variant:
    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    train_times: list[float]
    infer_times: list[float]


def _timed(step: Callable[[], None]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _train_step(variant: Variant, x: torch.Tensor, y: torch.Tensor) -> None:
    variant.model.train()
    variant.optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(variant.model(x), y).backward()
    variant.optimizer.step()


def _inference(variant: Variant, x: torch.Tensor) -> None:
    variant.model.eval()
    with torch.no_grad():
        variant.model(x)


def saved_activation_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for backward in one forward pass (each storage once, no parameters)."""
    parameter_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameter_storages:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = F.cross_entropy(model(x), y)
    del loss
    return sum(storages.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vggattn.bench models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=0.25, help="channel multiplier (1 = full VGG16-BN)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (after one warm-up round)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args(argv)
    if "plain" not in args.variants:
        parser.error("--variants must include plain: every ratio is relative to it")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    variants = []
    for name in args.variants:
        model = build_vgg(16, True, args.width, head="cifar", **VARIANTS[name])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        variants.append(Variant(name, model, optimizer, [], []))

    print(f"VGG16-BN width {args.width}, batch {args.batch}, input 32x32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats} rounds (+1 warm-up)")
    for round_number in range(args.repeats + 1):  # round 0 warms up and is not kept
        for variant in variants:
            seconds = _timed(lambda: _train_step(variant, x, y))
            if round_number:
                variant.train_times.append(seconds)
        for variant in variants:
            seconds = _timed(lambda: _inference(variant, x))
            if round_number:
                variant.infer_times.append(seconds)

    plain = variants[0]
    plain_train, plain_infer = statistics.median(plain.train_times), statistics.median(plain.infer_times)
    header = (f"{'variant':<13}{'params':>13}{'GFLOP/img':>11}{'train ms':>11}{'x plain':>9}"
              f"{'infer ms':>11}{'x plain':>9}{'param MB x3':>13}{'saved act MB':>14}")
    print(header)
    print("-" * len(header))
    for variant in variants:
        train, infer = statistics.median(variant.train_times), statistics.median(variant.infer_times)
        params = count_parameters(variant.model)
        flops = count_flops(variant.model, (1, 3, 32, 32)) / 1e9
        activations = saved_activation_bytes(variant.model, x, y) / 2**20
        print(f"{variant.name:<13}{params:>13,}{flops:>11.3f}{train * 1e3:>11.1f}{train / plain_train:>9.2f}"
              f"{infer * 1e3:>11.1f}{infer / plain_infer:>9.2f}{3 * params * 4 / 2**20:>13.1f}{activations:>14.1f}")
    print("param MB x3: weights, gradients and SGD momentum (float32); saved act MB: the tensors autograd "
          "keeps for backward in one train step")
    by_name = {variant.name: variant for variant in variants}
    if "dynamic" in by_name and "seed_dynamic" in by_name:
        seed = statistics.median(by_name["seed_dynamic"].train_times)
        efficient = statistics.median(by_name["dynamic"].train_times)
        print(f"\nseed_dynamic / dynamic train step: {seed / efficient:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
